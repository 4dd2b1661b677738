// Hands a finished item (an accepted package, a published version) to delivery: a workflow of
// its own, started as a child that outlives its parent, so the pipeline ends when its own work
// is done and a destination that is down for days delays nothing but its deliveries.
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, startChild } from '@temporalio/workflow';
import { deliveryWorkflowId, destinationsFor, type DeliveryItem, type DeliveryRule, type DeliverySettings } from '../../common/delivery';
import { TASK_QUEUES } from '../../common/preservation';
import type { deliverItem } from '../deliver-item';

/** The destinations the item went to, or [] when no rule selects any. */
export async function startDelivery(
  settings: DeliverySettings | undefined,
  pipeline: DeliveryRule['pipeline'],
  item: DeliveryItem,
  by: string,
): Promise<string[]> {
  const destinations = destinationsFor(settings, pipeline, item.itemId);
  if (!settings || !destinations.length) return [];
  try {
    await startChild<typeof deliverItem>('deliverItem', {
      workflowId: deliveryWorkflowId(item),
      taskQueue: TASK_QUEUES.io,
      args: [{ item, destinations, settings, by }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      staticSummary: `deliver ${item.itemId} to ${destinations.join(', ')}`,
    });
  } catch (e) {
    // An earlier delivery of the item is still under way (custody deliver): it carries on.
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
  }
  return destinations;
}
