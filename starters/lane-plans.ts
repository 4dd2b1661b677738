// freeze and unfreeze of an article or a copy: workflows whose versions pass one at a time
// (workflows/kit/version-lane.ts). Planned from the workflow's own state, like an object's, so
// that --dry-run applies the rules of the real run.
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { QueryDefinition, UpdateDefinition } from '@temporalio/common';
import type { FreezeRequest } from '../common/preservation';
import { refused, viaUpdate, type Plan } from './operator';

export interface LaneRun<State> {
  handle: WorkflowHandle;
  /** RUNNING, TERMINATED, …; undefined when there is no workflow. */
  status?: string;
  /** The running workflow's own answer (undefined when it is not running or not asked). */
  state?: State;
}

/** The lane's workflow, whether it runs, and (unless `query` is false) its state; nothing is created. */
export async function laneRun<State>(handle: WorkflowHandle, stateQuery: QueryDefinition<State>, query = true): Promise<LaneRun<State>> {
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return { handle };
    throw e;
  }
  if (status !== 'RUNNING' || !query) return { handle, status };
  return { handle, status, state: await handle.query(stateQuery) };
}

export interface LaneViewState {
  stage: string;
  current?: { version: number };
  frozenReason?: string;
  frozenBy?: string;
}

export interface Lane<State extends LaneViewState> {
  /** How output names it: its workflow id. */
  ref: string;
  run(): Promise<LaneRun<State>>;
  /** The refusal when there is no such workflow: says how one starts. */
  unknown: string;
  /** What an idle lane waits for: "a package", "a version". */
  waitsFor: string;
  freeze: UpdateDefinition<{ stoppedBefore: string; frozenAt: string }, [FreezeRequest]>;
  unfreeze: UpdateDefinition<{ resumes: string }, [{ by: string }]>;
}

export const describeStage = (s: LaneViewState): string => `${s.stage}${s.current ? ` with v${s.current.version}` : ''}`;

/** The lane's running workflow and state for a plan, or the plan's refusal. */
export async function planBase<State extends LaneViewState>(lane: Lane<State>): Promise<{ handle: WorkflowHandle; state: State } | Plan> {
  const run = await lane.run();
  if (!run.status) return refused(lane.ref, lane.unknown, true);
  if (!run.state) return refused(lane.ref, `${lane.ref}: its workflow is not running (${run.status})`);
  return { handle: run.handle, state: run.state };
}

export async function planLaneFreeze<State extends LaneViewState>(lane: Lane<State>, reason: string, by: string): Promise<Plan> {
  const { ref } = lane;
  const base = await planBase(lane);
  if ('verdict' in base) return base;
  const { handle, state } = base;
  if (state.stage === 'frozen') return refused(ref, `${ref} is frozen already: ${state.frozenReason ?? ''} (by ${state.frozenBy ?? '?'})`);
  return {
    objectId: ref,
    ok: true,
    verdict: `would be frozen before its next stage (it is ${describeStage(state)})`,
    execute: () =>
      viaUpdate(ref, async () => {
        const ack = await handle.executeUpdate(lane.freeze, { args: [{ reason, by }] });
        return ack.stoppedBefore === 'waiting'
          ? `frozen while waiting for ${lane.waitsFor} (at ${ack.frozenAt})`
          : `frozen before ${ack.stoppedBefore} (at ${ack.frozenAt})`;
      }),
  };
}

export async function planLaneUnfreeze<State extends LaneViewState>(lane: Lane<State>, by: string): Promise<Plan> {
  const { ref } = lane;
  const base = await planBase(lane);
  if ('verdict' in base) return base;
  const { handle, state } = base;
  if (state.stage !== 'frozen') return refused(ref, `${ref} is not frozen (it is ${describeStage(state)})`);
  return {
    objectId: ref,
    ok: true,
    verdict: 'would be unfrozen and continue from the stage where it stopped',
    execute: () =>
      viaUpdate(ref, async () => {
        const ack = await handle.executeUpdate(lane.unfreeze, { args: [{ by }] });
        return `unfrozen; continues with ${ack.resumes}`;
      }),
  };
}
