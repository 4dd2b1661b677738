// The repository-copy pipeline's activities: check a dataset version (guards, digests into the
// ledger), prepare its deposition (new, or a new version of the previous one), upload its files
// with both digests checked, publish. Each is idempotent through the ledger and the deposit API's
// own listing: a retried step finds what an earlier attempt did and goes on from there.
import { Context } from '@temporalio/activity';
import type { CopyStage, CopyType } from '../common/copies';
import { PermanentError } from '../common/errors';
import { digestFile, listDatasetVersion, readDatasetMetadata } from '../datasets/dataset-version';
import { DepositRefused, type DepositClient, type DepositLogEntry } from '../deposits';
import type { DepositLogRow } from '../ledger';
import { buildId } from '../config/build-id';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

export interface CopyJob {
  copyId: string;
  datasetId: string;
  type: CopyType;
  version: number;
}

/** The API's refusal (a 4xx other than rate limiting) as the failure type the workflow stops on. */
function refusal(e: unknown): unknown {
  if (e instanceof DepositRefused) return new PermanentError(`the deposit API refused ${e.request}: ${e.message}`, 'DepositRefused');
  return e;
}

export function createCopyActivities(deps: ActivityDeps) {
  const { config, ledger, datasets } = deps;

  /**
   * A deposit client whose every request goes into the copy's log (secrets already redacted by the
   * client). A call may wait out the API's Retry-After: the shared keep-alive heartbeats meanwhile.
   */
  async function withClient<T>(copyId: string, use: (client: DepositClient) => Promise<T>): Promise<T> {
    const writes: Array<Promise<void>> = [];
    const attempt = Context.current().info.attempt;
    const client = deps.deposit((entry: DepositLogEntry) => {
      const row: DepositLogRow = {
        at: entry.at,
        method: entry.method,
        url: entry.url,
        status: entry.status ?? null,
        ms: entry.ms,
        attempt: entry.attempt,
        error: entry.error ?? null,
        detail: { activityAttempt: attempt, request: entry.request, response: entry.response },
      };
      writes.push(ledger.copies.log(copyId, row).catch(() => undefined));
    });
    try {
      return await use(client);
    } catch (e) {
      throw refusal(e);
    } finally {
      await Promise.all(writes);
    }
  }

  const activities = {
    /** Guards first (nothing read), then each file's SHA-256 and MD5 into the ledger. */
    async checkCopyVersion(job: CopyJob): Promise<{ files: number; totalBytes: number; title: string }> {
      const listed = await listDatasetVersion(datasets, job.datasetId, job.version, job.type, config.copies.guards);
      const files = [];
      let done = 0;
      for (const f of listed.files) {
        const d = await digestFile(datasets, f.key, (bytes) => heartbeat({ file: f.name, bytes, done }));
        if (d.size !== f.size) throw new PermanentError(`${f.key} changed while it was read (${f.size} bytes listed, ${d.size} read)`, 'CopyGuard');
        files.push({ name: f.name, size: f.size, sha256: d.sha256, md5: d.md5 });
        done++;
      }
      await ledger.copies.recordFiles(job.copyId, job.version, files);
      await ledger.copies.setVersion(job.copyId, job.version, { state: 'checked', updatedAt: new Date().toISOString() });
      return { files: files.length, totalBytes: listed.totalBytes, title: listed.metadata.title };
    },

    /**
     * The version's deposition: the one the ledger already names (a retry), else a new version
     * of the previous version's deposition, else a new deposition. Recorded the moment it exists.
     */
    async prepareDeposition(job: CopyJob & { previousDepositionId?: number }): Promise<{ depositionId: number; bucketUrl: string; reused: boolean }> {
      // The files were listed and checked by checkCopyVersion; the deposit needs only the metadata.
      const metadata = await readDatasetMetadata(datasets, job.datasetId, job.version);
      return await withClient(job.copyId, async (client) => {
        const known = await ledger.copies.version(job.copyId, job.version);
        let deposition;
        let reused = false;
        if (known?.depositionId) {
          deposition = await client.getDeposition(known.depositionId);
          reused = true;
        } else {
          deposition = job.previousDepositionId ? await client.newVersion(job.previousDepositionId) : await client.createDeposition();
          await ledger.copies.setVersion(job.copyId, job.version, { state: 'prepared', depositionId: deposition.id, updatedAt: new Date().toISOString() });
        }
        if (!deposition.submitted) deposition = await client.updateMetadata(deposition.id, { ...metadata });
        const bucketUrl = deposition.links.bucket;
        // Published already (a retry after publishing): there is nothing to upload into, and the publish step finds it done.
        if (!bucketUrl && !deposition.submitted) throw new Error(`deposition ${deposition.id} has no bucket link to upload into`);
        return { depositionId: deposition.id, bucketUrl: bucketUrl ?? '', reused };
      });
    },

    /**
     * Every file of the version into the deposition: one already there with the ledger's MD5 is
     * kept (a killed attempt's finished files), others are replaced, and files the version does
     * not have (inherited by a new version) are removed. Each upload must give back the ledger's
     * digests, from the API and from the bytes sent, or the copy stops with the three values.
     */
    async uploadCopyFiles(
      job: CopyJob & { depositionId: number; bucketUrl: string },
    ): Promise<{ uploaded: number; kept: number; removed: number; bytes: number }> {
      // A deposition published by an earlier run of this version: its files are final.
      if (!job.bucketUrl) return { uploaded: 0, kept: 0, removed: 0, bytes: 0 };
      const expected = await ledger.copies.files(job.copyId, job.version);
      const prefix = `${job.datasetId}/v${job.version}/${job.type}/`;
      return await withClient(job.copyId, async (client) => {
        const remote = await client.listFiles(job.depositionId);
        let removed = 0;
        for (const r of remote) {
          const want = expected.find((f) => f.name === r.filename);
          if (want && want.md5 === r.checksum && want.size === r.filesize) continue;
          await client.deleteFile(job.depositionId, r.id);
          removed++;
        }
        let uploaded = 0;
        let kept = 0;
        let bytes = 0;
        for (const f of expected) {
          if (remote.some((r) => r.filename === f.name && r.checksum === f.md5 && r.filesize === f.size)) {
            kept++;
            continue;
          }
          const sent = await client.uploadFile(
            job.bucketUrl,
            f.name,
            () => datasets.read(prefix + f.name),
            f.size,
            (b) => heartbeat({ file: f.name, bytes: b, uploaded }),
          );
          if (sent.remoteMd5 !== f.md5 || sent.md5 !== f.md5 || sent.sha256 !== f.sha256) {
            throw new PermanentError(
              `${f.name}: the deposit API reports md5 ${sent.remoteMd5}, custody sent md5 ${sent.md5} (sha256 ${sent.sha256}), the ledger recorded md5 ${f.md5} (sha256 ${f.sha256}) when the version was checked`,
              'ChecksumMismatch',
            );
          }
          uploaded++;
          bytes += f.size;
        }
        await ledger.copies.setVersion(job.copyId, job.version, { state: 'uploaded', updatedAt: new Date().toISOString() });
        return { uploaded, kept, removed, bytes };
      });
    },

    /** Publishes once: a deposition the API already shows as published is taken as it is. */
    async publishDeposition(job: CopyJob & { depositionId: number }): Promise<{ recordId?: number; doi?: string; at: string }> {
      return await withClient(job.copyId, async (client) => {
        const current = await client.getDeposition(job.depositionId);
        const published = current.submitted ? current : await client.publish(job.depositionId);
        const at = new Date().toISOString();
        await ledger.copies.setVersion(job.copyId, job.version, {
          state: 'published',
          recordId: published.record_id ?? null,
          doi: published.doi ?? null,
          updatedAt: at,
        });
        return { recordId: published.record_id ?? undefined, doi: published.doi ?? undefined, at };
      });
    },

    /** One event in the copy's ledger timeline (stages, skips, rejections). */
    async recordCopyEvent(e: {
      copyId: string;
      kind: string;
      message: string;
      version?: number;
      stage?: CopyStage;
      detail?: unknown;
      at: string;
      key: string;
    }) {
      await ledger.recordEvent({
        key: e.key,
        objectId: e.copyId,
        kind: e.kind === 'stage' ? `copy-${e.stage}` : `copy-${e.kind}`,
        detail: { message: e.message, version: e.version, detail: e.detail },
        at: e.at,
      });
      return { copyId: e.copyId, kind: e.kind, at: e.at, buildId: buildId() };
    },
  };
  return mapLibraryErrors(activities);
}
