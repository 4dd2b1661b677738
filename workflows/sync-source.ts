// Started by the `sync-source` Schedule (overlap SKIP: runs never overlap): harvests each
// configured source in turn — the objects new or changed since its cursor are recorded and
// enqueued (activities/harvest.ts). The cursors live in the ledger, not in this workflow, so a
// run that fails, is terminated or times out loses at most one batch, which the next run re-reads.
// A run stops at its time budget; sources it did not reach go first in the next run.
import { ActivityFailure, continueAsNew, log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import type { SourceHarvest, SyncSourceInput, SyncSourceResult } from '../common/harvest';
import { SCHEDULES_TASK_QUEUE } from '../common/preservation';

type Activities = ReturnType<typeof createActivities>;
const { harvestPlan } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  startToCloseTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Sources harvested per execution before the history is started afresh. */
const SOURCES_PER_EXECUTION = 50;

export async function syncSource(input: SyncSourceInput = {}): Promise<SyncSourceResult> {
  const plan = await harvestPlan();
  const { harvestSource } = proxyActivities<Activities>({
    taskQueue: SCHEDULES_TASK_QUEUE,
    // A source's scan takes up to the time budget and the batch it is in; a dead worker is noticed by its heartbeat,
    // every 50 objects listed: generous, as one listing page of a slow bucket may take a while.
    startToCloseTimeout: plan.timeBudgetMs + 30 * 60_000,
    heartbeatTimeout: '5m',
    // The next scheduled run tries again; a run must not pile up behind a ledger outage.
    retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3 },
  });
  const deadline = input.deadline ?? new Date(Date.now() + plan.timeBudgetMs).toISOString();
  const previous = workflowInfo().lastResult as SyncSourceResult | undefined;
  // The sources the last run did not reach go first, so a slow source cannot starve the others.
  const first = (previous?.notReached ?? []).filter((s) => plan.sources.includes(s));
  let remaining = input.remaining ?? [...first, ...plan.sources.filter((s) => !first.includes(s))];
  const done = input.done ?? [];
  let harvested = 0;
  while (remaining.length) {
    if (Date.now() > Date.parse(deadline)) break;
    if (harvested >= SOURCES_PER_EXECUTION) await continueAsNew<typeof syncSource>({ deadline, remaining, done });
    const [source, ...rest] = remaining;
    let r: SourceHarvest;
    try {
      r = await harvestSource.executeWithOptions({ summary: `harvest source ${source}` }, [{ source, limit: plan.maxPerRun, deadline }]);
    } catch (e) {
      if (!(e instanceof ActivityFailure)) throw e;
      r = {
        source,
        location: '',
        enqueued: [],
        enqueuedCount: 0,
        unchanged: 0,
        skipped: [],
        settling: 0,
        unreadable: [],
        more: true,
        error: e.cause?.message ?? e.message,
      };
    }
    if (r.error) log.warn(`sync-source: ${r.error}`, { source });
    done.push(r);
    remaining = rest;
    harvested++;
  }
  return { sources: done, notReached: remaining };
}
