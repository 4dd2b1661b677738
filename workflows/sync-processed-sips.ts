// Started by the `sync-processed-sips` Schedule: asks the preservation service for verdicts
// decided since the last run's checkpoint and signals each waiting preserveObject workflow.
import { getExternalWorkflowHandle, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  TASK_QUEUES,
  preserveWorkflowId,
  sipProcessedSignal,
  type SyncProcessedSipsInput,
  type SyncProcessedSipsResult,
} from '../common/preservation';

const { verdictsSince } = proxyActivities<ReturnType<typeof createActivities>>({
  taskQueue: TASK_QUEUES.io,
  startToCloseTimeout: '5m',
  // The next scheduled run tries again; a run must not pile up behind a service outage.
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

export async function syncProcessedSips(input: SyncProcessedSipsInput = {}): Promise<SyncProcessedSipsResult> {
  // A Schedule hands each run the previous successful run's result: that is the checkpoint.
  const previous = workflowInfo().lastResult as SyncProcessedSipsResult | undefined;
  const since = previous?.checkpoint ?? input.since ?? new Date(0).toISOString();
  const found = await verdictsSince({ since });

  let signalled = 0;
  let notWaiting = 0;
  for (const { objectId, verdict } of found) {
    try {
      await getExternalWorkflowHandle(preserveWorkflowId(objectId)).signal(sipProcessedSignal, verdict);
      signalled++;
    } catch {
      // The workflow has already ended (it found the verdict by its own poll) or never ran here.
      notWaiting++;
    }
  }
  const checkpoint = found.reduce((latest, f) => (f.verdict.decidedAt > latest ? f.verdict.decidedAt : latest), since);
  return { checkpoint, signalled, notWaiting };
}
