import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery, type PreserveObjectState, type Stage } from '../../common/preservation';
import { eventually } from './eventually';

/** Asks the workflow (its `state` query) until it is in one of `stages`. */
export async function waitForStage(handle: WorkflowHandle, stages: Stage[], timeoutMs = 60_000): Promise<PreserveObjectState> {
  return eventually(
    `${handle.workflowId} in stage ${stages.join('/')}`,
    () => handle.query(stateQuery),
    (s) => stages.includes(s.stage),
    { timeoutMs },
  );
}

/** The workflow's current details, as the Web UI shows them under User Metadata. */
export async function currentDetails(handle: WorkflowHandle): Promise<string | undefined> {
  const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
  return metadata.currentDetails;
}
