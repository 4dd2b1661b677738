// The activities of the preservation pipeline (the preserveObject workflow, one object from
// check to confirmed), built by a factory that receives their clients (ledger, source,
// preservation service, storages) so tests can hand in their own.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { CustodyStep, DownloadedObject, EnteredStage, FreezeRequest, ObjectCheck, Stage, StageAfter, StageEntry } from '../common/preservation';
import { PermanentError } from '../common/errors';
import type { ObjectMetadata } from '../common/object-metadata';
import type { SipBuildResult, Verdict } from '../common/sip';
import type { DownloadedFile } from '../sources';
import { joinKey } from '../storage';
import { getJson, putBytes, putJson } from '../storage/small-objects';
import { buildSip } from '../sip/build-sip';
import { buildChainOfCustody } from '../sip/premis';
import { IDENTIFY_SAMPLE_BYTES, identifyFormat } from '../sip/identify-format';
import { MAX_LOCAL_PATH_BYTES, MAX_S3_KEY_BYTES, checkPayloadNames } from '../sip/payload-paths';
import ms from 'ms';
import { buildId, custodyVersion } from '../config/build-id';
import { heartbeat, mapLibraryErrors, workflowClockNow, type ActivityDeps } from './shared';

/** What download leaves beside the payload for the packaging stage, which checks each file's SHA-256. */
interface DownloadRecord {
  metadata: ObjectMetadata;
  files: DownloadedFile[];
}

// What the bookkeeping steps did, as their result: a step that returns nothing shows in the Web UI as an opaque binary/null payload.
export interface RecordedStage {
  objectId: string;
  stage: Stage;
  at: string;
  /** The recording worker's build: the chain of custody's agent for a stage with no work of its own. */
  buildId?: string;
}
export interface RecordedFreeze {
  objectId: string;
  frozen: boolean;
  at: string;
}

export type CreatedSip = Omit<SipBuildResult, 'files' | 'tarPath'> & { tarKey: string; buildId: string };

export function createPreservationActivities({ config, ledger, source, sourceNamed, service, work, reports, packages }: ActivityDeps) {
  const sourceOf = (name?: string) => (name === undefined ? source : sourceNamed(name));
  // This worker's own disk, for the files one step needs locally; emptied when the step ends.
  const scratchRoot = path.join(config.dataDir, 'scratch');

  const { guards } = config;
  const refuse = (objectId: string, problem: string, type: string) => new PermanentError(`object "${objectId}": ${problem}`, type);

  /**
   * Bytes a payload path may take so that every working copy of it fits: under this worker's
   * scratch folder and under the working storage (a local path, or an S3 key).
   */
  const payloadPathRoom = (objectId: string): number => {
    // The longest SIP id an attempt can have (`<objectId>.a<attempt>.<8 hex>`) and the longest scratch folder.
    const sipId = `${objectId}.a99999.00000000`;
    const scratch = Buffer.byteLength(path.resolve(scratchRoot, `${sipId}.package`, 'payload')) + 1;
    const workUrl = work.urlOf(joinKey(objectId, sipId, 'payload'));
    const workRoom = workUrl.startsWith('s3://')
      ? MAX_S3_KEY_BYTES - Buffer.byteLength(workUrl.slice(workUrl.indexOf('/', 's3://'.length) + 1)) - 1
      : MAX_LOCAL_PATH_BYTES - Buffer.byteLength(workUrl) - 1;
    return Math.min(MAX_LOCAL_PATH_BYTES - scratch, workRoom);
  };

  /**
   * The object's chain of custody as PREMIS beside the service's report: the workflow's stages,
   * the service's verdict and the confirmation, each with the build that ran it. A retry writes
   * the same document: the confirmation's time is the one the ledger kept first.
   */
  const writeChainOfCustody = async (objectId: string, sipId: string, verdict: Verdict, chain: CustodyStep[]): Promise<string> => {
    const confirmed = (await ledger.timeline(objectId)).find((e) => e.key === `confirmed:${sipId}`);
    const steps: CustodyStep[] = [
      // Confirming is this activity's own work; its outcome is the verdict it recorded.
      ...chain.map((s) => (s.stage === 'confirming' ? { ...s, buildId: buildId(), outcome: verdict.status } : s)),
      { stage: 'confirmed', at: confirmed?.at ?? new Date().toISOString(), buildId: buildId(), outcome: 'success', detail: `preserved as SIP ${sipId}` },
    ];
    const key = joinKey(objectId, `${sipId}.chain-of-custody.premis.xml`);
    await putBytes(reports, key, buildChainOfCustody({ objectId, sipId, steps }));
    return reports.urlOf(key);
  };

  /** Keep the object's timeline in the ledger, independent of Temporal's history retention. */
  const recordEntry = (objectId: string, e: StageEntry): Promise<void> =>
    ledger.setState(objectId, e.stage, { key: e.key, at: e.at, sipId: e.sipId, error: e.error, detail: e.detail });
  /** The stage a step enters when its work is done, at that moment on the workflow's clock. */
  const recordAfter = async (objectId: string, after: StageAfter | undefined): Promise<{ entered?: EnteredStage }> => {
    if (!after) return {};
    const at = workflowClockNow();
    await recordEntry(objectId, { ...after, at });
    return { entered: { stage: after.stage, at } };
  };

  return mapLibraryErrors({
    /**
     * Before any work: the object must be describable, within the size guards, of accepted
     * formats, and settled (not still being written). Problems no retry fixes freeze the object.
     */
    async checkObject({ objectId, source: name, stage }: { objectId: string; source?: string; stage?: StageEntry }): Promise<ObjectCheck> {
      if (stage) await recordEntry(objectId, stage);
      const { files, lastChangedAt, heads } = await sourceOf(name).inspect(objectId, IDENTIFY_SAMPLE_BYTES);
      try {
        checkPayloadNames(
          files.map((f) => f.path),
          payloadPathRoom(objectId),
        );
      } catch (e) {
        if (e instanceof PermanentError) throw refuse(objectId, e.message, e.type);
        throw e;
      }
      const payloadBytes = files.reduce((n, f) => n + f.size, 0);
      if (payloadBytes > guards.maxObjectBytes)
        throw refuse(objectId, `holds ${payloadBytes} bytes, over the limit of ${guards.maxObjectBytes} (guards.maxObjectBytes)`, 'ObjectTooLarge');
      if (files.length > guards.maxFiles)
        throw refuse(objectId, `holds ${files.length} files, over the limit of ${guards.maxFiles} (guards.maxFiles)`, 'TooManyFiles');
      const empty = files.find((f) => f.size === 0);
      if (empty && !guards.allowZeroLengthFiles)
        throw refuse(objectId, `file ${empty.path} is empty (zero-length files are not allowed: guards.allowZeroLengthFiles)`, 'ZeroLengthFile');
      if (config.sip.acceptedFormats) {
        for (const f of files) {
          const { mimeType } = identifyFormat(heads.get(f.path) ?? Buffer.alloc(0), f.path);
          if (!config.sip.acceptedFormats.includes(mimeType))
            throw refuse(objectId, `file ${f.path} is ${mimeType}, which is not on the accepted list (sip.acceptedFormats)`, 'UnsupportedFormat');
        }
      }
      const settledAt = Date.parse(lastChangedAt) + ms(guards.settleTime);
      if (settledAt > Date.now()) {
        return {
          ready: false,
          deferMs: settledAt - Date.now(),
          reason: `files changed at ${lastChangedAt}, within guards.settleTime (${guards.settleTime}): still being written?`,
        };
      }
      return { ready: true, payloadBytes, payloadFiles: files.length, buildId: buildId() };
    },

    /** Keep the ledger's freeze flag in step with the workflow: enqueue skips frozen objects. */
    async recordFreeze({ objectId, freeze, key, at }: { objectId: string; freeze: FreezeRequest | null; key: string; at: string }): Promise<RecordedFreeze> {
      await ledger.setFrozen(objectId, freeze, { key, at });
      return { objectId, frozen: freeze !== null, at };
    },

    /** Copy the object's metadata and files from the source into this SIP's working storage. */
    async downloadObject({
      objectId,
      sipId,
      source: name,
      stage,
    }: {
      objectId: string;
      sipId: string;
      source?: string;
      stage?: StageEntry;
    }): Promise<DownloadedObject> {
      if (stage) await recordEntry(objectId, stage);
      // Each attempt (SIP id) has its own prefix: a re-run never overwrites another run's files.
      const workPrefix = joinKey(objectId, sipId);
      const scratch = path.join(scratchRoot, `${sipId}.download`);
      try {
        const { metadata, files } = await sourceOf(name).download(objectId, scratch, (done, total) =>
          heartbeat({ step: 'download', bytesDone: done, bytesTotal: total }),
        );
        const total = files.reduce((n, f) => n + f.size, 0);
        let stored = 0;
        for (const f of files) {
          const local = path.join(scratch, ...f.path.split('/'));
          await work.putFile(joinKey(workPrefix, 'payload', f.path), local, {
            size: f.size,
            sha256: f.sha256,
            onProgress: (bytes) => heartbeat({ step: 'store', bytesDone: stored + bytes, bytesTotal: total }),
          });
          stored += f.size;
        }
        await putJson(work, joinKey(workPrefix, 'download.json'), { metadata, files } satisfies DownloadRecord);
        await ledger.upsertObject({ id: objectId, title: metadata.title, sourceModifiedAt: metadata.modifiedAt });
        return { workPrefix, title: metadata.title, payloadBytes: total, payloadFiles: files.length, buildId: buildId() };
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    },

    /** Build the BagIt SIP (METS + PREMIS inside) as one tar, in one streaming pass, and keep it in working storage. */
    async createSip({
      objectId,
      sipId,
      attempt,
      workPrefix,
      stage,
    }: {
      objectId: string;
      sipId: string;
      attempt: number;
      workPrefix: string;
      stage?: StageEntry;
    }): Promise<CreatedSip> {
      if (stage) await recordEntry(objectId, stage);
      const resultKey = joinKey(workPrefix, 'sip.json');
      const done = await getJson<CreatedSip>(work, resultKey);
      if (done) return done; // a retry after the SIP was stored: it is already there
      const record = await getJson<DownloadRecord>(work, joinKey(workPrefix, 'download.json'));
      if (!record) throw new Error(`${work.urlOf(workPrefix)} has no download.json: the download stage did not finish there`);
      // The packaging worker need not share a disk with the download worker: fetch the payload, verified.
      const scratch = path.join(scratchRoot, `${sipId}.package`);
      try {
        const total = record.files.reduce((n, f) => n + f.size, 0);
        let fetched = 0;
        for (const f of record.files) {
          await work.getFile(joinKey(workPrefix, 'payload', f.path), path.join(scratch, 'payload', ...f.path.split('/')), {
            sha256: f.sha256,
            onProgress: (bytes) => heartbeat({ step: 'fetch', bytesDone: fetched + bytes, bytesTotal: total }),
          });
          fetched += f.size;
        }
        const built = await buildSip({
          sipId,
          objectId,
          sourceDir: path.join(scratch, 'payload'),
          files: record.files,
          metadata: record.metadata,
          algorithms: config.sip.algorithms,
          sourceOrganization: config.organization,
          agent: { name: 'custody', version: `${custodyVersion()} (build ${buildId()})` },
          outputPath: path.join(scratch, `${sipId}.tar`),
          now: new Date(),
          onProgress: (bytesDone, bytesTotal) => heartbeat({ step: 'build', bytesDone, bytesTotal }),
        });
        const tarKey = joinKey(workPrefix, `${sipId}.tar`);
        await work.putFile(tarKey, built.tarPath, {
          size: built.tarSize,
          sha256: built.tarSha256,
          onProgress: (bytesDone) => heartbeat({ step: 'store', bytesDone, bytesTotal: built.tarSize }),
        });
        // The per-file list stays in the METS: workflow payloads carry only the summary.
        const result: CreatedSip = {
          sipId: built.sipId,
          tarKey,
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
        await putJson(work, resultKey, result);
        return result;
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    },

    /** Hand the SIP to the preservation service; submitting the same SIP twice is one submission. */
    async submitSip({
      objectId,
      sipId,
      tarKey,
      size,
      sha256,
      stage,
      then,
    }: {
      objectId: string;
      sipId: string;
      tarKey: string;
      size: number;
      sha256: string;
      stage?: StageEntry;
      /** Submitted: the stage of waiting for the verdict. */
      then?: StageAfter;
    }): Promise<{ alreadySubmitted: boolean; buildId: string; entered?: EnteredStage }> {
      if (stage) await recordEntry(objectId, stage);
      const outcome = await service.submit({ sipId, sha256, size, open: () => work.read(tarKey) }, (bytes) =>
        heartbeat({ bytesDone: bytes, bytesTotal: size }),
      );
      await ledger.recordEvent({
        key: `submitted:${sipId}`,
        objectId,
        sipId,
        kind: 'submitted',
        detail: { sha256, alreadySubmitted: outcome.alreadySubmitted },
        at: new Date().toISOString(),
      });
      return { ...outcome, buildId: buildId(), ...(await recordAfter(objectId, then)) };
    },

    /** The workflow's own poll, in case the scheduled poller's signal was missed. */
    async checkVerdict({ sipId }: { sipId: string }): Promise<Verdict | null> {
      return service.verdict(sipId);
    },

    /** Record the outcome, archive the service's report, delete the working files. */
    async confirmOutcome({
      objectId,
      sipId,
      workPrefix,
      verdict,
      keepPackage,
      chain,
      stage,
      then,
    }: {
      objectId: string;
      sipId: string;
      workPrefix: string;
      verdict: Verdict;
      /** Delivery will send the package: it is kept under packages before the working copy goes. */
      keepPackage?: boolean;
      /** The workflow's stages so far, for the chain of custody written beside the report of an accepted SIP. */
      chain?: CustodyStep[];
      stage?: StageEntry;
      /** Confirmed or rejected, once the outcome is recorded. */
      then?: StageAfter;
    }): Promise<{ report: string; kept?: string; chainOfCustody?: string; entered?: EnteredStage }> {
      if (stage) await recordEntry(objectId, stage);
      const reportKey = joinKey(objectId, `${sipId}.xml`);
      await putBytes(reports, reportKey, Buffer.from(await service.report(sipId), 'utf8'));
      const report = reports.urlOf(reportKey);
      await ledger.recordVerdict({ sipId, status: verdict.status, decidedAt: verdict.decidedAt, reasons: verdict.reasons, reportPath: report });
      if (verdict.status === 'accepted') await ledger.markPreserved(objectId, sipId, new Date().toISOString());
      const chainOfCustody = chain && verdict.status === 'accepted' ? await writeChainOfCustody(objectId, sipId, verdict, chain) : undefined;
      let kept: string | undefined;
      if (keepPackage && verdict.status === 'accepted') {
        const pkg = await ledger.getPackage(sipId);
        if (!pkg) throw new Error(`no package ${sipId} in the ledger to keep`);
        const key = joinKey(objectId, sipId, `${sipId}.tar`);
        // A retry after the working copy is gone finds the kept one already in place.
        if (!(await packages.head(key))) {
          await packages.put(key, () => work.read(joinKey(workPrefix, `${sipId}.tar`)), {
            size: pkg.size,
            sha256: pkg.sha256,
            onProgress: (bytes) => heartbeat({ kept: bytes }),
          });
        }
        kept = packages.urlOf(key);
      }
      // The verdict and report are recorded: this attempt's working files have served their purpose.
      await work.remove(`${workPrefix}/`);
      return { report, ...(kept ? { kept } : {}), ...(chainOfCustody ? { chainOfCustody } : {}), ...(await recordAfter(objectId, then)) };
    },

    /** A stage with no step of its own to record it (waiting, frozen, failed). */
    async recordStage(s: StageEntry & { objectId: string }): Promise<RecordedStage> {
      await recordEntry(s.objectId, s);
      return { objectId: s.objectId, stage: s.stage, at: s.at, buildId: buildId() };
    },
  });
}
