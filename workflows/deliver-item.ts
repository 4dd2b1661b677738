// deliverItem: one preserved package or published article to every destination its rules
// selected, id `deliver:<item>`. Each destination is an activity on its own task queue with its
// own retries, so a destination that is down delays only what is bound for it, and picks up by
// itself when it answers again; a content problem (other bytes arrived than were sent) is not
// retried blindly but recorded and shown.
import { ApplicationFailure, proxyActivities, setCurrentDetails } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { DELIVERY_CONTENT_FAILURES, destinationTaskQueue, type DeliverItemInput, type DestinationOutcome } from '../common/delivery';
import { TASK_QUEUES } from '../common/preservation';
import { describe, unwrap } from './kit/failures';
import { retryPolicy } from './kit/retry';

type Activities = ReturnType<typeof createActivities>;

export async function deliverItem(input: DeliverItemInput): Promise<DestinationOutcome[]> {
  const { item, destinations, settings } = input;
  const { listDeliveryFiles } = proxyActivities<Activities>({
    taskQueue: TASK_QUEUES.io,
    startToCloseTimeout: '30m',
    heartbeatTimeout: settings.heartbeatTimeout,
    retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10 },
  });
  setCurrentDetails(`listing ${item.itemId} for ${destinations.join(', ')}`);
  const files = await listDeliveryFiles.executeWithOptions({ summary: `list ${item.itemId}` }, [{ item, destinations }]);

  setCurrentDetails(`delivering ${files.length} file(s) of ${item.itemId} to ${destinations.join(', ')}`);
  return await Promise.all(
    destinations.map(async (destination): Promise<DestinationOutcome> => {
      const { deliverToDestination } = proxyActivities<Activities>({
        taskQueue: destinationTaskQueue(destination),
        startToCloseTimeout: '4h',
        heartbeatTimeout: settings.heartbeatTimeout,
        // No attempt limit: a destination that is down is waited for, with backoff, however long.
        retry: retryPolicy({ ...settings.retry, maximumAttempts: 0, nonRetryableErrorTypes: DELIVERY_CONTENT_FAILURES }),
      });
      try {
        return await deliverToDestination.executeWithOptions({ summary: `deliver ${item.itemId} to ${destination}` }, [{ item, destination, files }]);
      } catch (error) {
        const failure = unwrap(error);
        if (!(failure instanceof ApplicationFailure)) throw error;
        return { destination, state: 'failed', files: files.length, sent: 0, error: describe(failure) };
      }
    }),
  );
}
