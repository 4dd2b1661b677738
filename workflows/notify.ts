// Started by the `notify` Schedule: one activity sends the notification outbox (and adds the
// held-too-long notifications first). A row that cannot be delivered stays in the outbox for
// the next run, so this run's own retries are few.
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { NotifyResult } from '../common/notifications';
import { SCHEDULES_TASK_QUEUE } from '../common/preservation';

type Activities = ReturnType<typeof createActivities>;
const { sendNotifications } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  // The activity stops sending after a few minutes and leaves the rest to the next run.
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  // A ledger outage: the next scheduled run tries again, so a run must not pile up behind it.
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 3 },
});

export async function notify(): Promise<NotifyResult> {
  return await sendNotifications.executeWithOptions({ summary: 'send the notification outbox' }, []);
}
