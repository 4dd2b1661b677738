// The engine's floor for the orchestration benchmark: one workflow per object with the same
// number of activity tasks as custody's preserveObject and one signal, every activity a no-op.
// What custody spends above this is custody's, not Temporal's. With `upserts`, the same floor
// also upserts the two attributes of a custody stage that many times, so the bench can show what
// the visibility writes alone cost the server.
import { condition, defineSignal, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { SA } from '../../common/search-attributes';
import type { bareActivities } from './bare-activities';

export const bareVerdictSignal = defineSignal('bareVerdict');

const { noop } = proxyActivities<ReturnType<typeof bareActivities>>({ startToCloseTimeout: '1m' });

/** `activities` no-op steps; the one before the last asks for the signal, the last waits for it. */
export async function bareObject(activities: number, upserts = 0): Promise<void> {
  let signalled = false;
  setHandler(bareVerdictSignal, () => {
    signalled = true;
  });
  let upserted = 0;
  // Upserts go with the steps, as custody's go with its stages; any left over go with the last.
  const upsert = (n: number) => {
    for (; n > 0 && upserted < upserts; n--, upserted++) {
      // The two attributes each of custody's stage upserts sets (workflows/kit/stage-book.ts).
      upsertSearchAttributes([
        { key: SA.stage, value: `floor-${upserted}` },
        { key: SA.state, value: `floor-${upserted}` },
      ]);
    }
  };
  for (let i = 0; i < activities - 1; i++) {
    upsert(1);
    await noop({ sendSignal: i === activities - 2 });
  }
  await condition(() => signalled);
  upsert(upserts);
  await noop({ sendSignal: false });
}
