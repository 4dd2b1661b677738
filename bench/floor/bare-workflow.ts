// The engine's floor for the orchestration benchmark: one workflow per object with the same
// number of activity tasks as custody's preserveObject and one signal, every activity a no-op.
// What custody spends above this is custody's, not Temporal's.
import { condition, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { bareActivities } from './bare-activities';

export const bareVerdictSignal = defineSignal('bareVerdict');

const { noop } = proxyActivities<ReturnType<typeof bareActivities>>({ startToCloseTimeout: '1m' });

/** `activities` no-op steps; the one before the last asks for the signal, the last waits for it. */
export async function bareObject(activities: number): Promise<void> {
  let signalled = false;
  setHandler(bareVerdictSignal, () => {
    signalled = true;
  });
  for (let i = 0; i < activities - 1; i++) await noop({ sendSignal: i === activities - 2 });
  await condition(() => signalled);
  await noop({ sendSignal: false });
}
