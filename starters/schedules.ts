// `custody schedules`: the Temporal Schedules that poll and watch — `sync-processed-sips` (the
// preservation service's verdicts to the waiting objects), `watch-articles` (new article
// packages to their articles), `audit-fixity` (the kept and delivered packages re-hashed
// against the ledger), `sync-source` (the harvest of new and changed objects) and `notify` (the
// webhook notifications' outbox). Creating is idempotent: an existing schedule is updated to the
// current config.
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { SCHEDULES_TASK_QUEUE, SYNC_PROCESSED_SIPS_SCHEDULE } from '../common/preservation';
import { WATCH_ARTICLES_SCHEDULE } from '../common/watch-articles';
import { AUDIT_FIXITY_SCHEDULE } from '../common/fixity';
import { SYNC_SOURCE_SCHEDULE } from '../common/harvest';
import { NOTIFY_SCHEDULE } from '../common/notifications';
import { harvestSources, type Config } from '../config/config';
import { auditFixity, notify, syncProcessedSips, syncSource, watchArticles } from '../workflows';
import { fit, printable } from './printable';

export const SCHEDULE_IDS = [SYNC_PROCESSED_SIPS_SCHEDULE, WATCH_ARTICLES_SCHEDULE, AUDIT_FIXITY_SCHEDULE, SYNC_SOURCE_SCHEDULE, NOTIFY_SCHEDULE] as const;

/** One custody schedule: every one starts its workflow on the schedules queue and never overlaps itself. */
interface ScheduleDefinition {
  id: (typeof SCHEDULE_IDS)[number];
  workflowType: Workflow;
  args: unknown[];
  every: string;
  /** After an outage, runs missed within this window are made up. */
  catchupWindow: string;
  /** What `custody schedules create` says after the interval. */
  what: string;
}

function definitions(config: Config): ScheduleDefinition[] {
  const s = config.schedules;
  const n = config.notifications;
  const notified = n.events.filter((e) => n.urls[e] ?? n.url);
  return [
    // One poll at a time; missed runs are made up.
    { id: SYNC_PROCESSED_SIPS_SCHEDULE, workflowType: syncProcessedSips, args: [{}], ...s.syncProcessedSips, what: '' },
    // One watch at a time: two would start from the same cursor. The first run after an outage
    // already takes everything new.
    { id: WATCH_ARTICLES_SCHEDULE, workflowType: watchArticles, args: [{}], ...s.watchArticles, what: `, watching ${config.articles.source}` },
    // One audit at a time: two would take the same slice. Share and byte limit are read from the
    // worker's config when a run starts; the first run after an outage goes on from the cursor.
    { id: AUDIT_FIXITY_SCHEDULE, workflowType: auditFixity, args: [{}], ...s.auditFixity, what: `, ${config.fixity.share * 100}% of the packages a run` },
    // One harvest at a time: two would read the same cursors and enqueue the same batch.
    {
      id: SYNC_SOURCE_SCHEDULE,
      workflowType: syncSource,
      args: [{}],
      ...s.syncSource,
      what: `, harvesting ${harvestSources(config)
        .map((x) => x.name)
        .join(', ')}`,
    },
    // One sender at a time: two would POST the same due rows. Missed runs are not made up: the
    // next one sends everything due.
    {
      id: NOTIFY_SCHEDULE,
      workflowType: notify,
      args: [],
      every: n.every,
      catchupWindow: '1m',
      what: notified.length ? `, sending ${notified.join(', ')}` : ', no webhook configured',
    },
  ];
}

function scheduleOptions(d: ScheduleDefinition): ScheduleOptions {
  return {
    scheduleId: d.id,
    spec: { intervals: [{ every: d.every as never }] },
    action: { type: 'startWorkflow', workflowType: d.workflowType, workflowId: d.id, taskQueue: SCHEDULES_TASK_QUEUE, args: d.args },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: d.catchupWindow as never },
  };
}

export async function createSchedules(client: Client, config: Config): Promise<string[]> {
  const out: string[] = [];
  for (const d of definitions(config)) {
    const options = scheduleOptions(d);
    try {
      await client.schedule.create(options);
      out.push(`created schedule ${d.id} (every ${d.every}${d.what})`);
    } catch (e) {
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
      await client.schedule.getHandle(d.id).update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }));
      out.push(`updated schedule ${d.id} (every ${d.every}${d.what})`);
    }
  }
  return out;
}

export interface ScheduleRow {
  id: string;
  paused: boolean;
  note?: string;
  next?: Date;
  /** Runs Temporal still remembers having started. */
  recent: number;
}

export async function listSchedules(client: Client): Promise<ScheduleRow[]> {
  const ids: string[] = [];
  for await (const s of client.schedule.list()) ids.push(s.scheduleId);
  // The list comes from visibility, which lags a pause by a moment; describe answers from the schedule itself.
  const rows = await Promise.all(
    ids.map(async (id): Promise<ScheduleRow | undefined> => {
      try {
        const d = await client.schedule.getHandle(id).describe();
        return { id, paused: d.state.paused, note: d.state.note, next: d.info.nextActionTimes[0], recent: d.info.recentActions.length };
      } catch (e) {
        if (e instanceof ScheduleNotFoundError) return undefined; // deleted since it was listed
        throw e;
      }
    }),
  );
  return rows.filter((r) => r !== undefined).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A header and one line per schedule, each cut to 80 columns (the note last, as it is free text). */
export function formatSchedules(rows: ScheduleRow[]): string[] {
  const line = (id: string, state: string, next: string, note: string) => fit(`${id.padEnd(19)} ${state.padEnd(6)} ${next.padEnd(20)} ${note}`.trimEnd());
  // Runs start on whole seconds: the milliseconds would only take the note's room.
  const toSecond = (d?: Date) => d?.toISOString().replace(/\.\d{3}Z$/, 'Z') ?? '-';
  return [
    line('SCHEDULE', 'STATE', 'NEXT RUN', 'NOTE'),
    ...rows.map((r) => line(printable(r.id), r.paused ? 'paused' : 'active', toSecond(r.next), printable(r.note ?? ''))),
  ];
}
