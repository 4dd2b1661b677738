import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery, type PreserveObjectState, type Stage } from '../../common/preservation';

/** Asks the workflow (its `state` query) until it is in one of `stages`. */
export async function waitForStage(handle: WorkflowHandle, stages: Stage[], timeoutMs = 60_000): Promise<PreserveObjectState> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(stateQuery);
    if (stages.includes(state.stage)) return state;
    if (Date.now() > until) throw new Error(`${handle.workflowId} is ${state.stage}, not ${stages.join('/')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The workflow's current details, as the Web UI shows them under User Metadata. */
export async function currentDetails(handle: WorkflowHandle): Promise<string | undefined> {
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails;
}
