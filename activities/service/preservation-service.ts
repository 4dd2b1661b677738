// custody's side of the preservation service: hand over a SIP, ask for verdicts and reports.
// The reference service takes transfers from a folder and answers over HTTP, like the
// national service it is modelled on (SFTP transfer + REST reports).
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { Verdict } from '../../common/sip';

export interface PreservationService {
  /**
   * Hand a SIP to the service. Idempotent: when `<transferDir>/<sipId>.tar` exists or the service
   * already has the SIP with the same sha256, nothing is sent. Otherwise the tar is streamed to
   * `<sipId>.tar.part`, fsynced and renamed into place; onProgress gets the bytes copied so far.
   */
  submit(sip: { sipId: string; tarPath: string; sha256: string }, onProgress?: (bytes: number) => void): Promise<{ alreadySubmitted: boolean }>;
  /** The verdict for one SIP, or null while it is pending or unknown. */
  verdict(sipId: string): Promise<Verdict | null>;
  /** Verdicts decided after `since` (exclusive), oldest first. */
  verdictsSince(since: Date): Promise<Verdict[]>;
  /** A report's XML, to archive it. */
  report(sipId: string): Promise<string>;
}

const verdictSchema = z.object({
  sipId: z.string(),
  status: z.enum(['accepted', 'rejected']),
  decidedAt: z.string(),
  reasons: z.array(z.string()),
  reportUrl: z.string(),
});
const statusSchema = z.union([
  verdictSchema.extend({ sha256: z.string() }),
  z.object({ sipId: z.string(), status: z.enum(['unknown', 'received', 'validating']), sha256: z.string().optional() }),
]);

const REQUEST_TIMEOUT_MS = 30_000;

export function referencePreservationService(opts: { url: string; transferDir: string }): PreservationService {
  const api = `${opts.url.replace(/\/$/, '')}/api/2.0/ingest`;

  async function get(url: string): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
      // Refused, reset or timed out: the service may come back, so this one retries.
      throw new Error(`preservation service at ${opts.url} did not answer ${url}: ${(e as Error).cause ?? (e as Error).message}`);
    }
    if (res.status >= 500) throw new Error(`preservation service at ${opts.url} answered ${res.status} to ${url}`);
    if (res.status >= 400) {
      const body = await res.text();
      const type = res.status === 404 ? 'ServiceResourceNotFound' : 'ServiceRequestRefused';
      throw ApplicationFailure.nonRetryable(`preservation service at ${opts.url} refused ${url}: ${res.status} ${body}`, type);
    }
    return res;
  }

  async function status(sipId: string) {
    const res = await get(`${api}/status/${encodeURIComponent(sipId)}`);
    return statusSchema.parse(await res.json());
  }

  return {
    async submit({ sipId, tarPath, sha256 }, onProgress) {
      // The SIP id becomes a file name in the transfer folder: it must not lead out of it.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(sipId)) {
        throw ApplicationFailure.nonRetryable(`SIP id ${JSON.stringify(sipId)} is not a plain file name (letters, digits, . _ -)`, 'UnsafePath');
      }
      const target = path.join(opts.transferDir, `${sipId}.tar`);
      if (fs.existsSync(target)) return { alreadySubmitted: true };
      // Other bytes under a known SIP id are sent all the same: the service rejects them as a conflict in a report.
      if ((await status(sipId)).sha256 === sha256) return { alreadySubmitted: true };
      await fsp.mkdir(opts.transferDir, { recursive: true });
      const part = `${target}.part`;
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      await pipeline(
        fs.createReadStream(tarPath),
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            hash.update(chunk);
            bytes += chunk.length;
            onProgress?.(bytes);
            done(null, chunk);
          },
        }),
        fs.createWriteStream(part),
      );
      // The bytes sent must be the SIP that was built: a disk error in between is caught here.
      const sent = hash.digest('hex');
      if (sent !== sha256) {
        await fsp.rm(part, { force: true });
        throw new Error(`SIP ${sipId}: ${tarPath} has sha256 ${sent}, not the ${sha256} it was built with`);
      }
      const fd = await fsp.open(part, 'r');
      await fd.sync();
      await fd.close();
      await fsp.rename(part, target);
      return { alreadySubmitted: false };
    },

    async verdict(sipId) {
      const s = await status(sipId);
      return s.status === 'accepted' || s.status === 'rejected' ? verdictSchema.parse(s) : null;
    },

    async verdictsSince(since) {
      const res = await get(`${api}/reports?since=${encodeURIComponent(since.toISOString())}`);
      return z.object({ data: z.array(verdictSchema) }).parse(await res.json()).data;
    },

    async report(sipId) {
      return (await get(`${api}/report/${encodeURIComponent(sipId)}`)).text();
    },
  };
}
