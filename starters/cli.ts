// The `custody` command.
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { TemporalUnreachableError, connectClient } from '../config/temporal-connection';
import { LedgerNotFoundError, openExistingLedger, openLedger, type Ledger } from '../ledger';
import { openSource, type ObjectSource } from '../sources';
import type { QueueRole } from '../common/preservation';
import { startWorkers } from '../workers/run-worker';
import { enqueue } from './enqueue';
import { operatorName, planFreeze, planReenqueue, planUnfreeze, select, type OperatorOutcome, type Plan, type Selector } from './operator';
import { DATE_FORMS, InvalidDateError, parseDate } from './dates';
import { assertObjectIds } from './object-ids';
import { printable, say, wrap } from './printable';
import { SingleBar, Presets } from 'cli-progress';
import { createSchedules, formatSchedules, listSchedules } from './schedules';
import { formatObjectStatus, formatSummary, objectStatus, summarize } from './status';
import { UserError } from './user-error';
import { buildId, custodyVersion } from '../config/build-id';

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
  .version(`custody ${custodyVersion()} (build ${buildId()})`, '-V, --version', 'print the version and build id');

program
  .command('enqueue')
  .description(
    'start one preservation workflow per object in the source (skips objects already preserved and unchanged); with no --ids, every object of the source',
  )
  .option('--limit <n>', 'start at most N workflows', positiveInt)
  .option('--ids <ids>', 'only these object ids (comma-separated, repeatable)', idList('--ids'))
  .option('--since <date>', `only objects modified at or after this date (${DATE_FORMS})`, date)
  .option('--json', 'print each outcome as JSON')
  .action(async (opts: { limit?: number; ids?: string[]; since?: Date; json?: boolean }) =>
    withClient(async ({ client, config }) => {
      const ledger = openLedger(config.databaseUrl);
      try {
        await ledger.migrate();
        const outcomes = await enqueue({ client, config, ledger, source: openSource(config.storage.source, config.storage.s3) }, opts);
        const refused = outcomes.filter((o) => o.action === 'refused').length;
        // Like the other bulk commands: every object is acted on, and the exit says some were refused.
        const exitRefused = () => {
          if (refused)
            throw new UserError(
              `${refused} source entr${refused === 1 ? 'y' : 'ies'} refused (see above): rename ${refused === 1 ? 'it' : 'them'} in the source`,
            );
        };
        if (opts.json) {
          console.log(JSON.stringify(outcomes, null, 2));
          return exitRefused();
        }
        for (const o of outcomes) {
          if (o.action === 'started') sayWrapped(`${o.objectId}: started ${o.workflowId}`);
          else if (o.action === 'already-running') sayWrapped(`${o.objectId}: already running as ${o.workflowId}; nothing to do`);
          else if (o.action === 'refused') sayWrapped(`${o.objectId}: refused, ${o.reason}`);
          else sayWrapped(`${o.objectId}: skipped, ${o.reason}`);
        }
        const started = outcomes.filter((o) => o.action === 'started').length;
        say(`${started} started, ${outcomes.length - started} not started`);
        exitRefused();
      } finally {
        await ledger.close();
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
  .description(
    "counts per stage and the objects waiting for an operator; with ids, each object's timeline (reads the ledger; live details from Temporal when it is reachable)",
  )
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

/** One line of human output, escaped and wrapped at the terminal's 80 columns. */
function sayWrapped(line: string): void {
  wrap(printable(line)).forEach((l) => console.log(l));
}

/**
 * Plans the action for every id first, so an unknown id stops the command before anything is
 * done; then prints the plan (--dry-run) or carries it out, one line (or, with --json, one
 * object) per object. Exits non-zero if any object was refused.
 */
async function actOnEach(
  ids: string[],
  plan: (id: string) => Promise<Plan>,
  opts: { dryRun?: boolean; progress?: boolean; json?: boolean } = {},
): Promise<void> {
  const plans: Plan[] = [];
  for (const id of ids) plans.push(await plan(id));
  const unknown = plans.filter((p) => p.unknown);
  if (unknown.length) throw new UserError(unknown.map((p) => p.verdict).join('; '));
  if (opts.dryRun) {
    const refusedCount = plans.filter((p) => !p.ok).length;
    if (opts.json) {
      console.log(
        JSON.stringify(
          plans.map((p): OperatorOutcome & { dryRun: true } => ({ objectId: p.objectId, ok: p.ok, message: p.verdict, dryRun: true })),
          null,
          2,
        ),
      );
      return;
    }
    plans.forEach((p) => say(`${p.objectId}: ${p.ok ? p.verdict : `refused: ${p.verdict}`}`));
    say(`${plans.length} object(s), ${refusedCount} would be refused; nothing changed (--dry-run)`);
    return;
  }
  const bar =
    opts.progress && !opts.json && plans.length > 1 && process.stdout.isTTY
      ? new SingleBar({ format: '{bar} {value}/{total}' }, Presets.shades_classic)
      : undefined;
  bar?.start(plans.length, 0);
  const outcomes: OperatorOutcome[] = [];
  for (const p of plans) {
    const outcome = await p.execute();
    outcomes.push(outcome);
    // Without a progress bar each line is printed as soon as it is known.
    if (!bar && !opts.json) say(`${p.objectId}: ${outcome.message}`);
    bar?.increment();
  }
  bar?.stop();
  if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
  else if (bar) outcomes.forEach((o) => say(`${o.objectId}: ${o.message}`));
  const refused = outcomes.filter((o) => !o.ok).length;
  if (refused) throw new UserError(`${refused} of ${plans.length} not done (see ${opts.json ? 'the JSON above' : 'above'})`);
}

/**
 * Operator commands act on objects the ledger knows: a missing ledger is refused (before Temporal
 * is asked), not created. Only `freeze --not-yet-enqueued` needs the source.
 */
async function withOperatorDeps<T>(
  fn: (deps: { client: Client; config: Config; ledger: Ledger; source?: ObjectSource }) => Promise<T>,
  needs: { source?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  const ledger = await openExistingLedger(config.databaseUrl);
  try {
    const { client, connection } = await connectClient(config);
    try {
      return await fn({ client, config, ledger, source: needs.source ? openSource(config.storage.source, config.storage.s3) : undefined });
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
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: { reason: string; notYetEnqueued?: boolean; dryRun?: boolean; json?: boolean }) => {
    assertObjectIds(ids);
    await withOperatorDeps((deps) => actOnEach(ids, (id) => planFreeze(deps, id, opts.reason, operatorName(), opts), opts), { source: opts.notYetEnqueued });
  });

program
  .command('unfreeze <ids...>')
  .description('let frozen objects continue from the stage where they stopped')
  .option('--dry-run', 'print what would be done to each object, change nothing')
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: { dryRun?: boolean; json?: boolean }) => {
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
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: Selector & { force?: boolean; reason?: string; dryRun?: boolean; json?: boolean }) => {
    assertObjectIds(ids);
    if (opts.force && !opts.reason) throw new UserError('--force needs --reason TEXT: a new preservation of a confirmed object is recorded with why');
    await withOperatorDeps(async (deps) => {
      const selected = [...new Set([...ids, ...(await select(deps.ledger, opts))])];
      if (selected.length === 0) {
        const given = ids.length || opts.all || opts.rejected || opts.failed || opts.frozenReason !== undefined;
        throw new UserError(
          given ? 'nothing to reenqueue: no object matches' : 'nothing to reenqueue: give ids, or --all, --rejected, --failed or --frozen-reason TEXT',
        );
      }
      await actOnEach(selected, (id) => planReenqueue(deps, id, operatorName(), opts), { dryRun: opts.dryRun, json: opts.json, progress: true });
    });
  });

program
  .command('db')
  .description('the ledger database')
  .command('migrate')
  .description('apply the ledger migrations (also done at start-up; safe to run twice)')
  .option('--json', 'print the result as JSON')
  .action(async (opts: { json?: boolean }) => {
    const config = loadConfig();
    const ledger = openLedger(config.databaseUrl);
    try {
      await ledger.migrate();
      // A PostgreSQL URL may carry a password: only a SQLite file is named.
      const postgres = /^postgres/i.test(config.databaseUrl);
      if (opts.json)
        console.log(
          JSON.stringify({ upToDate: true, database: postgres ? 'postgresql' : 'sqlite', ...(postgres ? {} : { path: config.databaseUrl }) }, null, 2),
        );
      else console.log(`ledger is up to date (${postgres ? 'PostgreSQL' : `SQLite ${config.databaseUrl}`})`);
    } finally {
      await ledger.close();
    }
  });

const schedules = program.command('schedules').description('the Temporal Schedules that poll the preservation service');
schedules
  .command('create')
  .description("create (or update to the current config) custody's schedules")
  .action(async () => withClient(async ({ client, config }) => (await createSchedules(client, config)).forEach((l) => console.log(l))));
schedules
  .command('list')
  .description('list schedules with their state and next run')
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) =>
    withClient(async ({ client }) => {
      const rows = await listSchedules(client);
      if (opts.json) console.log(JSON.stringify(rows, null, 2));
      else if (!rows.length) console.log('no schedules (create them with `custody schedules create`)');
      else formatSchedules(rows).forEach((l) => console.log(l));
    }),
  );
for (const [name, verb] of [
  ['pause', 'paused'],
  ['unpause', 'unpaused'],
  ['trigger', 'triggered'],
] as const) {
  schedules
    .command(`${name} <scheduleId>`)
    .description(`${name} a schedule`)
    .option('--note <text>', 'why (kept with the schedule)')
    .action(async (id: string, opts: { note?: string }) =>
      withClient(async ({ client }) => {
        const handle = client.schedule.getHandle(id);
        try {
          if (name === 'trigger') await handle.trigger();
          else await handle[name](opts.note ?? `via custody schedules ${name}`);
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
    // How this process runs, so a deployment can be told from a checkout at a glance.
    const runsOn = Object.keys(require.cache).some((file) => file.includes(`${path.sep}node_modules${path.sep}tsx${path.sep}`))
      ? 'TypeScript via tsx'
      : 'compiled';
    console.log(
      `worker serving ${queues.join(', ')} (pid ${process.pid}, build ${buildId()}, ${runsOn}, Node ${process.version}); Ctrl-C stops it after running activities finish`,
    );
    await workers.done;
  });

/** Commander's usage errors as custody's other errors: one line, naming the bad word and where help is. */
function oneLineUsageErrors(cmd: Command, path: string): void {
  cmd.configureOutput({
    outputError: (message, write) =>
      write(
        `custody: ${message
          .replace(/^error: /, '')
          .trim()
          .replace(/\s*\n\s*/g, ' ')} (see \`${path} --help\`)\n`,
      ),
  });
  for (const sub of cmd.commands) oneLineUsageErrors(sub, `${path} ${sub.name()}`);
}

/**
 * Commander shows the help of the parent for `custody nosuch --help` and exits 0, so a typo
 * looks like success: an unknown command word is refused before commander sees the arguments.
 * Only the top level and the command groups take a command word; their options take no value.
 */
function refuseUnknownCommand(args: string[]): void {
  let cmd = program;
  let path = 'custody';
  for (const word of args) {
    if (word.startsWith('-')) continue;
    if (cmd.commands.length === 0 || word === 'help') return;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) {
      process.stderr.write(`custody: unknown command '${printable(word)}' (see \`${path} --help\`)\n`);
      process.exit(1);
    }
    cmd = sub;
    path = `${path} ${word}`;
  }
}

oneLineUsageErrors(program, 'custody');
refuseUnknownCommand(process.argv.slice(2));
program.parseAsync(process.argv).catch((e: unknown) => {
  const expected = e instanceof UserError || e instanceof ConfigError || e instanceof TemporalUnreachableError || e instanceof LedgerNotFoundError;
  // One line per problem (a config file can have several), each escaped on its own.
  const lines = ((e as Error)?.message ?? String(e)).split('\n').map(printable);
  console.error(`custody: ${lines.join('\n')}`);
  if (!expected && process.env.CUSTODY_DEBUG) console.error(e);
  process.exitCode = 1;
});
