// The `custody` command.
import { Command, InvalidArgumentError } from 'commander';
import { ScheduleNotFoundError } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { TemporalUnreachableError, connectClient } from '../config/temporal-connection';
import { openParts } from '../activities/parts';
import { openLedger } from '../activities/ledger';
import type { QueueRole } from '../common/preservation';
import { startWorkers } from '../workers/run-worker';
import { enqueue } from './enqueue';
import { freeze, operatorName, reenqueue, select, unfreeze, type OperatorOutcome } from './operator';
import { SingleBar, Presets } from 'cli-progress';
import { createSchedules, listSchedules } from './schedules';
import { formatObjectStatus, formatSummary, objectStatus, summarize } from './status';
import { UserError } from './user-error';

const QUEUES: QueueRole[] = ['io', 'download', 'package', 'submit'];

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${v}" is not a positive whole number`);
  return n;
}
function date(v: string): Date {
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError(`"${v}" is not a date (use ISO 8601, e.g. 2026-01-31)`);
  return d;
}
function idList(v: string, prev: string[] = []): string[] {
  return prev.concat(v.split(',').map((s) => s.trim()).filter(Boolean));
}
function queueList(v: string): QueueRole[] {
  const qs = v.split(',').map((s) => s.trim());
  for (const q of qs) if (!QUEUES.includes(q as QueueRole)) throw new InvalidArgumentError(`unknown queue "${q}" (queues: ${QUEUES.join(', ')})`);
  return qs as QueueRole[];
}
function slotList(v: string): Partial<Record<QueueRole, number>> {
  const out: Partial<Record<QueueRole, number>> = {};
  for (const pair of v.split(',')) {
    const [q, n] = pair.split('=');
    if (!QUEUES.includes(q as QueueRole)) throw new InvalidArgumentError(`unknown queue "${q}" in --slots (queues: ${QUEUES.join(', ')})`);
    out[q as QueueRole] = positiveInt(n ?? '');
  }
  return out;
}

async function withClient<T>(fn: (ctx: Awaited<ReturnType<typeof connectClient>> & { config: Config }) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const ctx = await connectClient(config);
  try {
    return await fn({ ...ctx, config });
  } finally {
    await ctx.connection.close();
  }
}

const program = new Command('custody')
  .description('Durable digital-preservation pipelines on Temporal')
  .showHelpAfterError();

program
  .command('enqueue')
  .description('start one preservation workflow per object in the source (skips objects already preserved and unchanged)')
  .option('--limit <n>', 'start at most N workflows', positiveInt)
  .option('--ids <ids>', 'only these object ids (comma-separated, repeatable)', idList)
  .option('--since <date>', 'only objects modified at or after this date', date)
  .action(async (opts: { limit?: number; ids?: string[]; since?: Date }) =>
    withClient(async ({ client, config }) => {
      const parts = await openParts(config);
      try {
        const outcomes = await enqueue({ client, config, ledger: parts.ledger, source: parts.source }, opts);
        for (const o of outcomes) {
          if (o.action === 'started') console.log(`${o.objectId}: started ${o.workflowId}`);
          else if (o.action === 'already-running') console.log(`${o.objectId}: already running as ${o.workflowId}; nothing to do`);
          else console.log(`${o.objectId}: skipped, ${o.reason}`);
        }
        const started = outcomes.filter((o) => o.action === 'started').length;
        console.log(`${started} started, ${outcomes.length - started} not started`);
      } finally {
        await parts.ledger.close();
      }
    }),
  );

program
  .command('status [ids...]')
  .description('counts per stage and the objects waiting for an operator; with ids, each object\'s timeline')
  .option('--json', 'print JSON')
  .action(async (ids: string[], opts: { json?: boolean }) =>
    withClient(async ({ client, config }) => {
      const parts = await openParts(config);
      try {
        if (ids.length === 0) {
          const s = await summarize(parts.ledger);
          console.log(opts.json ? JSON.stringify(s, null, 2) : formatSummary(s));
          return;
        }
        const all = [];
        for (const id of ids) all.push(await objectStatus(parts.ledger, client, id));
        console.log(opts.json ? JSON.stringify(all, null, 2) : all.map(formatObjectStatus).join('\n\n'));
      } finally {
        await parts.ledger.close();
      }
    }),
  );

/** Acts on each id in turn, one line each; exits non-zero if any was refused. */
async function actOnEach(ids: string[], act: (id: string) => Promise<OperatorOutcome>, progress = false): Promise<void> {
  const bar = progress && ids.length > 1 ? new SingleBar({ format: '{bar} {value}/{total}', noTTYOutput: false }, Presets.shades_classic) : undefined;
  bar?.start(ids.length, 0);
  const lines: string[] = [];
  let refused = 0;
  for (const id of ids) {
    const outcome = await act(id);
    if (!outcome.ok) refused++;
    const line = `${id}: ${outcome.message}`;
    if (bar) lines.push(line);
    else console.log(line);
    bar?.increment();
  }
  bar?.stop();
  lines.forEach((l) => console.log(l));
  if (refused) throw new UserError(`${refused} of ${ids.length} not done (see above)`);
}

async function withParts<T>(fn: (deps: { client: Awaited<ReturnType<typeof connectClient>>['client']; config: Config; ledger: Awaited<ReturnType<typeof openParts>>['ledger'] }) => Promise<T>): Promise<T> {
  return withClient(async ({ client, config }) => {
    const parts = await openParts(config);
    try {
      return await fn({ client, config, ledger: parts.ledger });
    } finally {
      await parts.ledger.close();
    }
  });
}

program
  .command('freeze <ids...>')
  .description('stop objects before their next stage (running) or keep them out of enqueue (not running)')
  .requiredOption('--reason <text>', 'why: shown in status and the Web UI')
  .action(async (ids: string[], opts: { reason: string }) => {
    if (!opts.reason.trim()) throw new UserError('--reason must not be empty');
    await withParts((deps) => actOnEach(ids, (id) => freeze(deps, id, opts.reason, operatorName())));
  });

program
  .command('unfreeze <ids...>')
  .description('let frozen objects continue from the stage where they stopped')
  .action(async (ids: string[]) => withParts((deps) => actOnEach(ids, (id) => unfreeze(deps, id, operatorName()))));

program
  .command('reenqueue [ids...]')
  .description('start rejected, failed or frozen objects again from download, with a new SIP id')
  .option('--rejected', 'every rejected object')
  .option('--failed', 'every failed object')
  .option('--frozen-reason <text>', 'every frozen object whose reason contains TEXT')
  .option('--dry-run', 'list what would be reenqueued, change nothing')
  .action(async (ids: string[], opts: { rejected?: boolean; failed?: boolean; frozenReason?: string; dryRun?: boolean }) =>
    withParts(async (deps) => {
      const selected = [...new Set([...ids, ...(await select(deps.ledger, opts))])];
      if (selected.length === 0) throw new UserError('nothing to reenqueue: give ids, or --rejected, --failed or --frozen-reason TEXT that match');
      if (opts.dryRun) {
        selected.forEach((id) => console.log(`${id}: would be reenqueued`));
        console.log(`${selected.length} object(s); nothing changed (--dry-run)`);
        return;
      }
      await actOnEach(selected, (id) => reenqueue(deps, id, operatorName()), true);
    }),
  );

program
  .command('db')
  .description('the ledger database')
  .command('migrate')
  .description('apply the ledger migrations (also done at start-up; safe to run twice)')
  .action(async () => {
    const config = loadConfig();
    const ledger = openLedger(config.databaseUrl);
    try {
      await ledger.migrate();
      console.log(`ledger is up to date (${/^postgres/i.test(config.databaseUrl) ? 'PostgreSQL' : `SQLite ${config.databaseUrl}`})`);
    } finally {
      await ledger.close();
    }
  });

const schedules = program.command('schedules').description('the Temporal Schedules that poll the preservation service');
schedules
  .command('create')
  .description('create (or update to the current config) custody\'s schedules')
  .action(async () => withClient(async ({ client, config }) => (await createSchedules(client, config)).forEach((l) => console.log(l))));
schedules
  .command('list')
  .description('list schedules with their state and next run')
  .action(async () =>
    withClient(async ({ client }) => {
      const rows = await listSchedules(client);
      if (!rows.length) console.log('no schedules (create them with `custody schedules create`)');
      for (const r of rows) console.log(`${r.id}  ${r.paused ? 'paused' : 'active'}  next ${r.next?.toISOString() ?? '-'}  ${r.note ?? ''}`);
    }),
  );
for (const [name, verb] of [['pause', 'paused'], ['unpause', 'unpaused'], ['trigger', 'triggered']] as const) {
  schedules
    .command(`${name} <scheduleId>`)
    .description(`${name} a schedule`)
    .option('--note <text>', 'why (kept with the schedule)')
    .action(async (id: string, opts: { note?: string }) =>
      withClient(async ({ client }) => {
        const handle = client.schedule.getHandle(id);
        try {
          if (name === 'trigger') await handle.trigger();
          else await handle[name](opts.note ?? `${verb} with custody schedules ${name}`);
        } catch (e) {
          if (e instanceof ScheduleNotFoundError) throw new UserError(`unknown schedule ${id} (see \`custody schedules list\`)`);
          throw e;
        }
        console.log(`${id}: ${verb}`);
      }),
    );
}

program
  .command('worker')
  .description('run a worker serving the given task queues until SIGINT/SIGTERM')
  .option('--queues <queues>', `queues to serve (${QUEUES.join(',')})`, queueList)
  .option('--slots <slots>', 'concurrent activities per queue, e.g. package=2,download=4', slotList)
  .action(async (opts: { queues?: QueueRole[]; slots?: Partial<Record<QueueRole, number>> }) => {
    const base = loadConfig();
    const config = loadConfig(process.env, { worker: { ...base.worker, slots: { ...base.worker.slots, ...opts.slots } } });
    const queues = opts.queues ?? config.worker.queues;
    const workers = await startWorkers(config, queues);
    console.log(`worker serving ${queues.join(', ')} (pid ${process.pid}); Ctrl-C stops it after running activities finish`);
    await workers.done;
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  if (e instanceof UserError || e instanceof ConfigError || e instanceof TemporalUnreachableError) {
    console.error(`custody: ${e.message}`);
  } else {
    console.error(`custody: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.CUSTODY_DEBUG) console.error(e);
  }
  process.exitCode = 1;
});
