// The `custody` command.
import { Command, InvalidArgumentError } from 'commander';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { TemporalUnreachableError, connectClient } from '../config/temporal-connection';
import { openParts } from '../activities/parts';
import { LedgerNotFoundError, openExistingLedger, openLedger, type Ledger } from '../activities/ledger';
import { openSource, type ObjectSource } from '../activities/source';
import type { QueueRole } from '../common/preservation';
import { startWorkers } from '../workers/run-worker';
import { enqueue } from './enqueue';
import { operatorName, planFreeze, planReenqueue, planUnfreeze, select, type Plan, type Selector } from './operator';
import { DATE_FORMS, InvalidDateError, parseDate } from './dates';
import { assertObjectIds } from './object-ids';
import { printable, say } from './printable';
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
  try {
    return parseDate(v);
  } catch (e) {
    if (e instanceof InvalidDateError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}
/** A blank selector is a mistake, never "everything" (that is what --all is for). */
function nonBlank(option: string) {
  return (v: string): string => {
    if (!v.trim()) throw new InvalidArgumentError(`${option} must not be empty`);
    return v;
  };
}
function idList(option: string) {
  return (v: string, prev: string[] = []): string[] => {
    const ids = v.split(',').map((s) => s.trim());
    if (ids.some((id) => !id)) throw new InvalidArgumentError(`${option} "${printable(v)}" has an empty object id`);
    return prev.concat(ids);
  };
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
  .description('start one preservation workflow per object in the source (skips objects already preserved and unchanged); with no --ids, every object of the source')
  .option('--limit <n>', 'start at most N workflows', positiveInt)
  .option('--ids <ids>', 'only these object ids (comma-separated, repeatable)', idList('--ids'))
  .option('--since <date>', `only objects modified at or after this date (${DATE_FORMS})`, date)
  .option('--json', 'print each outcome as JSON')
  .action(async (opts: { limit?: number; ids?: string[]; since?: Date; json?: boolean }) =>
    withClient(async ({ client, config }) => {
      const parts = await openParts(config);
      try {
        const outcomes = await enqueue({ client, config, ledger: parts.ledger, source: parts.source }, opts);
        const refused = outcomes.filter((o) => o.action === 'refused').length;
        // Like the other bulk commands: every object is acted on, and the exit says some were refused.
        const exitRefused = () => {
          if (refused) throw new UserError(`${refused} source entr${refused === 1 ? 'y' : 'ies'} refused (see above): rename ${refused === 1 ? 'it' : 'them'} in the source`);
        };
        if (opts.json) {
          console.log(JSON.stringify(outcomes, null, 2));
          return exitRefused();
        }
        for (const o of outcomes) {
          if (o.action === 'started') say(`${o.objectId}: started ${o.workflowId}`);
          else if (o.action === 'already-running') say(`${o.objectId}: already running as ${o.workflowId}; nothing to do`);
          else if (o.action === 'refused') say(`${o.objectId}: refused, ${o.reason}`);
          else say(`${o.objectId}: skipped, ${o.reason}`);
        }
        const started = outcomes.filter((o) => o.action === 'started').length;
        say(`${started} started, ${outcomes.length - started} not started`);
        exitRefused();
      } finally {
        await parts.ledger.close();
      }
    }),
  );

/** Temporal for live details, or undefined (with the reason) when it cannot be reached: the ledger answers alone. */
async function connectIfReachable(config: Config): Promise<{ ctx?: Awaited<ReturnType<typeof connectClient>>; missing?: string }> {
  try {
    return { ctx: await connectClient(config) };
  } catch (e) {
    if (e instanceof TemporalUnreachableError) return { missing: e.message.split(';')[0] };
    throw e;
  }
}

program
  .command('status [ids...]')
  .description('counts per stage and the objects waiting for an operator; with ids, each object\'s timeline (reads the ledger; live details from Temporal when it is reachable)')
  .option('--json', 'print JSON')
  .action(async (ids: string[], opts: { json?: boolean }) => {
    assertObjectIds(ids);
    const config = loadConfig();
    const ledger = await openExistingLedger(config.databaseUrl);
    try {
      if (ids.length === 0) {
        const s = await summarize(ledger);
        console.log(opts.json ? JSON.stringify(s, null, 2) : formatSummary(s));
        return;
      }
      const { ctx, missing } = await connectIfReachable(config);
      try {
        const all = [];
        for (const id of ids) all.push(await objectStatus(ledger, ctx?.client, id));
        console.log(opts.json ? JSON.stringify(all, null, 2) : all.map(formatObjectStatus).join('\n\n'));
        if (missing) console.error(`custody: live details (running stages, retries) missing: ${missing}`);
      } finally {
        await ctx?.connection.close();
      }
    } finally {
      await ledger.close();
    }
  });

/**
 * Plans the action for every id first, so an unknown id stops the command before anything is
 * done; then prints the plan (--dry-run) or carries it out, one line per object. Exits
 * non-zero if any object was refused.
 */
async function actOnEach(ids: string[], plan: (id: string) => Promise<Plan>, opts: { dryRun?: boolean; progress?: boolean } = {}): Promise<void> {
  const plans: Plan[] = [];
  for (const id of ids) plans.push(await plan(id));
  const unknown = plans.filter((p) => p.unknown);
  if (unknown.length) throw new UserError(unknown.map((p) => p.verdict).join('; '));
  if (opts.dryRun) {
    plans.forEach((p) => say(`${p.objectId}: ${p.ok ? p.verdict : `refused: ${p.verdict}`}`));
    const refusedCount = plans.filter((p) => !p.ok).length;
    say(`${plans.length} object(s), ${refusedCount} would be refused; nothing changed (--dry-run)`);
    return;
  }
  const bar = opts.progress && plans.length > 1 && process.stdout.isTTY ? new SingleBar({ format: '{bar} {value}/{total}' }, Presets.shades_classic) : undefined;
  bar?.start(plans.length, 0);
  const lines: string[] = [];
  let refused = 0;
  for (const p of plans) {
    const outcome = await p.execute();
    if (!outcome.ok) refused++;
    const line = `${p.objectId}: ${outcome.message}`;
    if (bar) lines.push(line);
    else say(line);
    bar?.increment();
  }
  bar?.stop();
  lines.forEach(say);
  if (refused) throw new UserError(`${refused} of ${plans.length} not done (see above)`);
}

/** Operator commands act on objects the ledger knows: a missing ledger is refused (before Temporal is asked), not created. */
async function withOperatorDeps<T>(fn: (deps: { client: Client; config: Config; ledger: Ledger; source: ObjectSource }) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const ledger = await openExistingLedger(config.databaseUrl);
  try {
    const { client, connection } = await connectClient(config);
    try {
      return await fn({ client, config, ledger, source: openSource(config.storage.source, config.storage.s3) });
    } finally {
      await connection.close();
    }
  } finally {
    await ledger.close();
  }
}

program
  .command('freeze <ids...>')
  .description('stop objects before their next stage (running) or keep them out of enqueue (not running)')
  .requiredOption('--reason <text>', 'why: shown in status and the Web UI', nonBlank('--reason'))
  .option('--not-yet-enqueued', 'the ids may be objects the source has that custody has not seen yet')
  .option('--dry-run', 'print what would be done to each object, change nothing')
  .action(async (ids: string[], opts: { reason: string; notYetEnqueued?: boolean; dryRun?: boolean }) => {
    assertObjectIds(ids);
    await withOperatorDeps((deps) => actOnEach(ids, (id) => planFreeze(deps, id, opts.reason, operatorName(), opts), opts));
  });

program
  .command('unfreeze <ids...>')
  .description('let frozen objects continue from the stage where they stopped')
  .option('--dry-run', 'print what would be done to each object, change nothing')
  .action(async (ids: string[], opts: { dryRun?: boolean }) => {
    assertObjectIds(ids);
    await withOperatorDeps((deps) => actOnEach(ids, (id) => planUnfreeze(deps, id, operatorName()), opts));
  });

program
  .command('reenqueue [ids...]')
  .description('start rejected, failed or frozen objects again from download, with a new SIP id')
  .option('--all', 'every object waiting for an operator (rejected, failed, frozen, no verdict)')
  .option('--rejected', 'every rejected object')
  .option('--failed', 'every failed object')
  .option('--frozen-reason <text>', 'every frozen object whose reason contains TEXT', nonBlank('--frozen-reason'))
  .option('--force', 'also preserve again an object that is already confirmed (needs --reason)')
  .option('--reason <text>', 'why (recorded in the ledger; required with --force)', nonBlank('--reason'))
  .option('--dry-run', 'print what would be done to each object, or why it would be refused; change nothing')
  .action(async (ids: string[], opts: Selector & { force?: boolean; reason?: string; dryRun?: boolean }) => {
    assertObjectIds(ids);
    if (opts.force && !opts.reason) throw new UserError('--force needs --reason TEXT: a new preservation of a confirmed object is recorded with why');
    await withOperatorDeps(async (deps) => {
      const selected = [...new Set([...ids, ...(await select(deps.ledger, opts))])];
      if (selected.length === 0) {
        const given = ids.length || opts.all || opts.rejected || opts.failed || opts.frozenReason !== undefined;
        throw new UserError(given ? 'nothing to reenqueue: no object matches' : 'nothing to reenqueue: give ids, or --all, --rejected, --failed or --frozen-reason TEXT');
      }
      await actOnEach(selected, (id) => planReenqueue(deps, id, operatorName(), opts), { dryRun: opts.dryRun, progress: true });
    });
  });

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
      for (const r of rows) say(`${r.id}  ${r.paused ? 'paused' : 'active'}  next ${r.next?.toISOString() ?? '-'}  ${r.note ?? ''}`);
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
        say(`${id}: ${verb}`);
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
  const expected = e instanceof UserError || e instanceof ConfigError || e instanceof TemporalUnreachableError || e instanceof LedgerNotFoundError;
  // One line per problem (a config file can have several), each escaped on its own.
  const lines = ((e as Error)?.message ?? String(e)).split('\n').map(printable);
  console.error(`custody: ${lines.join('\n')}`);
  if (!expected && process.env.CUSTODY_DEBUG) console.error(e);
  process.exitCode = 1;
});
