// The activities of the preservation pipeline, built by a factory that receives their
// clients (ledger, source, preservation service) so tests can hand in their own.
import fs from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import type { Config } from '../config/config';
import type { DownloadedObject, FreezeRequest, ObjectCheck, Stage } from '../common/preservation';
import type { ObjectMetadata, SourceFile } from '../common/object-metadata';
import type { SipBuildResult, Verdict } from '../common/sip';
import type { Ledger } from './ledger';
import type { ObjectSource } from './source';
import type { PreservationService } from './service/preservation-service';
import { buildSip } from './sip/build-sip';
import { IDENTIFY_SAMPLE_BYTES, identifyFormat } from './sip/identify-format';
import { ApplicationFailure } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import { buildId, custodyVersion } from './build-id';

export interface ActivityDeps {
  config: Config;
  ledger: Ledger;
  source: ObjectSource;
  service: PreservationService;
}

/** What download leaves beside the payload for the packaging stage. */
interface DownloadRecord {
  metadata: ObjectMetadata;
  files: SourceFile[];
}

export type CreatedSip = Omit<SipBuildResult, 'files'> & { buildId: string };

const heartbeat = (details: unknown) => Context.current().heartbeat(details);

async function writeJsonAtomically(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify(value, null, 2));
  await fs.rename(tmp, file);
}

async function readJsonIfPresent<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export function createActivities({ config, ledger, source, service }: ActivityDeps) {
  const workRoot = path.join(config.dataDir, 'work');
  const reportsRoot = path.join(config.dataDir, 'reports');

  const { guards } = config;
  const refuse = (objectId: string, problem: string, type: string) => ApplicationFailure.nonRetryable(`object "${objectId}": ${problem}`, type);

  return {
    /**
     * Before any work: the object must be describable, within the size guards, of accepted
     * formats, and settled (not still being written). Problems no retry fixes freeze the object.
     */
    async checkObject({ objectId }: { objectId: string }): Promise<ObjectCheck> {
      const { files, lastChangedAt, heads } = await source.inspect(objectId, IDENTIFY_SAMPLE_BYTES);
      const payloadBytes = files.reduce((n, f) => n + f.size, 0);
      if (payloadBytes > guards.maxObjectBytes) throw refuse(objectId, `holds ${payloadBytes} bytes, over the limit of ${guards.maxObjectBytes} (guards.maxObjectBytes)`, 'ObjectTooLarge');
      if (files.length > guards.maxFiles) throw refuse(objectId, `holds ${files.length} files, over the limit of ${guards.maxFiles} (guards.maxFiles)`, 'TooManyFiles');
      const empty = files.find((f) => f.size === 0);
      if (empty && !guards.allowZeroLengthFiles) throw refuse(objectId, `file ${empty.path} is empty (zero-length files are not allowed: guards.allowZeroLengthFiles)`, 'ZeroLengthFile');
      if (config.sip.acceptedFormats) {
        for (const f of files) {
          const { mimeType } = identifyFormat(heads.get(f.path) ?? Buffer.alloc(0), f.path);
          if (!config.sip.acceptedFormats.includes(mimeType)) throw refuse(objectId, `file ${f.path} is ${mimeType}, which is not on the accepted list (sip.acceptedFormats)`, 'UnsupportedFormat');
        }
      }
      const settledAt = Date.parse(lastChangedAt) + msToNumber(guards.settleTime as never);
      if (settledAt > Date.now()) {
        return { ready: false, deferMs: settledAt - Date.now(), reason: `files changed at ${lastChangedAt}, within guards.settleTime (${guards.settleTime}): still being written?` };
      }
      return { ready: true, payloadBytes, payloadFiles: files.length };
    },

    /** Keep the ledger's freeze flag in step with the workflow: enqueue skips frozen objects. */
    async recordFreeze({ objectId, freeze, key, at }: { objectId: string; freeze: FreezeRequest | null; key: string; at: string }): Promise<void> {
      await ledger.setFrozen(objectId, freeze, { key, at });
    },

    /** Copy the object's metadata and files from the source into this SIP's working folder. */
    async downloadObject({ objectId, sipId }: { objectId: string; sipId: string }): Promise<DownloadedObject> {
      // Each attempt (SIP id) has its own folder: a re-run never overwrites another run's files.
      const workDir = path.join(workRoot, objectId, sipId);
      const payloadDir = path.join(workDir, 'payload');
      await fs.mkdir(payloadDir, { recursive: true });
      const { metadata, files } = await source.download(objectId, payloadDir, (done, total) =>
        heartbeat({ bytesDone: done, bytesTotal: total }),
      );
      await writeJsonAtomically(path.join(workDir, 'download.json'), { metadata, files } satisfies DownloadRecord);
      await ledger.upsertObject({ id: objectId, title: metadata.title, sourceModifiedAt: metadata.modifiedAt });
      return {
        workDir,
        title: metadata.title,
        payloadBytes: files.reduce((n, f) => n + f.size, 0),
        payloadFiles: files.length,
        buildId: buildId(),
      };
    },

    /** Build the BagIt SIP (METS + PREMIS inside) as one tar, in one streaming pass. */
    async createSip({ objectId, sipId, attempt, workDir }: { objectId: string; sipId: string; attempt: number; workDir: string }): Promise<CreatedSip> {
      const resultFile = path.join(workDir, 'sip.json');
      const done = await readJsonIfPresent<CreatedSip>(resultFile);
      if (done) return done; // a retry after the build finished: the tar is already there
      const record = await readJsonIfPresent<DownloadRecord>(path.join(workDir, 'download.json'));
      if (!record) throw new Error(`working folder ${workDir} has no download.json: the download stage did not finish here`);
      const built = await buildSip({
        sipId,
        objectId,
        sourceDir: path.join(workDir, 'payload'),
        files: record.files,
        metadata: record.metadata,
        algorithms: config.sip.algorithms,
        sourceOrganization: config.organization,
        agent: { name: 'custody', version: `${custodyVersion()} (build ${buildId()})` },
        outputPath: path.join(workDir, `${sipId}.tar`),
        now: new Date(),
        onProgress: (bytesDone, bytesTotal) => heartbeat({ bytesDone, bytesTotal }),
      });
      // The per-file list stays in the METS: workflow payloads carry only the summary.
      const result: CreatedSip = {
        sipId: built.sipId,
        tarPath: built.tarPath,
        tarSize: built.tarSize,
        tarSha256: built.tarSha256,
        payloadBytes: built.payloadBytes,
        payloadFiles: built.payloadFiles,
        buildId: buildId(),
      };
      await ledger.recordPackage({
        sipId,
        objectId,
        attempt,
        sha256: built.tarSha256,
        size: built.tarSize,
        payloadBytes: built.payloadBytes,
        payloadFiles: built.payloadFiles,
        createdAt: new Date().toISOString(),
      });
      await writeJsonAtomically(resultFile, result);
      return result;
    },

    /** Hand the SIP to the preservation service; submitting the same SIP twice is one submission. */
    async submitSip({ objectId, sipId, tarPath, sha256 }: { objectId: string; sipId: string; tarPath: string; sha256: string }): Promise<{ alreadySubmitted: boolean }> {
      const outcome = await service.submit({ sipId, tarPath, sha256 }, (bytes) => heartbeat({ bytesDone: bytes }));
      await ledger.recordEvent({
        key: `submitted:${sipId}`,
        objectId,
        sipId,
        kind: 'submitted',
        detail: { sha256, alreadySubmitted: outcome.alreadySubmitted },
        at: new Date().toISOString(),
      });
      return outcome;
    },

    /** The workflow's own poll, in case the scheduled poller's signal was missed. */
    async checkVerdict({ sipId }: { sipId: string }): Promise<Verdict | null> {
      return service.verdict(sipId);
    },

    /** Record the outcome, archive the service's report, delete the working files. */
    async confirmOutcome({ objectId, sipId, workDir, verdict }: { objectId: string; sipId: string; workDir: string; verdict: Verdict }): Promise<{ reportPath: string }> {
      const reportDir = path.join(reportsRoot, objectId);
      const reportPath = path.join(reportDir, `${sipId}.xml`);
      await fs.mkdir(reportDir, { recursive: true });
      const tmp = `${reportPath}.tmp`;
      await fs.writeFile(tmp, await service.report(sipId));
      await fs.rename(tmp, reportPath);
      await ledger.recordVerdict({ sipId, status: verdict.status, decidedAt: verdict.decidedAt, reasons: verdict.reasons, reportPath });
      if (verdict.status === 'accepted') await ledger.markPreserved(objectId, sipId, new Date().toISOString());
      await fs.rm(workDir, { recursive: true, force: true });
      await fs.rmdir(path.dirname(workDir)).catch(() => undefined); // the object's folder, if no other attempt uses it
      return { reportPath };
    },

    /** Keep the object's timeline in the ledger, independent of Temporal's history retention. */
    async recordStage(s: { objectId: string; stage: Stage; sipId?: string; at: string; key: string; error?: string; detail?: unknown }): Promise<void> {
      await ledger.setState(s.objectId, s.stage, { key: s.key, at: s.at, sipId: s.sipId, error: s.error, detail: s.detail });
    },

    /** Verdicts decided after `since`, with the object each SIP belongs to; SIPs custody did not make are left out. */
    async verdictsSince({ since }: { since: string }): Promise<Array<{ objectId: string; verdict: Verdict }>> {
      const verdicts = await service.verdictsSince(new Date(since));
      const found: Array<{ objectId: string; verdict: Verdict }> = [];
      for (const verdict of verdicts) {
        const pkg = await ledger.getPackage(verdict.sipId);
        if (pkg) found.push({ objectId: pkg.objectId, verdict });
      }
      return found;
    },
  };
}
