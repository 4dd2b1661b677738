// Started by the `sync-processed-sips` Schedule: asks the preservation service for verdicts
// decided since the last run's checkpoint and signals each waiting preserveObject workflow.
// Delivery is idempotent end to end: the ledger remembers each verdict signalled or applied, and
// those are never sent again, whoever triggers the run and however often.
import { getExternalWorkflowHandle, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  SCHEDULES_TASK_QUEUE,
  TASK_QUEUES,
  preserveWorkflowId,
  sipProcessedSignal,
  type SyncProcessedSipsInput,
  type SyncProcessedSipsResult,
} from '../common/preservation';

type Activities = ReturnType<typeof createActivities>;
const { deliverVerdicts } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  // The next scheduled run tries again; a run must not pile up behind a service outage.
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Verdicts taken per page: one activity signals them all and records each in the ledger. */
const PAGE = 500;

export async function syncProcessedSips(input: SyncProcessedSipsInput = {}): Promise<SyncProcessedSipsResult> {
  // A Schedule hands each run the previous successful run's result: that is the checkpoint.
  const previous = workflowInfo().lastResult as SyncProcessedSipsResult | undefined;
  let since = previous?.checkpoint ?? input.since ?? new Date(0).toISOString();
  if (!patched('deliver-verdicts-by-activity')) return legacySequentialRun(since);

  const total = { signalled: 0, notWaiting: 0, alreadyDelivered: 0 };
  for (;;) {
    // Signals sent from the workflow went out one server round trip after another, and under
    // load the workflows' own fallback polls outran them; the activity sends them concurrently.
    const page = await deliverVerdicts({ since, limit: PAGE });
    total.signalled += page.signalled;
    total.notWaiting += page.notWaiting;
    total.alreadyDelivered += page.alreadyDelivered;
    since = page.checkpoint;
    if (!page.more) break;
  }
  return { checkpoint: since, ...total };
}

const { verdictsSince } = proxyActivities<Activities>({
  taskQueue: TASK_QUEUES.io,
  // One request to the service, without a heartbeat: a killed worker is noticed when this runs out.
  startToCloseTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Runs that started before delivery by activity replay the way they were recorded. */
async function legacySequentialRun(since: string): Promise<SyncProcessedSipsResult> {
  const found = await verdictsSince({ since });
  let signalled = 0;
  let notWaiting = 0;
  for (const { objectId, verdict } of found) {
    try {
      await getExternalWorkflowHandle(preserveWorkflowId(objectId)).signal(sipProcessedSignal, verdict);
      signalled++;
    } catch {
      notWaiting++;
    }
  }
  const checkpoint = found.reduce((latest, f) => (f.verdict.decidedAt > latest ? f.verdict.decidedAt : latest), since);
  return { checkpoint, signalled, notWaiting, alreadyDelivered: 0 };
}
