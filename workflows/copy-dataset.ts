// copyDataset: one entity workflow per dataset and copy type, id `copy:<dataset>:<type>`, fed
// versions by signal-with-start. Versions are copied strictly in order: one that arrives early
// waits for its predecessor; one at or below the copied version is recorded and skipped.
// Each version: check → prepare the deposition (a new version of the previous one's) → upload
// → (approval) → publish.
import {
  ContinueAsNew,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  COPY_FREEZE_TYPES,
  COPY_TASK_QUEUES,
  copyApproveUpdate,
  copyFreezeUpdate,
  copyReenqueueUpdate,
  copyRejectUpdate,
  copyRequestSignal,
  copyStateQuery,
  copyUnfreezeUpdate,
  copyWorkflowId,
  type CopyDatasetInput,
  type CopyQueueRole,
  type CopyRequest,
  type CopyStage,
  type CopyState,
} from '../common/copies';
import { AUTOMATIC_FREEZER } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { continueAsNewUnlessWorkArrives } from './kit/continue-as-new';
import { describe, failureTypeIn, unwrap } from './kit/failures';
import { OperatorState } from './kit/operator-state';
import { retryPolicy } from './kit/retry';
import { StageBook } from './kit/stage-book';

type Activities = ReturnType<typeof createActivities>;

function queueActivities(input: CopyDatasetInput, role: CopyQueueRole, timeouts: Partial<ActivityOptions>) {
  return proxyActivities<Activities>({ taskQueue: COPY_TASK_QUEUES[role], retry: retryPolicy(input.settings.retry[role]), ...timeouts });
}

/** Thrown inside a version's run when an operator reenqueued it while it was frozen. */
class Reenqueued extends Error {}
class VersionRejected extends Error {}

export async function copyDataset(input: CopyDatasetInput): Promise<CopyState> {
  const { datasetId, type, settings } = input;
  const copyId = copyWorkflowId(datasetId, type);
  const moving = { heartbeatTimeout: settings.heartbeatTimeout };
  const { checkCopyVersion, uploadCopyFiles } = queueActivities(input, 'upload', { startToCloseTimeout: '4h', ...moving });
  // Deposit API calls: a killed worker is noticed by the heartbeat timeout, not after 10 minutes.
  const { prepareDeposition, publishDeposition } = queueActivities(input, 'io', { startToCloseTimeout: '10m', ...moving });
  // One ledger write (milliseconds) and no heartbeat: a worker killed during it is noticed only when
  // this runs out, so it is short; a ledger that is down is waited for by the retry policy instead.
  const { recordCopyEvent } = queueActivities(input, 'io', { startToCloseTimeout: '30s' });

  const carried = input.carried ?? { pending: [], runs: {} };
  const pending: CopyRequest[] = [...carried.pending];
  const runs: Record<number, number> = { ...carried.runs };
  const state: CopyState = { datasetId, type, stage: 'waiting', copied: carried.copied, pending: [], updatedAt: new Date().toISOString() };
  let versionsThisRun = 0;
  let approval: { version: number; by: string } | undefined;
  let rejection: { version: number; reason: string; by: string } | undefined;
  let current: CopyRequest | undefined;
  const book = new StageBook<CopyStage>(copyCustodyState);
  const operator = new OperatorState<CopyStage>('waiting', {
    async frozen({ reason, by }, stoppedBefore) {
      Object.assign(state, { frozenReason: reason, frozenBy: by });
      await enterStage('frozen', `frozen: ${reason} (by ${by}) — waiting for unfreeze or reenqueue`, { reason, by, stoppedBefore });
    },
    async unfrozen(resumes) {
      Object.assign(state, { frozenReason: undefined, frozenBy: undefined });
      await event('unfrozen', `unfrozen, continuing at ${resumes}`, { version: state.current?.version });
    },
  });

  const refreshPending = () => {
    pending.sort((a, b) => a.version - b.version);
    state.pending = pending.map((p) => p.version);
  };
  refreshPending();

  setHandler(copyStateQuery, () => state);
  setHandler(copyRequestSignal, (request) => {
    // The same version asked for twice (copy run again) counts once.
    if (pending.some((p) => p.version === request.version) || current?.version === request.version) return;
    pending.push(request);
    refreshPending();
    if (state.stage === 'waiting' && !current) describeNow(waitingMessage());
  });
  setHandler(
    copyApproveUpdate,
    (request) => {
      const version = request.version ?? state.current!.version;
      approval = { version, by: request.by };
      return { copyId, version };
    },
    {
      validator: (request) => {
        if (state.stage !== 'awaiting-approval' || !state.current) throw new Error(`${copyId} has no version waiting for approval (it is ${state.stage})`);
        if (request.version !== undefined && request.version !== state.current.version)
          throw new Error(`${copyId} v${request.version} is not waiting for approval; v${state.current.version} is`);
      },
    },
  );
  setHandler(
    copyRejectUpdate,
    (request) => {
      const version = request.version ?? state.current!.version;
      rejection = { version, reason: request.reason, by: request.by };
      return { copyId, version };
    },
    {
      validator: (request) => {
        if (!request.reason.trim()) throw new Error('a rejection needs a reason');
        if (!['awaiting-approval', 'failed', 'rejected'].includes(state.stage) || !state.current)
          throw new Error(`${copyId} has no version waiting for a decision (it is ${state.stage})`);
        if (request.version !== undefined && request.version !== state.current.version)
          throw new Error(`${copyId} v${request.version} is not waiting for a decision; v${state.current.version} is`);
      },
    },
  );
  operator.install({
    id: copyId,
    stage: () => state.stage,
    since: () => state.updatedAt,
    freeze: copyFreezeUpdate,
    unfreeze: copyUnfreezeUpdate,
    reenqueue: copyReenqueueUpdate,
    frozenAck: (stoppedBefore, frozenAt) => ({ copyId, stoppedBefore, frozenAt }),
    unfrozenAck: (resumes) => ({ copyId, resumes }),
    reenqueuedAck: () => ({ copyId, version: state.current?.version ?? 0 }),
    refuseReenqueue: (stage) =>
      ['rejected', 'failed', 'frozen'].includes(stage) && state.current ? undefined : `${copyId} is ${stage}, not a version waiting for an operator`,
  });

  async function event(kind: string, message: string, extra: { version?: number; stage?: CopyStage; detail?: unknown } = {}): Promise<string | undefined> {
    const at = new Date().toISOString();
    const key = book.nextKey(kind);
    const recorded = await recordCopyEvent.executeWithOptions({ summary: `${kind}: ${copyId}${extra.version ? ` v${extra.version}` : ''}` }, [
      { copyId, kind, message, version: extra.version, stage: extra.stage, detail: extra.detail, at, key },
    ]);
    state.updatedAt = at;
    // Histories from before the result carried the build replay it as undefined.
    return (recorded as Partial<typeof recorded> | undefined)?.buildId;
  }

  async function enterStage(stage: CopyStage, message: string, detail?: unknown): Promise<void> {
    const buildId = await event('stage', message, { version: state.current?.version, stage, detail });
    state.stage = stage;
    state.details = stage === 'waiting' && !current ? waitingMessage() : message;
    book.show(stage, state.details, buildId);
  }

  function describeNow(message: string): void {
    state.details = message;
    setCurrentDetails(message);
  }

  async function checkpoint(next: CopyStage): Promise<void> {
    if ((await operator.checkpoint(next)) === 'reenqueued') throw new Reenqueued();
  }

  /** Failed: wait for reenqueue (a new run of the version) or reject (skip it). */
  async function waitForOperator(error: string): Promise<'again' | 'skip'> {
    state.lastError = error;
    for (;;) {
      await enterStage('failed', `failed: ${error} — waiting for reenqueue, reject or freeze`, { error });
      await condition(() => operator.reenqueueBy !== undefined || rejection !== undefined || operator.freezeAsked);
      if (operator.reenqueueBy) return 'again';
      if (rejection) return 'skip';
      try {
        await checkpoint('failed');
      } catch (e) {
        if (e instanceof Reenqueued) return 'again';
        throw e;
      }
    }
  }

  upsertSearchAttributes([
    { key: SA.pipeline, value: 'copy' },
    { key: SA.objectId, value: copyId },
    { key: SA.frozen, value: false },
  ]);
  await enterStage('waiting', waitingMessage());

  for (;;) {
    await condition(() => nextVersion() !== undefined || versionsThisRun >= settings.continueAsNewAfter || operator.freezeAsked);
    if (operator.freezeAsked) {
      await checkpoint('waiting').catch((e: unknown) => {
        if (!(e instanceof Reenqueued)) throw e;
      });
      continue;
    }
    const request = nextVersion();
    if (request) {
      pending.splice(pending.indexOf(request), 1);
      refreshPending();
      current = request;
      await handleVersion(request);
      versionsThisRun++;
      current = undefined;
      state.current = undefined;
      await enterStage('waiting', waitingMessage());
      continue;
    }
    await continueAsNewUnlessWorkArrives<typeof copyDataset>(
      () => operator.freezeAsked || nextVersion() !== undefined,
      () => [{ datasetId, type, settings, carried: { copied: state.copied, pending, runs } }],
    );
  }

  /** A stale version (to record and skip) or the copied version's successor. */
  function nextVersion(): CopyRequest | undefined {
    const copied = state.copied?.version ?? 0;
    return pending.find((p) => p.version <= copied) ?? pending.find((p) => p.version === copied + 1);
  }

  function waitingMessage(): string {
    const first = pending[0];
    const expected = (state.copied?.version ?? 0) + 1;
    if (first) return `waiting for v${expected} of ${copyId} before v${first.version}`;
    return state.copied
      ? `copied v${state.copied.version} (deposition ${state.copied.depositionId}); waiting for the next version`
      : `waiting for a version of ${copyId}`;
  }

  async function handleVersion(request: CopyRequest): Promise<void> {
    const copied = state.copied?.version ?? 0;
    if (request.version <= copied) {
      const reason = request.version === copied ? `v${request.version} is already copied` : `v${request.version} is older than the copied v${copied}`;
      await event('skipped', `skipped v${request.version}: ${reason}`, { version: request.version, detail: { reason, by: request.by } });
      return;
    }
    for (;;) {
      runs[request.version] = (runs[request.version] ?? 0) + 1;
      const mode = request.mode ?? settings.defaultMode;
      state.current = { version: request.version, run: runs[request.version]!, mode };
      approval = undefined;
      rejection = undefined;
      operator.reenqueueBy = undefined;
      state.lastError = undefined;
      try {
        await copyOne(request, mode);
        return;
      } catch (error) {
        if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
        if (error instanceof Reenqueued) continue;
        if (error instanceof VersionRejected) return await recordRejection(request.version);
        const failure = unwrap(error);
        const message = describe(failure);
        if (failureTypeIn(failure, COPY_FREEZE_TYPES)) {
          // A cause no retry can fix (a guard, a digest that does not match): held with the reason;
          // after the source is fixed, unfreeze runs the version again from the check.
          state.lastError = message;
          operator.freezeFor(message, AUTOMATIC_FREEZER);
          try {
            await checkpoint('checking');
          } catch (e) {
            if (!(e instanceof Reenqueued)) throw e;
          }
          continue;
        }
        const next = await waitForOperator(message);
        if (next === 'skip') return await recordRejection(request.version);
        await event('reenqueued', `v${request.version} reenqueued by ${operator.reenqueueBy}`, { version: request.version });
      }
    }
  }

  async function recordRejection(version: number): Promise<void> {
    const r = rejection as { reason: string; by: string } | undefined;
    await event('rejected', `v${version} rejected by ${r?.by}: ${r?.reason}`, { version, detail: r });
  }

  async function copyOne(request: CopyRequest, mode: 'automatic' | 'preview'): Promise<void> {
    const job = { copyId, datasetId, type, version: request.version };
    await checkpoint('checking');
    await enterStage('checking', `checking ${type} of ${datasetId} v${request.version}`);
    const checked = await checkCopyVersion.executeWithOptions({ summary: `check ${copyId} v${request.version}` }, [job]);

    await checkpoint('preparing');
    const previous = state.copied?.depositionId;
    await enterStage('preparing', `preparing the deposition of v${request.version}${previous ? ` (a new version of deposition ${previous})` : ''}`);
    const deposition = await prepareDeposition.executeWithOptions({ summary: `deposition for ${copyId} v${request.version}` }, [
      { ...job, previousDepositionId: previous },
    ]);
    state.current!.depositionId = deposition.depositionId;

    await checkpoint('uploading');
    await enterStage('uploading', `uploading ${checked.files} files (${checked.totalBytes} bytes) into deposition ${deposition.depositionId}`);
    const upload = await uploadCopyFiles.executeWithOptions({ summary: `upload ${copyId} v${request.version}` }, [
      { ...job, depositionId: deposition.depositionId, bucketUrl: deposition.bucketUrl },
    ]);

    if (mode === 'preview') {
      await enterStage('awaiting-approval', `v${request.version} is uploaded to deposition ${deposition.depositionId}; waiting for approval`, upload);
      for (;;) {
        await condition(() => approval !== undefined || rejection !== undefined || operator.freezeAsked);
        if (rejection) throw new VersionRejected();
        if (approval) break;
        await checkpoint('awaiting-approval');
        await enterStage('awaiting-approval', `v${request.version} is uploaded to deposition ${deposition.depositionId}; waiting for approval`);
      }
    } else approval = { version: request.version, by: 'custody (automatic mode)' };

    await checkpoint('publishing');
    await enterStage('publishing', `publishing deposition ${deposition.depositionId} (v${request.version})`);
    const published = await publishDeposition.executeWithOptions({ summary: `publish ${copyId} v${request.version}` }, [
      { ...job, depositionId: deposition.depositionId },
    ]);
    state.copied = { version: request.version, depositionId: deposition.depositionId, recordId: published.recordId, doi: published.doi, at: published.at };
    await enterStage('copied', `copied v${request.version}: deposition ${deposition.depositionId}${published.doi ? `, DOI ${published.doi}` : ''}`, {
      ...upload,
      approvedBy: approval!.by,
      doi: published.doi,
    });
  }
}

function copyCustodyState(stage: CopyStage): string {
  switch (stage) {
    case 'waiting':
      return 'queued';
    case 'awaiting-approval':
      return 'waiting-approval';
    case 'copied':
      return 'copied';
    case 'rejected':
    case 'frozen':
    case 'failed':
      return stage;
    default:
      return 'running';
  }
}
