// `custody schedules`: the Temporal Schedules that poll and watch — `sync-processed-sips` (the
// preservation service's verdicts to the waiting objects), `watch-articles` (new article
// packages to their articles), `audit-fixity` (the kept and delivered packages re-hashed
// against the ledger), `sync-source` (the harvest of new and changed objects) and `notify` (the
// webhook notifications' outbox). Creating is idempotent: an existing schedule is updated to the
// current config.
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { SCHEDULES_TASK_QUEUE, SYNC_PROCESSED_SIPS_SCHEDULE } from '../common/preservation';
import { WATCH_ARTICLES_SCHEDULE } from '../common/watch-articles';
import { AUDIT_FIXITY_SCHEDULE } from '../common/fixity';
import { SYNC_SOURCE_SCHEDULE } from '../common/harvest';
import { NOTIFY_SCHEDULE } from '../common/notifications';
import { harvestSources, type Config } from '../config/config';
import { auditFixity, notify, syncProcessedSips, syncSource, watchArticles } from '../workflows';
import { fit, printable } from './printable';

export const SCHEDULE_IDS = [SYNC_PROCESSED_SIPS_SCHEDULE, WATCH_ARTICLES_SCHEDULE, AUDIT_FIXITY_SCHEDULE, SYNC_SOURCE_SCHEDULE, NOTIFY_SCHEDULE] as const;

function syncProcessedSipsSchedule(config: Config): ScheduleOptions {
  const s = config.schedules.syncProcessedSips;
  return {
    scheduleId: SYNC_PROCESSED_SIPS_SCHEDULE,
    spec: { intervals: [{ every: s.every as never }] },
    action: {
      type: 'startWorkflow',
      workflowType: syncProcessedSips,
      workflowId: SYNC_PROCESSED_SIPS_SCHEDULE,
      taskQueue: SCHEDULES_TASK_QUEUE,
      args: [{}],
    },
    // One poll at a time; after an outage, runs missed within the window are made up.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindow as never },
  };
}

function watchArticlesSchedule(config: Config): ScheduleOptions {
  const s = config.schedules.watchArticles;
  return {
    scheduleId: WATCH_ARTICLES_SCHEDULE,
    spec: { intervals: [{ every: s.every as never }] },
    action: {
      type: 'startWorkflow',
      workflowType: watchArticles,
      workflowId: WATCH_ARTICLES_SCHEDULE,
      taskQueue: SCHEDULES_TASK_QUEUE,
      args: [{}],
    },
    // One watch at a time: two would start from the same cursor. Runs missed in an outage are
    // made up within the window, though the first one after it already takes everything new.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindow as never },
  };
}

function auditFixitySchedule(config: Config): ScheduleOptions {
  const s = config.schedules.auditFixity;
  return {
    scheduleId: AUDIT_FIXITY_SCHEDULE,
    spec: { intervals: [{ every: s.every as never }] },
    action: {
      type: 'startWorkflow',
      workflowType: auditFixity,
      workflowId: AUDIT_FIXITY_SCHEDULE,
      taskQueue: SCHEDULES_TASK_QUEUE,
      // Share and byte limit are read from the worker's config when a run starts.
      args: [{}],
    },
    // One audit at a time: two would take the same slice. Missed runs are not all made up: the
    // first one after an outage goes on from the cursor.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindow as never },
  };
}

function syncSourceSchedule(config: Config): ScheduleOptions {
  const s = config.schedules.syncSource;
  return {
    scheduleId: SYNC_SOURCE_SCHEDULE,
    spec: { intervals: [{ every: s.every as never }] },
    action: { type: 'startWorkflow', workflowType: syncSource, workflowId: SYNC_SOURCE_SCHEDULE, taskQueue: SCHEDULES_TASK_QUEUE, args: [{}] },
    // One harvest at a time: two would read the same cursors and enqueue the same batch.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindow as never },
  };
}

function notifySchedule(config: Config): ScheduleOptions {
  return {
    scheduleId: NOTIFY_SCHEDULE,
    spec: { intervals: [{ every: config.notifications.every as never }] },
    action: { type: 'startWorkflow', workflowType: notify, workflowId: NOTIFY_SCHEDULE, taskQueue: SCHEDULES_TASK_QUEUE, args: [] },
    // One sender at a time: two would POST the same due rows. Missed runs are not made up: the next one sends everything due.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
  };
}

export async function createSchedules(client: Client, config: Config): Promise<string[]> {
  const out: string[] = [];
  for (const [options, every, what] of [
    [syncProcessedSipsSchedule(config), config.schedules.syncProcessedSips.every, ''],
    [watchArticlesSchedule(config), config.schedules.watchArticles.every, `, watching ${config.articles.source}`],
    [auditFixitySchedule(config), config.schedules.auditFixity.every, `, ${config.fixity.share * 100}% of the packages a run`],
    [
      syncSourceSchedule(config),
      config.schedules.syncSource.every,
      `, harvesting ${harvestSources(config)
        .map((x) => x.name)
        .join(', ')}`,
    ],
    [notifySchedule(config), config.notifications.every, notifyWhat(config)],
  ] as const) {
    try {
      await client.schedule.create(options);
      out.push(`created schedule ${options.scheduleId} (every ${every}${what})`);
    } catch (e) {
      if (!(e instanceof ScheduleAlreadyRunning)) throw e;
      await client.schedule
        .getHandle(options.scheduleId)
        .update((prev) => ({ ...prev, spec: options.spec, action: options.action, policies: options.policies }));
      out.push(`updated schedule ${options.scheduleId} (every ${every}${what})`);
    }
  }
  return out;
}

function notifyWhat(config: Config): string {
  const n = config.notifications;
  const sent = n.events.filter((e) => n.urls[e] ?? n.url);
  return sent.length ? `, sending ${sent.join(', ')}` : ', no webhook configured';
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
  const rows: ScheduleRow[] = [];
  for await (const s of client.schedule.list()) {
    rows.push({ id: s.scheduleId, paused: s.state.paused, note: s.state.note, next: s.info.nextActionTimes[0], recent: s.info.recentActions.length });
  }
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
