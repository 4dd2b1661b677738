// The floor's activities: nothing but, once per workflow, the signal custody's poller would send.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { bareVerdictSignal } from './bare-workflow';

export function bareActivities(client: Client) {
  return {
    async noop({ sendSignal }: { sendSignal: boolean }): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      if (sendSignal && workflowId) await client.workflow.getHandle(workflowId).signal(bareVerdictSignal);
    },
  };
}
