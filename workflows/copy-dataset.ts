// copyDataset: one entity workflow per dataset and copy type, id `copy:<dataset>:<type>`, fed
// versions by signal-with-start. Versions are copied strictly in order: one that arrives early
// waits for its predecessor; one at or below the copied version is recorded and skipped.
// Each version: check → prepare the deposition (a new version of the previous one's) → upload
// → (approval) → publish.
import { ContinueAsNew, condition, isCancellation, proxyActivities, setHandler, type ActivityOptions } from '@temporalio/workflow';
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
import { continueAsNewUnlessWorkArrives } from './kit/continue-as-new';
import { describe, failureTypeIn, unwrap } from './kit/failures';
import { retryPolicy } from './kit/retry';
import { Reenqueued, VersionLane, ignoreReenqueue } from './kit/version-lane';

type Activities = ReturnType<typeof createActivities>;

function queueActivities(input: CopyDatasetInput, role: CopyQueueRole, timeouts: Partial<ActivityOptions>) {
  return proxyActivities<Activities>({ taskQueue: COPY_TASK_QUEUES[role], retry: retryPolicy(input.settings.retry[role]), ...timeouts });
}

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
  let current: CopyRequest | undefined;
  const lane = new VersionLane<CopyStage>({
    id: copyId,
    state,
    stateOf: copyCustodyState,
    idle: () => !current,
    waitingMessage,
    record: (e, summary) => recordCopyEvent.executeWithOptions({ summary }, [{ copyId, ...e }]),
  });
  const { operator } = lane;

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
    if (state.stage === 'waiting' && !current) lane.describeNow(waitingMessage());
  });
  lane.installDecisions({
    approve: copyApproveUpdate,
    reject: copyRejectUpdate,
    approvable: ['awaiting-approval'],
    rejectable: ['awaiting-approval', 'failed', 'rejected'],
    approvedAck: (version) => ({ copyId, version }),
    rejectedAck: (version) => ({ copyId, version }),
  });
  lane.installOperator({
    freeze: copyFreezeUpdate,
    unfreeze: copyUnfreezeUpdate,
    reenqueue: copyReenqueueUpdate,
    waiting: 'a version',
    frozenAck: (stoppedBefore, frozenAt) => ({ copyId, stoppedBefore, frozenAt }),
    unfrozenAck: (resumes) => ({ copyId, resumes }),
    reenqueuedAck: () => ({ copyId, version: state.current?.version ?? 0 }),
  });
  await lane.start('copy');

  for (;;) {
    await condition(() => nextVersion() !== undefined || versionsThisRun >= settings.continueAsNewAfter || operator.freezeAsked);
    if (operator.freezeAsked) {
      await lane.checkpoint('waiting').catch(ignoreReenqueue);
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
      await lane.enterStage('waiting', waitingMessage());
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
      await lane.event('skipped', `skipped v${request.version}: ${reason}`, { version: request.version, detail: { reason, by: request.by } });
      return;
    }
    for (;;) {
      runs[request.version] = (runs[request.version] ?? 0) + 1;
      const mode = request.mode ?? settings.defaultMode;
      state.current = { version: request.version, run: runs[request.version]!, mode };
      lane.startRun();
      try {
        await copyOne(request, mode);
        return;
      } catch (error) {
        if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
        if (error instanceof Reenqueued) continue;
        if (error instanceof VersionRejected) return await lane.recordRejection(request.version);
        const failure = unwrap(error);
        const message = describe(failure);
        if (failureTypeIn(failure, COPY_FREEZE_TYPES)) {
          // A cause no retry can fix (a guard, a digest that does not match): held with the reason;
          // after the source is fixed, unfreeze runs the version again from the check.
          state.lastError = message;
          operator.freezeFor(message, AUTOMATIC_FREEZER);
          await lane.checkpoint('checking').catch(ignoreReenqueue);
          continue;
        }
        const next = await lane.waitForOperator('failed', message);
        if (next === 'skip') return await lane.recordRejection(request.version);
        await lane.event('reenqueued', `v${request.version} reenqueued by ${operator.reenqueueBy}`, { version: request.version });
      }
    }
  }

  async function copyOne(request: CopyRequest, mode: 'automatic' | 'preview'): Promise<void> {
    const job = { copyId, datasetId, type, version: request.version };
    await lane.checkpoint('checking');
    await lane.enterStage('checking', `checking ${type} of ${datasetId} v${request.version}`);
    const checked = await checkCopyVersion.executeWithOptions({ summary: `check ${copyId} v${request.version}` }, [job]);

    await lane.checkpoint('preparing');
    const previous = state.copied?.depositionId;
    await lane.enterStage('preparing', `preparing the deposition of v${request.version}${previous ? ` (a new version of deposition ${previous})` : ''}`);
    const deposition = await prepareDeposition.executeWithOptions({ summary: `deposition for ${copyId} v${request.version}` }, [
      { ...job, previousDepositionId: previous },
    ]);
    state.current!.depositionId = deposition.depositionId;

    await lane.checkpoint('uploading');
    await lane.enterStage('uploading', `uploading ${checked.files} files (${checked.totalBytes} bytes) into deposition ${deposition.depositionId}`);
    const upload = await uploadCopyFiles.executeWithOptions({ summary: `upload ${copyId} v${request.version}` }, [
      { ...job, depositionId: deposition.depositionId, bucketUrl: deposition.bucketUrl },
    ]);

    if (mode === 'preview') {
      await lane.enterStage('awaiting-approval', `v${request.version} is uploaded to deposition ${deposition.depositionId}; waiting for approval`, upload);
      for (;;) {
        await condition(() => lane.approval !== undefined || lane.rejection !== undefined || operator.freezeAsked);
        if (lane.rejection) throw new VersionRejected();
        if (lane.approval) break;
        await lane.checkpoint('awaiting-approval');
        await lane.enterStage('awaiting-approval', `v${request.version} is uploaded to deposition ${deposition.depositionId}; waiting for approval`);
      }
    } else lane.approval = { version: request.version, by: 'custody (automatic mode)' };

    await lane.checkpoint('publishing');
    await lane.enterStage('publishing', `publishing deposition ${deposition.depositionId} (v${request.version})`);
    const published = await publishDeposition.executeWithOptions({ summary: `publish ${copyId} v${request.version}` }, [
      { ...job, depositionId: deposition.depositionId },
    ]);
    state.copied = { version: request.version, depositionId: deposition.depositionId, recordId: published.recordId, doi: published.doi, at: published.at };
    await lane.enterStage('copied', `copied v${request.version}: deposition ${deposition.depositionId}${published.doi ? `, DOI ${published.doi}` : ''}`, {
      ...upload,
      approvedBy: lane.approval!.by,
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
