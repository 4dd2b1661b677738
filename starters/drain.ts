// `custody drain` and `custody resume`: a maintenance stop without hand work. Drain records the
// flag in the ledger (starters then hold new work instead of starting it), pauses the custody
// schedules that were running and signals every running pipeline to start no new step; what is
// still running is listed until nothing is. Resume unpauses those schedules, signals the
// pipelines on and starts the held work (deterministic workflow ids make a repeat harmless).
import { ScheduleNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DRAINABLE_WORKFLOW_TYPES, drainSignal, resumeSignal } from '../common/drain';
import type { ArticlePackage } from '../common/articles';
import type { Config } from '../config/config';
import type { DrainState, HeldWork, Ledger } from '../ledger';
import { forEachConcurrently } from '../common/concurrently';
import { sendArticlePackage } from '../activities/article-packages';
import { SCHEDULE_IDS } from './schedules';
import { startPreservation } from './enqueue';
import { sendCopyRequest } from './copies';
import type { CopyRequest } from '../common/copies';
import { UserError } from './user-error';
import { iso as isoOf } from './dates';

/** Describes and signals at once: enough to hide round trips, few enough not to flood the server. */
const CONCURRENCY = 16;

export interface RunningStep {
  workflowId: string;
  workflowType: string;
  /** Activities running now or about to start (scheduled for a first attempt). */
  activities: Array<{ name: string; attempt: number }>;
  /** Activities between attempts (a destination that is down): safe to stop, they go on after. */
  retrying: Array<{ name: string; attempt: number; nextAttemptAt: string | null }>;
}

/** PendingActivityState SCHEDULED (temporal.api.enums.v1): not running, a worker has not taken it. */
const SCHEDULED = 1;

interface Run {
  workflowId: string;
  runId: string;
  type: string;
}

async function runningWorkflows(client: Client): Promise<Run[]> {
  const runs: Run[] = [];
  for await (const w of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) runs.push({ workflowId: w.workflowId, runId: w.runId, type: w.type });
  return runs;
}

const drainable = (r: Run) => (DRAINABLE_WORKFLOW_TYPES as readonly string[]).includes(r.type);

/** Signals each run once (a signal to a run that has just ended is not an error here). */
async function signalRuns(runs: Run[], send: (r: Run) => Promise<void>): Promise<number> {
  let sent = 0;
  await forEachConcurrently(runs, CONCURRENCY, async (r) => {
    try {
      await send(r);
      sent++;
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
    }
  });
  return sent;
}

export interface DrainOutcome {
  state: DrainState;
  /** Drained already before this command: only the signals were sent again. */
  already: boolean;
  paused: string[];
}

export async function drain(deps: { client: Client; ledger: Ledger }, o: { by: string; reason: string; at?: Date }): Promise<DrainOutcome> {
  const { client, ledger } = deps;
  const before = await ledger.drain.state();
  // The flag first: from here on the starters hold what they would start.
  const state = await ledger.drain.set({ since: (o.at ?? new Date()).toISOString(), by: o.by, reason: o.reason });
  const paused: string[] = [];
  for (const id of SCHEDULE_IDS) {
    const handle = client.schedule.getHandle(id);
    try {
      if ((await handle.describe()).state.paused) continue;
      await handle.pause(`drained by ${o.by}: ${o.reason}`);
      paused.push(id);
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
  state.pausedSchedules = [...state.pausedSchedules, ...paused];
  await ledger.drain.setPausedSchedules(state.pausedSchedules);
  return { state, already: before !== undefined, paused };
}

/**
 * One round of the drain: signals the pipelines not signalled yet (a run started or continued
 * as new since the last round is a new run) and lists the workflows with a step still running.
 */
export async function drainRound(client: Client, request: { by: string; reason: string }, signalled: Set<string>): Promise<RunningStep[]> {
  const runs = await runningWorkflows(client);
  const toSignal = runs.filter((r) => drainable(r) && !signalled.has(r.runId));
  await signalRuns(toSignal, async (r) => {
    await client.workflow.getHandle(r.workflowId, r.runId).signal(drainSignal, request);
    signalled.add(r.runId);
  });
  const busy: RunningStep[] = [];
  await forEachConcurrently(runs, CONCURRENCY, async (r) => {
    let pending;
    try {
      pending = (await client.workflow.getHandle(r.workflowId, r.runId).describe()).raw.pendingActivities ?? [];
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return;
      throw e;
    }
    if (!pending.length) return;
    const name = (a: (typeof pending)[number]) => a.activityType?.name ?? '(unknown activity)';
    const between = (a: (typeof pending)[number]) => a.state === SCHEDULED && (a.attempt ?? 1) > 1;
    busy.push({
      workflowId: r.workflowId,
      workflowType: r.type,
      activities: pending.filter((a) => !between(a)).map((a) => ({ name: name(a), attempt: a.attempt ?? 1 })),
      retrying: pending.filter(between).map((a) => ({ name: name(a), attempt: a.attempt ?? 1, nextAttemptAt: isoOf(a.nextAttemptScheduleTime) })),
    });
  });
  return busy.sort((a, b) => (a.workflowId < b.workflowId ? -1 : a.workflowId > b.workflowId ? 1 : 0));
}

export interface ResumeOutcome {
  drained: DrainState | undefined;
  unpaused: string[];
  signalled: number;
  started: Array<{ kind: HeldWork['kind']; itemId: string; action: string }>;
}

export async function resume(deps: { client: Client; ledger: Ledger; config: Config }, o: { by: string }): Promise<ResumeOutcome> {
  const { client, ledger, config } = deps;
  const drained = await ledger.drain.state();
  const held = await ledger.drain.held();
  if (!drained && !held.length) throw new UserError('not drained: nothing to resume (custody drain stops new work)');
  const unpaused: string[] = [];
  for (const id of drained?.pausedSchedules ?? []) {
    try {
      await client.schedule.getHandle(id).unpause(`resumed by ${o.by}`);
      unpaused.push(id);
    } catch (e) {
      if (!(e instanceof ScheduleNotFoundError)) throw e;
    }
  }
  const runs = (await runningWorkflows(client)).filter(drainable);
  const signalled = await signalRuns(runs, (r) => client.workflow.getHandle(r.workflowId, r.runId).signal(resumeSignal, { by: o.by }));
  // Cleared before the held work starts (the starters would hold it again); a resume cut short
  // here leaves held rows, which the next resume starts.
  await ledger.drain.clear();
  const started: ResumeOutcome['started'] = [];
  for (const w of await ledger.drain.held()) {
    let action: string;
    if (w.kind === 'preserve') action = (await startPreservation({ client, config, ledger }, w.args as Parameters<typeof startPreservation>[1])).action;
    else {
      if (w.kind === 'article') await sendArticlePackage(client, config, w.args as ArticlePackage);
      else await sendCopyRequest(client, config, w.args as CopyRequest);
      action = 'sent';
    }
    await ledger.drain.release(w.kind, w.itemId);
    started.push({ kind: w.kind, itemId: w.itemId, action });
  }
  return { drained, unpaused, signalled, started };
}

/** "2h 5m" from milliseconds. */
export function age(ms: number): string {
  const m = Math.floor(ms / 60_000);
  if (m < 1) return `${Math.floor(ms / 1000)}s`;
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  return h < 48 ? `${h}h ${m % 60}m` : `${Math.floor(h / 24)}d ${h % 24}h`;
}

export interface DrainSummary {
  state: DrainState | null;
  held: { counts: Partial<Record<HeldWork['kind'], number>>; total: number; oldest: string | null };
}

export async function drainSummary(ledger: Ledger): Promise<DrainSummary> {
  return { state: (await ledger.drain.state()) ?? null, held: await ledger.drain.heldSummary() };
}

/** The status lines of a drained custody (none when it is not drained and nothing is held). */
export function formatDrain(d: DrainSummary, now = new Date()): string[] {
  const { state, held } = d;
  if (!state && !held.total) return [];
  const heldText = `held ${held.total}${held.oldest ? ` (oldest ${age(now.getTime() - Date.parse(held.oldest))})` : ''}`;
  const kinds = Object.entries(held.counts).map(([k, n]) => `${k} ${n}`);
  const perKind = kinds.length ? `; held ${kinds.join(', ')}` : '';
  if (!state) return [`not drained, but ${heldText}: custody resume starts it`];
  return [`drained since ${state.since.replace(/\.\d{3}Z$/, 'Z')} by ${state.by}: ${heldText}`, `  reason: ${state.reason}${perKind}`];
}

/** Workflows with a step running now; those only waiting to retry do not hold a stop up. */
export const stillRunning = (steps: RunningStep[]): RunningStep[] => steps.filter((s) => s.activities.length > 0);

export function formatRunning(steps: RunningStep[]): string[] {
  const running = stillRunning(steps);
  const retrying = steps.filter((s) => s.retrying.length > 0);
  const lines = running.length
    ? [
        `still running: ${running.length} workflow${running.length === 1 ? '' : 's'} with a step under way`,
        ...running.map((b) => `  ${b.workflowId}  ${b.activities.map((a) => `${a.name}${a.attempt > 1 ? ` (attempt ${a.attempt})` : ''}`).join(', ')}`),
      ]
    : ['nothing running: safe to stop workers and server'];
  if (retrying.length)
    lines.push(
      `waiting to retry (safe to stop; they go on after): ${retrying.length}`,
      ...retrying.map(
        (b) => `  ${b.workflowId}  ${b.retrying.map((a) => `${a.name} attempt ${a.attempt}${a.nextAttemptAt ? ` at ${a.nextAttemptAt}` : ''}`).join(', ')}`,
      ),
    );
  return lines;
}
