// custody's side of the preservation service: hand over a SIP, ask for verdicts and reports.
// The reference service takes transfers from a folder or bucket and answers over HTTP, like the
// national service it is modelled on (SFTP transfer + REST reports).
import type { Readable } from 'node:stream';
import { PermanentError } from '../common/errors';
import { z } from 'zod';
import type { Verdict } from '../common/sip';
import type { Storage } from '../storage';

export interface SubmittedSip {
  sipId: string;
  sha256: string;
  size: number;
  /** Opens the tar for reading; not called when nothing needs sending. */
  open: () => Promise<Readable>;
}

export interface PreservationService {
  /**
   * Hand a SIP to the service as `<sipId>.tar` in its transfer location. Idempotent: when the
   * service already has the SIP, or the transfer is there with the same sha256, nothing is sent.
   * The storage verifies the bytes it stored; onProgress gets the bytes sent so far.
   */
  submit(sip: SubmittedSip, onProgress?: (bytes: number) => void): Promise<{ alreadySubmitted: boolean }>;
  /** The verdict for one SIP, or null while it is pending or unknown. */
  verdict(sipId: string): Promise<Verdict | null>;
  /** Verdicts decided after `since` (exclusive), oldest first. */
  verdictsSince(since: Date): Promise<Verdict[]>;
  /** A report's XML, to archive it. */
  report(sipId: string): Promise<string>;
  /** Every SIP the service has received, decided or not (`custody reconcile` compares them with the ledger). */
  submissions(): Promise<ServiceSubmission[]>;
}

export interface ServiceSubmission {
  sipId: string;
  sha256: string;
  /** Bytes of the SIP the service keeps, when the service says. */
  size?: number;
  firstReceivedAt: string;
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

export function referencePreservationService(opts: { url: string; transfer: Storage }): PreservationService {
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
      throw new PermanentError(`preservation service at ${opts.url} refused ${url}: ${res.status} ${body}`, type);
    }
    return res;
  }

  async function status(sipId: string) {
    const res = await get(`${api}/status/${encodeURIComponent(sipId)}`);
    return statusSchema.parse(await res.json());
  }

  return {
    async submit({ sipId, sha256, size, open }, onProgress) {
      // The SIP id becomes a name in the transfer location: it must not lead out of it.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(sipId)) {
        throw new PermanentError(`SIP id ${JSON.stringify(sipId)} is not a plain file name (letters, digits, . _ -)`, 'UnsafePath');
      }
      // Other bytes under a known SIP id are sent all the same: the service rejects them as a conflict in a report.
      if ((await status(sipId)).sha256 === sha256) return { alreadySubmitted: true };
      // A retry after the transfer landed but before the service took it in sends nothing again.
      const { skipped } = await opts.transfer.put(`${sipId}.tar`, open, { size, sha256, onProgress });
      return { alreadySubmitted: skipped };
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

    async submissions() {
      const res = await get(`${api}/submissions`);
      const submission = z.object({ sipId: z.string(), sha256: z.string(), size: z.number().int().optional(), firstReceivedAt: z.string() });
      return z.object({ data: z.array(submission) }).parse(await res.json()).data;
    },
  };
}
