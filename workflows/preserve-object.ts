// preserveObject: check → download → create SIP → submit → await the service's verdict →
// confirm. One workflow per object, id `preserve:<objectId>`; each stage runs on its own task
// queue. Between stages an operator's freeze holds the object; a rejected or failed object
// waits for `custody reenqueue`, which starts a new attempt (continue-as-new).
import {
  ContinueAsNew,
  allHandlersFinished,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  uuid4,
  type ActivityOptions,
} from '@temporalio/workflow';
import ms from 'ms';
import type { createActivities } from '../activities';
import {
  AUTOMATIC_FREEZER,
  AUTO_FREEZE_TYPES,
  REENQUEUABLE_STAGES,
  TASK_QUEUES,
  freezeUpdate,
  reenqueueUpdate,
  sipProcessedSignal,
  stateQuery,
  unfreezeUpdate,
  type CustodyStep,
  type PreserveObjectInput,
  type PreserveObjectResult,
  type PreserveObjectState,
  type QueueRole,
  type Stage,
  type StageAfter,
  type StageEntry,
} from '../common/preservation';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { SA, custodyState } from '../common/search-attributes';
import type { Verdict } from '../common/sip';
import { describe, failureTypeIn, unwrap } from './kit/failures';
import { continueAsNewWhenQuiet } from './kit/continue-as-new';
import { OperatorState } from './kit/operator-state';
import { retryPolicy } from './kit/retry';
import { StageBook } from './kit/stage-book';
import { startDelivery } from './kit/delivery';
import { destinationsFor } from '../common/delivery';
import { describeWindow, msUntilOpen, type WindowedRole } from '../common/windows';

type Activities = ReturnType<typeof createActivities>;

function stageActivities(input: PreserveObjectInput, role: QueueRole, timeouts: Partial<ActivityOptions>) {
  const r = input.settings.retry[role];
  return proxyActivities<Activities>({
    taskQueue: TASK_QUEUES[role],
    retry: retryPolicy(r),
    ...timeouts,
  });
}

/** Freezing waits for the running step; these stages have no step left to stop before. */
const UNFREEZABLE: readonly Stage[] = ['confirming', 'confirmed', 'no-verdict'];

export async function preserveObject(input: PreserveObjectInput): Promise<PreserveObjectResult> {
  const { objectId, settings } = input;
  // Only when it is not storage.source: the activities' input stays what it always was.
  const from = input.source === undefined ? {} : { source: input.source };
  const attempt = input.attempt ?? 1;
  // Moving data: long start-to-close; the heartbeat timeout notices a dead worker.
  const moving = { heartbeatTimeout: settings.heartbeatTimeout };
  const { downloadObject } = stageActivities(input, 'download', { startToCloseTimeout: '2h', ...moving });
  const { createSip } = stageActivities(input, 'package', { startToCloseTimeout: '4h', ...moving });
  const { submitSip } = stageActivities(input, 'submit', { startToCloseTimeout: '2h', ...moving });
  // Short ledger and service calls without a heartbeat: a worker killed during one is noticed when
  // its start-to-close ends, so that is kept short. The check reads each file's first bytes.
  const { checkObject } = stageActivities(input, 'io', { startToCloseTimeout: '2m' });
  const { checkVerdict } = stageActivities(input, 'io', { startToCloseTimeout: '1m' });
  const { recordStage, recordFreeze } = stageActivities(input, 'io', { startToCloseTimeout: '30s' });
  // Confirming may keep a large package for delivery: time to copy it, and a heartbeat meanwhile.
  const { confirmOutcome } = stageActivities(input, 'io', { startToCloseTimeout: '2h', ...moving });

  const state: PreserveObjectState = { objectId, stage: 'queued', attempt, updatedAt: new Date().toISOString() };
  let verdict: Verdict | undefined;
  /** Who delivered the verdict: the scheduled poller's signal or this workflow's own poll. */
  let verdictVia: 'signal' | 'own-poll' | undefined;
  const book = new StageBook<Stage>(custodyState);
  // Each step records the stage it starts (and the one it ends in) in the ledger: a stage costs
  // no step of its own, yet the timeline shows every step. Runs recorded before that recorded
  // each stage with a recordStage step and upserted their identity and build id on their own.
  const stepsRecordStages = patched('steps-record-stages');
  /** Search attributes that ride in the next stage's upsert. */
  const withNextStage: SearchAttributeUpdatePair[] = [];
  /** This attempt's stages for the chain of custody, each with the build that ran its work. */
  const chain: CustodyStep[] = [];
  const ranBy = (buildId: string | undefined) => {
    const step = chain.at(-1);
    if (step && buildId) step.buildId = buildId;
  };
  const operator = new OperatorState<Stage>('queued', {
    async frozen({ reason, by }, stoppedBefore) {
      Object.assign(state, { frozenReason: reason, frozenBy: by });
      await recordFreeze.executeWithOptions({ summary: `freeze ${objectId}` }, [
        { objectId, freeze: { reason, by }, key: book.sameKey('freeze'), at: new Date().toISOString() },
      ]);
      await enterStage('frozen', { detail: { reason, by, stoppedBefore } });
    },
    async unfrozen() {
      Object.assign(state, { frozenReason: undefined, frozenBy: undefined });
      const unfreeze = { objectId, freeze: null, key: book.sameKey('unfreeze'), at: new Date().toISOString() };
      await recordFreeze.executeWithOptions({ summary: `unfreeze ${objectId}` }, [unfreeze]);
    },
  });

  setHandler(stateQuery, () => state);
  setHandler(sipProcessedSignal, (v) => {
    // A verdict for an earlier attempt's SIP is not this run's verdict; a repeat changes nothing.
    if (v.sipId !== state.sipId || verdict) return;
    verdict = v;
    verdictVia = 'signal';
  });
  operator.install({
    id: objectId,
    stage: () => state.stage,
    since: () => state.updatedAt,
    freeze: freezeUpdate,
    unfreeze: unfreezeUpdate,
    reenqueue: reenqueueUpdate,
    frozenAck: (stoppedBefore, frozenAt) => ({ objectId, stoppedBefore, frozenAt }),
    unfrozenAck: (resumes) => ({ objectId, resumes }),
    reenqueuedAck: () => ({ objectId, nextAttempt: attempt + 1 }),
    refuseFreeze: (stage) => (UNFREEZABLE.includes(stage) ? `${objectId} is ${stage}: there is no stage left to stop before` : undefined),
    refuseReenqueue: (stage) =>
      REENQUEUABLE_STAGES.includes(stage)
        ? undefined
        : `${objectId} is ${stage}, not waiting for an operator (reenqueue takes ${REENQUEUABLE_STAGES.join(', ')})`,
  });

  type StageExtra = { error?: string; detail?: unknown };

  function entry(stage: Stage, extra: StageExtra): StageEntry {
    return { stage, key: book.nextKey(stage), at: new Date().toISOString(), sipId: state.sipId, ...extra };
  }

  /** The stage where operators look: the query, the search attributes, the Web UI's details. */
  function show({ stage, at, detail }: { stage: Stage; at: string; detail?: unknown }, buildId?: string): void {
    state.stage = stage;
    state.updatedAt = at;
    const details = currentDetails(state, detail);
    chain.push({ stage, at, buildId, detail: details });
    book.show(stage, details, undefined, withNextStage.splice(0));
  }

  /** A stage with no work of its own (waiting, frozen, failed): a step records it, then it shows. */
  async function enterStage(stage: Stage, extra: StageExtra = {}): Promise<void> {
    const e = entry(stage, extra);
    // The ledger first: whoever sees such a stage in the query or the Web UI finds it in the ledger too.
    const recorded = await recordStage.executeWithOptions({ summary: `stage ${stage}: ${objectId}` }, [{ objectId, ...e }]);
    // Histories from before recordStage returned anything replay it as undefined.
    show(e, (recorded as Partial<typeof recorded> | undefined)?.buildId);
  }

  /** A stage whose work a step starts: the entry goes in that step's input (`{ stage }`). */
  async function beginStage(stage: Stage, extra: StageExtra = {}): Promise<{ stage?: StageEntry }> {
    if (!stepsRecordStages) {
      await enterStage(stage, extra);
      return {};
    }
    const e = entry(stage, extra);
    show(e);
    return { stage: e };
  }

  /** The stage a step ends in, for that step's input (`{ then }`). */
  function stageAfter(stage: Stage, extra: StageExtra = {}): { then?: StageAfter } {
    return stepsRecordStages ? { then: { stage, key: book.nextKey(stage), sipId: state.sipId, ...extra } } : {};
  }

  /** After a step given `stageAfter`: it recorded that stage, which shows from the step's time. */
  async function endedIn(step: { entered?: { stage: Stage; at: string }; buildId?: string }, stage: Stage, extra: StageExtra = {}): Promise<void> {
    if (step.entered) show({ ...step.entered, detail: extra.detail }, step.buildId);
    else await enterStage(stage, extra);
  }

  /** A new attempt from download with a new SIP id; this run stays visible in the chain. */
  async function startOver(reason: string): Promise<never> {
    return await continueAsNewWhenQuiet<typeof preserveObject>({ ...input, attempt: attempt + 1, reason });
  }

  /** Before `next`: an operator's (or an automatic) freeze holds the object here until unfreeze. */
  async function checkpoint(next: Stage): Promise<void> {
    if ((await operator.checkpoint(next)) === 'reenqueued') await startOver(`reenqueued by ${operator.reenqueueBy}`);
  }

  /**
   * Before a step on a queue with daily hours: outside them, wait until they open — one timer,
   * cut short only by a freeze or a drain, which the checkpoint then takes.
   */
  async function windowGate(role: WindowedRole, next: Stage): Promise<void> {
    const window = settings.windows?.[role];
    if (!window) return;
    for (;;) {
      const wait = msUntilOpen(Date.now(), window);
      if (wait === 0) return;
      const opensAt = new Date(Date.now() + wait).toISOString();
      state.windowOpensAt = opensAt;
      await enterStage('waiting-for-window', { detail: { role, window: describeWindow(window), opensAt, next } });
      await condition(() => operator.freezeAsked || operator.drained !== undefined, wait);
      state.windowOpensAt = undefined;
      await checkpoint(next);
    }
  }

  /** Rejected or failed: wait for reenqueue; a freeze meanwhile holds it until unfreeze. */
  async function waitForOperator(stage: 'rejected' | 'failed', error: string): Promise<never> {
    for (;;) {
      await condition(() => operator.reenqueueBy !== undefined || operator.freezeAsked);
      if (operator.reenqueueBy) return await startOver(`reenqueued by ${operator.reenqueueBy}`);
      await checkpoint(stage);
      await enterStage(stage, { error });
    }
  }

  const identity: SearchAttributeUpdatePair[] = [
    { key: SA.pipeline, value: 'preservation' },
    { key: SA.objectId, value: objectId },
    { key: SA.frozen, value: false },
  ];
  if (stepsRecordStages) withNextStage.push(...identity);
  else upsertSearchAttributes(identity);
  state.sipId = `${objectId}.a${attempt}.${uuid4().slice(0, 8)}`;

  /** What confirmOutcome recorded, with the stage it ended in. */
  let outcome: Awaited<ReturnType<Activities['confirmOutcome']>> | undefined;
  try {
    let queued = await beginStage('queued');
    for (;;) {
      await checkpoint('queued');
      const check = await checkObject.executeWithOptions({ summary: `check ${objectId}` }, [{ objectId, ...from, ...queued }]);
      queued = {};
      if (check.ready) {
        ranBy(check.buildId);
        break;
      }
      // Still being written: look again later instead of failing.
      state.deferredUntil = new Date(Date.now() + check.deferMs).toISOString();
      await enterStage('deferred', { detail: { reason: check.reason, until: state.deferredUntil } });
      await condition(() => operator.freezeAsked, check.deferMs);
    }
    state.deferredUntil = undefined;

    await checkpoint('downloading');
    await windowGate('download', 'downloading');
    const downloading = await beginStage('downloading');
    const downloaded = await downloadObject.executeWithOptions({ summary: `download ${objectId}` }, [
      { objectId, sipId: state.sipId, ...from, ...downloading },
    ]);
    ranBy(downloaded.buildId);

    await checkpoint('packaging');
    await windowGate('package', 'packaging');
    const packaging = await beginStage('packaging');
    const sip = await createSip.executeWithOptions({ summary: `create SIP ${state.sipId}` }, [
      { objectId, sipId: state.sipId, attempt, workPrefix: downloaded.workPrefix, ...packaging },
    ]);
    state.buildId = sip.buildId;
    ranBy(sip.buildId);
    const built: SearchAttributeUpdatePair = { key: SA.buildId, value: sip.buildId };
    if (stepsRecordStages) withNextStage.push(built);
    else upsertSearchAttributes([built]);

    await checkpoint('submitting');
    await windowGate('submit', 'submitting');
    const submitting = await beginStage('submitting');
    const submitted = await submitSip.executeWithOptions({ summary: `submit SIP ${sip.sipId}` }, [
      { objectId, sipId: sip.sipId, tarKey: sip.tarKey, size: sip.tarSize, sha256: sip.tarSha256, ...submitting, ...stageAfter('awaiting-verdict') },
    ]);
    ranBy((submitted as Partial<typeof submitted> | undefined)?.buildId);

    await endedIn(submitted ?? {}, 'awaiting-verdict');
    verdict = await awaitVerdict(state.sipId);
    if (!verdict) {
      state.lastError = `no verdict for SIP ${state.sipId} within ${settings.verdict.deadline}`;
      await enterStage('no-verdict', { error: state.lastError });
      operator.finish(`${objectId} is no-verdict: there is no stage left to stop before`);
      await condition(allHandlersFinished);
      return { objectId, stage: 'no-verdict', sipId: state.sipId };
    }
    state.verdict = verdict;

    await checkpoint('confirming');
    const confirming = await beginStage('confirming', { detail: { verdict: verdict.status, via: verdictVia } });
    // A package that will be delivered is kept: the working copy goes at confirm.
    const keepPackage = verdict.status === 'accepted' && destinationsFor(settings.delivery, 'preservation', objectId).length > 0;
    const confirm: Parameters<Activities['confirmOutcome']>[0] = {
      objectId,
      sipId: state.sipId,
      workPrefix: downloaded.workPrefix,
      verdict,
      ...(keepPackage ? { keepPackage } : {}),
      ...confirming,
      ...(verdict.status === 'accepted' ? stageAfter('confirmed') : stageAfter('rejected', rejection(verdict))),
    };
    // Runs recorded before the chain of custody existed replay without it (test/replay.test.ts);
    // every run whose steps record their stages is newer, and needs no second patch marker.
    if (verdict.status === 'accepted' && (stepsRecordStages || patched('chain-of-custody'))) confirm.chain = chain;
    outcome = await confirmOutcome.executeWithOptions({ summary: `confirm ${verdict.status} verdict on SIP ${state.sipId}` }, [confirm]);
  } catch (error) {
    // A new attempt (reenqueue while frozen) and a cancellation are not failures of this run.
    if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
    const failure = unwrap(error);
    state.lastError = describe(failure);
    state.lastErrorStack = failure instanceof Error ? failure.stack : undefined;
    if (failureTypeIn(failure, AUTO_FREEZE_TYPES)) {
      // A cause no retry can fix: freeze with the reason; after the source is fixed and the
      // object unfrozen, it starts again from the check.
      operator.freezeFor(state.lastError, AUTOMATIC_FREEZER);
      await checkpoint('queued');
      return await startOver(`unfrozen after: ${state.lastError}`);
    }
    await enterStage('failed', { error: state.lastError, detail: { stack: state.lastErrorStack } });
    return await waitForOperator('failed', state.lastError);
  }

  if (verdict.status === 'accepted') {
    // A freeze accepted while the confirmation was under way has no checkpoint left to take it.
    operator.finish(`${objectId} is confirmed: there is no stage left to stop before`);
    await endedIn(outcome ?? {}, 'confirmed');
    // A delivery is new work: while drained it starts at resume.
    await operator.drainGate('delivery', true);
    await startDelivery(
      settings.delivery,
      'preservation',
      { itemId: objectId, storage: 'packages', prefix: `${objectId}/${state.sipId}`, as: objectId },
      'custody',
    );
    await condition(allHandlersFinished);
    return { objectId, stage: 'confirmed', sipId: state.sipId, verdict };
  }
  const rejected = rejection(verdict);
  state.lastError = rejected.error;
  await endedIn(outcome ?? {}, 'rejected', rejected);
  return await waitForOperator('rejected', rejected.error);

  /**
   * The scheduled poller normally signals the verdict. In case a signal is missed, ask the
   * service every pollAfter; give up at the deadline. A freeze meanwhile holds the object.
   */
  async function awaitVerdict(sipId: string): Promise<Verdict | undefined> {
    const deadline = Date.now() + ms(settings.verdict.deadline);
    const pollAfter = ms(settings.verdict.pollAfter);
    while (!verdict) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      const woken = await condition(() => verdict !== undefined || operator.freezeAsked, Math.min(pollAfter, left));
      if (operator.freezeAsked) {
        await checkpoint('awaiting-verdict');
        await enterStage('awaiting-verdict');
        continue;
      }
      if (!woken) {
        // Drained: the poll is a new step; the resumed poller's signal may make it unneeded.
        await operator.drainGate('asking the service');
        if (operator.freezeAsked || verdict) continue;
        const polled = (await checkVerdict.executeWithOptions({ summary: `ask the service for the verdict on SIP ${sipId}` }, [{ sipId }])) ?? undefined;
        // The poller's signal may have landed while this poll was under way.
        if (polled && !verdict) {
          verdict = polled;
          verdictVia = 'own-poll';
        }
      }
    }
    return verdict;
  }
}

function rejection(verdict: Verdict): { error: string; detail: { reasons: string[] } } {
  return { error: verdict.reasons.join('; '), detail: { reasons: verdict.reasons } };
}

/** The Web UI's "current details": what the object waits for, or why it stopped. */
function currentDetails(state: PreserveObjectState, detail: unknown): string {
  const sip = `SIP ${state.sipId ?? '(none yet)'}`;
  switch (state.stage) {
    case 'queued':
      return `queued: checking ${state.objectId} (attempt ${state.attempt})`;
    case 'deferred':
      return `deferred until ${state.deferredUntil ?? '?'}: ${(detail as { reason?: string } | undefined)?.reason ?? ''}`;
    case 'waiting-for-window': {
      const d = detail as { role?: string; window?: string } | undefined;
      return `waiting for window: ${d?.role ?? '?'} runs ${d?.window ?? '?'}, opens at ${state.windowOpensAt ?? '?'}`;
    }
    case 'downloading':
      return `downloading ${state.objectId}`;
    case 'packaging':
      return `creating ${sip}`;
    case 'submitting':
      return `submitting ${sip}`;
    case 'awaiting-verdict':
      return `waiting for the service's verdict on ${sip}`;
    case 'confirming':
      return `confirming the service's verdict on ${sip}`;
    case 'confirmed':
      return `confirmed: ${sip}`;
    case 'rejected':
      return `rejected: ${state.lastError ?? ''} — waiting for reenqueue or freeze`;
    case 'frozen':
      return `frozen: ${state.frozenReason ?? ''} (by ${state.frozenBy ?? '?'}) — waiting for unfreeze or reenqueue`;
    case 'failed':
      return `failed: ${state.lastError ?? ''} — waiting for reenqueue`;
    case 'no-verdict':
      return `no verdict: ${state.lastError ?? ''} — waiting for reenqueue`;
  }
}
