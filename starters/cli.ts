// The `custody` command.
import fs from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../config/config';
import { TemporalUnreachableError, connectClient } from '../config/temporal-connection';
import { LedgerNotFoundError, openExistingLedger, openLedger, type Ledger } from '../ledger';
import { openSource, type ObjectSource } from '../sources';
import type { QueueRole } from '../common/preservation';
import { startWorkers } from '../workers/run-worker';
import { enqueue, enqueueEach, type EnqueueOutcome } from './enqueue';
import { operatorName, planFreeze, planReenqueue, planUnfreeze, select, type OperatorOutcome, type Plan, type Selector } from './operator';
import { DATE_FORMS, DATE_TIME_FORM, InvalidDateError, parseDate, parseDateTime } from './dates';
import { articleIdOf, assertObjectIds, assertObjectOrArticleIds, copyOf, isArticleRef, isCopyRef } from './object-ids';
import { deliverNow, destinationSummary, formatDestinations } from './delivery';
import {
  approveCopy,
  copyStatus,
  datasetsInSource,
  rejectCopy,
  formatCopyStatus,
  planCopyFreeze,
  planCopyReenqueue,
  planCopyUnfreeze,
  sendCopies,
  type CopyOutcome,
} from './copies';
import { COPY_TYPES, DATASET_ID, type CopyType } from '../common/copies';
import {
  approveArticle,
  assertToCome,
  articleStatus,
  formatArticleStatus,
  formatScheduled,
  packageAt,
  planArticleFreeze,
  planArticleReenqueue,
  planArticleUnfreeze,
  rejectArticle,
  scheduledArticles,
  silentUpdateArticle,
  type ArticleOutcome,
} from './articles';
import { feed, packageLocation, type FeedOutcome } from './feed';
import { StorageUrlError, parseStorageUrl } from '../config/storage-location';
import { printable, say, wrap } from './printable';
import { SingleBar, Presets } from 'cli-progress';
import { createSchedules, formatSchedules, listSchedules } from './schedules';
import { formatCursors, listCursors, setCursor } from './cursors';
import { formatObjectStatus, formatSummary, objectStatus, summarize } from './status';
import { UserError } from './user-error';
import { buildId, custodyVersion } from '../config/build-id';
import { doctorFailed, formatDoctor, runDoctor } from './doctor';
import { assertBuildId, findBuild, formatFootprint, itemsOf } from './provenance';
import { formatReconcile, reconcile } from './reconcile';
import { referencePreservationService } from '../services/preservation-service';
import { openStorage } from '../storage';
import { drain, drainRound, formatRunning, resume, stillRunning } from './drain';

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
function dateTime(v: string): Date {
  try {
    return parseDateTime(v);
  } catch (e) {
    if (e instanceof InvalidDateError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}
function positiveSeconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a positive number of seconds`);
  return n;
}
/** A window of whole days back from now: `4d`. */
function dayWindow(v: string): number {
  const m = /^(\d+)d$/.exec(v.trim());
  if (!m || Number(m[1]) < 1) throw new InvalidArgumentError(`"${v}" is not a number of days such as 4d`);
  return Number(m[1]);
}
function regex(v: string): RegExp {
  try {
    return new RegExp(v);
  } catch (e) {
    throw new InvalidArgumentError(`"${v}" is not a regular expression (${(e as Error).message})`);
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

/** The ledger (migrated) for the length of `fn`: the starters read the drain flag there. */
async function withLedger<T>(config: Config, fn: (ledger: Ledger) => Promise<T>): Promise<T> {
  const ledger = openLedger(config.databaseUrl);
  try {
    await ledger.migrate();
    return await fn(ledger);
  } finally {
    await ledger.close();
  }
}

const program = new Command('custody')
  .description('Durable digital-preservation pipelines on Temporal')
  .version(`custody ${custodyVersion()} (build ${buildId()})`, '-V, --version', 'print the version and build id')
  // `custody --version` is the program's; `custody approve --version 2` is the command's own option.
  .enablePositionalOptions();

program
  .command('enqueue')
  .description(
    'start one preservation workflow per object in the source (skips objects already preserved and unchanged); with no --ids, every object of the source',
  )
  .option('--limit <n>', 'start at most N workflows', positiveInt)
  .option('--ids <ids>', 'only these object ids (comma-separated, repeatable)', idList('--ids'))
  .option('--since <date>', `only objects modified at or after this date (${DATE_FORMS})`, date)
  .option('--max <n>', 'start at most N workflows (with --limit, the smaller)', positiveInt)
  .option('--match <regex>', 'only object ids matching this regular expression', regex)
  .option('--changed-within <days>', 'only objects modified within the last N days, such as 4d', dayWindow)
  .option('--dry-run', 'say what would be started; start and record nothing')
  .addOption(
    new Option('--pipeline <pipeline>', 'preservation: objects of storage.source; copy: datasets of copies.source (--ids are dataset ids)')
      .choices(['preservation', 'copy'])
      .default('preservation'),
  )
  .addOption(new Option('--type <type>', 'with --pipeline copy: what is copied').choices(COPY_TYPES).default('data'))
  .option('--json', 'print each outcome as JSON')
  .action(
    async (opts: {
      limit?: number;
      ids?: string[];
      since?: Date;
      max?: number;
      match?: RegExp;
      changedWithin?: number;
      dryRun?: boolean;
      pipeline: 'preservation' | 'copy';
      type: CopyType;
      json?: boolean;
    }) =>
      withClient(async ({ client, config }) => {
        if (opts.pipeline === 'copy') {
          if (opts.max || opts.match || opts.changedWithin || opts.dryRun)
            throw new UserError('--max, --match, --changed-within and --dry-run are for objects (--pipeline preservation)');
          return await enqueueCopies(client, config, opts);
        }
        const ledger = openLedger(config.databaseUrl);
        try {
          await ledger.migrate();
          const deps = { client, config, ledger, source: openSource(config.storage.source, config.storage.s3) };
          const options = { ...opts, changedWithinDays: opts.changedWithin };
          // Text is printed as each object is decided (a large source is never held whole); --json needs them all.
          const count: Partial<Record<EnqueueOutcome['action'], number>> = {};
          let total = 0;
          const outcomes = opts.json ? await enqueue(deps, options) : enqueueEach(deps, options);
          for await (const o of outcomes) {
            count[o.action] = (count[o.action] ?? 0) + 1;
            total++;
            if (opts.json) continue;
            if (o.action === 'started') sayWrapped(`${o.objectId}: started ${o.workflowId}`);
            else if (o.action === 'would-start') sayWrapped(`${o.objectId}: would start ${o.workflowId} (dry run)`);
            else if (o.action === 'already-running') sayWrapped(`${o.objectId}: already running as ${o.workflowId}; nothing to do`);
            else if (o.action === 'refused') sayWrapped(`${o.objectId}: refused, ${o.reason}`);
            else if (o.action === 'held') sayWrapped(`${o.objectId}: held (drained); custody resume starts it`);
            else sayWrapped(`${o.objectId}: skipped, ${o.reason}`);
          }
          const refused = count.refused ?? 0;
          // Like the other bulk commands: every object is acted on, and the exit says some were refused.
          const exitRefused = () => {
            if (refused)
              throw new UserError(
                `${refused} source entr${refused === 1 ? 'y' : 'ies'} refused (see above): rename ${refused === 1 ? 'it' : 'them'} in the source`,
              );
          };
          if (Array.isArray(outcomes)) {
            console.log(JSON.stringify(outcomes, null, 2));
            return exitRefused();
          }
          const started = count[opts.dryRun ? 'would-start' : 'started'] ?? 0;
          say(opts.dryRun ? `dry run: ${started} would start, nothing started` : `${started} started, ${total - started} not started`);
          const held = count.held ?? 0;
          if (held) say(`held (drained): ${held}`);
          exitRefused();
        } finally {
          await ledger.close();
        }
      }),
  );

/** enqueue --pipeline copy: every version not yet copied of each dataset (or of the --ids). */
async function enqueueCopies(
  client: Client,
  config: Config,
  opts: { ids?: string[]; since?: Date; limit?: number; type: CopyType; json?: boolean },
): Promise<void> {
  if (opts.since) throw new UserError('--since is for objects; a dataset version is copied whatever its age');
  for (const id of opts.ids ?? []) datasetId(id);
  const datasets = opts.ids ?? (await datasetsInSource(config));
  const outcomes: CopyOutcome[] = [];
  await withLedger(config, async (ledger) => {
    for (const d of datasets.slice(0, opts.limit))
      outcomes.push(...(await sendCopies({ client, config, ledger }, { datasetId: d, type: opts.type }, operatorName())));
  });
  if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
  else {
    outcomes.forEach((o) => sayWrapped(copyLine(o)));
    say(`${outcomes.filter((o) => o.action === 'sent').length} version(s) sent to ${datasets.length} dataset copy workflow(s)`);
  }
  const refused = outcomes.filter((o) => o.action === 'refused').length;
  if (refused) throw new UserError(`${refused} version${refused === 1 ? '' : 's'} refused (see above)`);
}

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
    "counts per stage and the objects waiting for an operator; with ids, each object's timeline; an article is named article:<id> (e.g. article:00353): its stage, published and pending versions and history (reads the ledger; live details from Temporal when it is reachable)",
  )
  .option('--scheduled', 'list the articles approved for publication at a later time (asks Temporal)')
  .option('--destinations', 'per delivery destination: delivered, skipped, pending, delayed (until when) and failed (reads the ledger)')
  .option('--log', 'with copy:<dataset>:<type> ids: every request made to the deposit API for that copy (secrets redacted)')
  .option('--json', 'print JSON')
  .action(async (ids: string[], opts: { scheduled?: boolean; destinations?: boolean; log?: boolean; json?: boolean }) => {
    if (opts.scheduled) {
      if (ids.length) throw new UserError('--scheduled lists every article with a scheduled publication: give it no ids');
      return withClient(async ({ client }) => {
        const rows = await scheduledArticles(client);
        if (opts.json) console.log(JSON.stringify(rows, null, 2));
        else formatScheduled(rows).forEach((l) => console.log(l));
      });
    }
    if (opts.log && !ids.some(isCopyRef)) throw new UserError('--log shows the deposit API requests of a copy: give it copy:<dataset>:<type>');
    assertObjectOrArticleIds(ids);
    const config = loadConfig();
    const ledger = await openExistingLedger(config.databaseUrl);
    try {
      if (opts.destinations) {
        if (ids.length) throw new UserError('--destinations lists every destination: give it no ids (status ID shows one item at each destination)');
        const rows = await destinationSummary(ledger, config);
        console.log(opts.json ? JSON.stringify(rows, null, 2) : formatDestinations(rows).join('\n'));
        return;
      }
      if (ids.length === 0) {
        const s = await summarize(ledger);
        console.log(opts.json ? JSON.stringify(s, null, 2) : formatSummary(s));
        return;
      }
      const { ctx, missing } = await connectIfReachable(config);
      try {
        const all: Array<Awaited<ReturnType<typeof articleStatus | typeof copyStatus | typeof objectStatus>>> = [];
        for (const id of ids)
          all.push(
            isArticleRef(id)
              ? await articleStatus(ledger, ctx?.client, articleIdOf(id))
              : isCopyRef(id)
                ? await copyStatus(ledger, ctx?.client, copyOf(id), { log: opts.log })
                : await objectStatus(ledger, ctx?.client, id),
          );
        const format = (one: (typeof all)[number]) =>
          'articleId' in one ? formatArticleStatus(one) : 'copyId' in one ? formatCopyStatus(one) : formatObjectStatus(one);
        console.log(opts.json ? JSON.stringify(all, null, 2) : all.map(format).join('\n\n'));
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

/** A progress bar for a long run on a terminal (none for one item, none when the output is not a terminal). */
function progressBar(total: number): SingleBar | undefined {
  if (total < 2 || !process.stdout.isTTY) return undefined;
  const bar = new SingleBar({ format: '{bar} {value}/{total}' }, Presets.shades_classic);
  bar.start(total, 0);
  return bar;
}

/**
 * Plans the action for every id first, so an unknown id stops the command before anything is
 * done; then prints the plan (--dry-run) or carries it out, one line (or, with --json, one
 * object) per object. Exits non-zero if any object was refused.
 */
async function actOnEach(
  ids: string[],
  plan: (id: string) => Promise<Plan>,
  opts: { dryRun?: boolean; progress?: boolean; json?: boolean; summary?: (done: number, refused: number) => string } = {},
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
  const bar = opts.progress && !opts.json ? progressBar(plans.length) : undefined;
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
  if (opts.summary && !opts.json) say(opts.summary(plans.length - refused, refused));
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
  .description('stop objects (or articles, named article:<id>) before their next stage (running) or keep objects out of enqueue (not running)')
  .requiredOption('--reason <text>', 'why: shown in status and the Web UI', nonBlank('--reason'))
  .option('--not-yet-enqueued', 'the ids may be objects the source has that custody has not seen yet')
  .option('--dry-run', 'print what would be done to each object, change nothing')
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: { reason: string; notYetEnqueued?: boolean; dryRun?: boolean; json?: boolean }) => {
    assertObjectOrArticleIds(ids);
    await withOperatorDeps(
      (deps) =>
        actOnEach(
          ids,
          (id) =>
            isArticleRef(id)
              ? planArticleFreeze(deps.client, articleIdOf(id), opts.reason, operatorName())
              : isCopyRef(id)
                ? planCopyFreeze(deps.client, copyOf(id), opts.reason, operatorName())
                : planFreeze(deps, id, opts.reason, operatorName(), opts),
          opts,
        ),
      { source: opts.notYetEnqueued },
    );
  });

program
  .command('unfreeze <ids...>')
  .description('let frozen objects (or articles, named article:<id>) continue from the stage where they stopped')
  .option('--dry-run', 'print what would be done to each object, change nothing')
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: { dryRun?: boolean; json?: boolean }) => {
    assertObjectOrArticleIds(ids);
    await withOperatorDeps((deps) =>
      actOnEach(
        ids,
        (id) =>
          isArticleRef(id)
            ? planArticleUnfreeze(deps.client, articleIdOf(id), operatorName())
            : isCopyRef(id)
              ? planCopyUnfreeze(deps.client, copyOf(id), operatorName())
              : planUnfreeze(deps, id, operatorName()),
        opts,
      ),
    );
  });

program
  .command('reenqueue [ids...]')
  .description(
    'start rejected, failed or frozen objects again from download, with a new SIP id; an article (article:<id>) runs its rejected, failed or frozen package again from fetch',
  )
  .option('--all', 'every object waiting for an operator (rejected, failed, frozen, no verdict)')
  .option('--rejected', 'every rejected object')
  .option('--failed', 'every failed object')
  .option('--frozen-reason <text>', 'every frozen object whose reason contains TEXT', nonBlank('--frozen-reason'))
  .option('--force', 'also preserve again an object that is already confirmed (needs --reason)')
  .option('--reason <text>', 'why (recorded in the ledger; required with --force)', nonBlank('--reason'))
  .option('--build <id>', 'every object, article and copy that build of the workers touched (see `custody find --build`; needs --reason)')
  .option('--dry-run', 'print what would be done to each object, or why it would be refused; change nothing')
  .option('--json', "print each object's outcome as JSON")
  .action(async (ids: string[], opts: Selector & { force?: boolean; reason?: string; build?: string; dryRun?: boolean; json?: boolean }) => {
    assertObjectOrArticleIds(ids);
    if (opts.force && !opts.reason) throw new UserError('--force needs --reason TEXT: a new preservation of a confirmed object is recorded with why');
    if (opts.build !== undefined) assertBuildId(opts.build);
    if (opts.build !== undefined && !opts.reason) throw new UserError('--build needs --reason TEXT: redoing what a build did is recorded with why');
    await withOperatorDeps(async (deps) => {
      const byBuild = opts.build === undefined ? [] : itemsOf(await findBuild(deps.ledger, opts.build));
      const selected = [...new Set([...ids, ...(await select(deps.ledger, opts)), ...byBuild])];
      // --force re-preserves confirmed objects; a build's articles and copies are redone the way each takes.
      const unforced = (id: string) => (byBuild.includes(id) && !ids.includes(id) ? { ...opts, force: undefined } : opts);
      if (selected.length === 0) {
        if (opts.build !== undefined) throw new UserError(`nothing to reenqueue: no object, article or copy in the ledger names build ${opts.build}`);
        const given = ids.length || opts.all || opts.rejected || opts.failed || opts.frozenReason !== undefined;
        throw new UserError(
          given ? 'nothing to reenqueue: no object matches' : 'nothing to reenqueue: give ids, or --all, --rejected, --failed or --frozen-reason TEXT',
        );
      }
      // An item of the build whose workflow is gone is refused on its line; it does not stop the others.
      const tolerant = (id: string, plan: Plan): Plan => (byBuild.includes(id) && !ids.includes(id) ? { ...plan, unknown: false } : plan);
      await actOnEach(
        selected,
        async (id) =>
          tolerant(
            id,
            await (isArticleRef(id)
              ? planArticleReenqueue(deps, articleIdOf(id), operatorName(), unforced(id))
              : isCopyRef(id)
                ? planCopyReenqueue(deps.client, copyOf(id), operatorName(), unforced(id))
                : planReenqueue(deps, id, operatorName(), opts)),
          ),
        {
          dryRun: opts.dryRun,
          json: opts.json,
          progress: true,
          ...(opts.build !== undefined
            ? {
                summary: (done, refused) =>
                  `${done + refused} item(s)${selected.length > byBuild.length ? `, ${byBuild.length} of them` : ''} touched by build ${opts.build}: ${done} reenqueued, ${refused} refused`,
              }
            : {}),
        },
      );
    });
  });

program
  .command('find')
  .description('what one build of the workers touched: objects, packages, articles, copies and deliveries (reads the ledger)')
  .requiredOption('--build <id>', 'the build id (`custody --version`, the CustodyBuildId search attribute, a SIP’s PREMIS agent)')
  .option('--json', 'print JSON')
  .action(async (opts: { build: string; json?: boolean }) => {
    assertBuildId(opts.build);
    const ledger = await openExistingLedger(loadConfig().databaseUrl);
    try {
      const found = await findBuild(ledger, opts.build);
      console.log(opts.json ? JSON.stringify(found, null, 2) : formatFootprint(found).join('\n'));
    } finally {
      await ledger.close();
    }
  });

// The publishing pipeline: packages in, and the operator's decisions on each article.

/** One line per fed key, as `feed` prints it. */
function feedLine(o: FeedOutcome): string {
  if (o.action === 'refused') return `${o.key}: refused: ${o.reason}`;
  const to = `article:${o.articleId} (v${o.version})`;
  if (o.action === 'held') return `${o.key}: held (drained) for ${to}; custody resume sends it`;
  return o.action === 'sent' ? `${o.key}: sent to ${to}` : `${o.key}: would be sent to ${to}`;
}

program
  .command('feed <location>')
  .description(
    "send each article package under LOCATION (a folder or s3://bucket/prefix) to its article's workflow (article:<id>), starting it if needed; a package the workflow already has (same key and ETag) is ignored there, so feeding again is safe",
  )
  .option('--filter <regex>', 'only keys matching this regular expression', regex)
  .option('--rate <seconds>', 'send at most one package every SECONDS seconds', positiveSeconds)
  .addOption(new Option('--mode <mode>', 'publish these packages in this mode, whatever the configured rules say').choices(['automatic', 'preview']))
  .option('--max <n>', 'send at most N packages', positiveInt)
  .option('--dry-run', 'list what would be sent to which article, and what would be refused; send nothing')
  .option('--json', "print each key's outcome as JSON")
  .action(
    async (location: string, opts: { filter?: RegExp; rate?: number; mode?: 'automatic' | 'preview'; max?: number; dryRun?: boolean; json?: boolean }) => {
      let where: string;
      try {
        where = packageLocation(location);
        const parsed = parseStorageUrl(where);
        if (parsed.kind === 'file' && !fs.statSync(parsed.path, { throwIfNoEntry: false })?.isDirectory()) throw new UserError(`no folder at ${where}`);
      } catch (e) {
        if (e instanceof StorageUrlError) throw new UserError(e.message);
        throw e;
      }
      const run = async (client: Client | undefined, config: Config, ledger?: Ledger) => {
        let bar: SingleBar | undefined;
        const outcomes = await feed({ client, config, ledger }, where, {
          filter: opts.filter,
          mode: opts.mode,
          max: opts.max,
          dryRun: opts.dryRun,
          rateMs: opts.rate === undefined ? undefined : opts.rate * 1000,
          onStart: (keys) => (bar = opts.json ? undefined : progressBar(keys)),
          // Without a progress bar each line is printed as soon as it is known.
          onOutcome: (o) => (bar ? bar.increment() : opts.json ? undefined : sayWrapped(feedLine(o))),
        });
        if (bar) {
          bar.setTotal(outcomes.length);
          bar.stop();
          outcomes.forEach((o) => sayWrapped(feedLine(o)));
        }
        const count = (action: FeedOutcome['action']) => outcomes.filter((o) => o.action === action).length;
        const refused = count('refused');
        if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
        else if (outcomes.length === 0) say(`no package under ${where}${opts.filter ? ` matches --filter ${opts.filter.source}` : ''}; nothing sent`);
        else if (opts.dryRun) say(`${count('would-send')} would be sent, ${refused} refused; nothing sent (--dry-run)`);
        else sayWrapped(`${count('sent')} sent, ${refused} refused (an article's workflow ignores a package it already has: same key, same ETag)`);
        if (count('held') && !opts.json) say(`held (drained): ${count('held')}`);
        if (refused && !opts.dryRun)
          throw new UserError(`${refused} key${refused === 1 ? '' : 's'} refused (see ${opts.json ? 'the JSON above' : 'above'}); the others were sent`);
      };
      // A dry run only lists and reads names: it needs no Temporal.
      if (opts.dryRun) await run(undefined, loadConfig());
      else await withClient(({ client, config }) => withLedger(config, (ledger) => run(client, config, ledger)));
    },
  );

// Repository copies: versions of a dataset to the deposit API, in order.

function datasetId(v: string): string {
  if (!DATASET_ID.test(v))
    throw new InvalidArgumentError(`"${printable(v)}" is not a dataset id: letters, digits, . _ - (up to 128, starting with a letter or digit)`);
  return v;
}

function copyLine(o: CopyOutcome): string {
  if (o.action === 'refused') return `${o.copyId} v${o.version}: refused: ${o.reason}`;
  if (o.action === 'held') return `${o.copyId} v${o.version}: held (drained); custody resume sends it`;
  return `${o.copyId} v${o.version}: ${o.action === 'sent' ? 'sent' : 'would be sent'}`;
}

program
  .command('copy')
  .description(
    'copy versions of DATASET to the deposit repository, in version order, through its copy workflow (copy:<dataset>:<type>): one version with --version, else every version in the source not copied or on its way; a version that arrives before its predecessor waits for it',
  )
  .argument('<dataset>', 'the dataset id: its folder in copies.source', datasetId)
  .addOption(new Option('--type <type>', 'what is copied; each type is its own ordered lane').choices(COPY_TYPES).default('data'))
  .option('--version <v>', 'only this version', positiveInt)
  .addOption(new Option('--mode <mode>', 'publish in this mode, whatever the configured default says').choices(['automatic', 'preview']))
  .option('--dry-run', 'say what would be sent and refused; send nothing')
  .option('--json', "print each version's outcome as JSON")
  .action(async (dataset: string, opts: { type: CopyType; version?: number; mode?: 'automatic' | 'preview'; dryRun?: boolean; json?: boolean }) => {
    const run = async (client: Client | undefined, config: Config, ledger?: Ledger) => {
      const outcomes = await sendCopies(
        { client, config, ledger },
        { datasetId: dataset, type: opts.type, version: opts.version, mode: opts.mode, dryRun: opts.dryRun },
        operatorName(),
      );
      if (opts.json) console.log(JSON.stringify(outcomes, null, 2));
      else if (!outcomes.length) sayWrapped(`copy:${dataset}:${opts.type}: every version in the source is copied or on its way; nothing sent`);
      else outcomes.forEach((o) => sayWrapped(copyLine(o)));
      const refused = outcomes.filter((o) => o.action === 'refused').length;
      if (refused) throw new UserError(`${refused} version${refused === 1 ? '' : 's'} refused (see ${opts.json ? 'the JSON above' : 'above'})`);
    };
    if (opts.dryRun) {
      // A dry run reads the source and, when Temporal answers, the workflow's state.
      const config = loadConfig();
      const { ctx } = await connectIfReachable(config);
      try {
        await run(ctx?.client, config);
      } finally {
        await ctx?.connection.close();
      }
    } else await withClient(({ client, config }) => withLedger(config, (ledger) => run(client, config, ledger)));
  });

program
  .command('deliver <id>')
  .description(
    'deliver an accepted package (object id) or the latest published version of an article (article:<id>) again: to the destinations the rules select, or those named with --to; what a destination already holds unchanged is skipped',
  )
  .option('--to <destinations>', 'only these destinations (comma-separated, repeatable)', idList('--to'))
  .option('--wait', 'wait until every destination has it (or failed), and print each outcome')
  .option('--json', 'print the outcome as JSON')
  .action(async (id: string, opts: { to?: string[]; wait?: boolean; json?: boolean }) =>
    withClient(async ({ client, config }) => {
      const ledger = await openExistingLedger(config.databaseUrl);
      try {
        const done = await deliverNow({ client, config, ledger }, id, opts, operatorName());
        if (opts.json) return console.log(JSON.stringify(done, null, 2));
        sayWrapped(`${id}: delivering to ${done.destinations.join(', ')} (${done.workflowId})`);
        for (const o of done.outcomes ?? [])
          sayWrapped(`  ${o.destination}: ${o.state}${o.state === 'failed' ? `: ${o.error}` : `, ${o.sent} of ${o.files} file(s) sent`}`);
        const failed = (done.outcomes ?? []).filter((o) => o.state === 'failed').length;
        if (failed) throw new UserError(`${failed} destination${failed === 1 ? '' : 's'} failed (see above)`);
      } finally {
        await ledger.close();
      }
    }),
  );

/** Prints what an article's Update did, or its refusal in one line with a non-zero exit. */
function reportArticle(o: ArticleOutcome, json?: boolean): void {
  if (json) console.log(JSON.stringify(o, null, 2));
  else if (o.ok) sayWrapped(`${o.objectId}: ${o.message}`);
  if (!o.ok) throw new UserError(`${o.objectId}: refused: ${o.message}`);
}

const ARTICLE_ARG = 'the article: its id (00353) or article:<id>; or a copy, copy:<dataset>:<type>';

program
  .command('approve')
  .description(
    'publish the version of an article (or of a copy, copy:<dataset>:<type>) that waits for approval (preview mode): now, or (articles) at --at TIME',
  )
  .argument('<article>', ARTICLE_ARG)
  .option('--version <v>', 'the version you mean: refused if another one is waiting', positiveInt)
  .option('--at <time>', `publish at this time (${DATE_TIME_FORM}); approving again moves it`, dateTime)
  .option('--json', 'print the outcome as JSON')
  .action(async (article: string, opts: { version?: number; at?: Date; json?: boolean }) => {
    if (isCopyRef(article)) {
      const ref = copyOf(article);
      if (opts.at) throw new UserError('--at schedules an article; a copy is published when approved');
      return withClient(async ({ client }) => reportArticle(await approveCopy(client, ref, opts, operatorName()), opts.json));
    }
    const articleId = articleIdOf(article, { bare: true });
    assertToCome(opts.at);
    await withClient(async ({ client }) => reportArticle(await approveArticle(client, articleId, opts, operatorName()), opts.json));
  });

program
  .command('reject')
  .description(
    'reject the version of an article (or a copy, copy:<dataset>:<type>) waiting for a decision (awaiting approval, scheduled, rejected or failed), with the reason on record',
  )
  .argument('<article>', ARTICLE_ARG)
  .option('--version <v>', 'the version you mean: refused if another one is waiting', positiveInt)
  .requiredOption('--reason <text>', "why: recorded in the article's history", nonBlank('--reason'))
  .option('--json', 'print the outcome as JSON')
  .action(async (article: string, opts: { version?: number; reason: string; json?: boolean }) => {
    if (isCopyRef(article)) {
      const ref = copyOf(article);
      return withClient(async ({ client }) => reportArticle(await rejectCopy(client, ref, opts, operatorName()), opts.json));
    }
    const articleId = articleIdOf(article, { bare: true });
    await withClient(async ({ client }) => reportArticle(await rejectArticle(client, articleId, opts, operatorName()), opts.json));
  });

program
  .command('silent-update')
  .description(
    "replace the published version of an article in place (files and record, no notification) with PACKAGE: s3://bucket/prefix/<name>.zip or a file; refused unless PACKAGE is that article's published version",
  )
  .argument('<article>', ARTICLE_ARG)
  .argument('<package>', 'where the package is: s3://bucket/prefix/<name>.zip, a file path or a file:// URL')
  .option('--json', 'print the outcome as JSON')
  .action(async (article: string, where: string, opts: { json?: boolean }) => {
    const articleId = articleIdOf(article, { bare: true });
    await withClient(async ({ client, config }) => {
      const pkg = await packageAt(config, where);
      reportArticle(await silentUpdateArticle(client, articleId, pkg, operatorName()), opts.json);
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

const cursors = program
  .command('cursors')
  .description("the scheduled harvest's cursor in each source: how far it has got, who moved it last and why")
  .option('--json', 'print JSON')
  .action(async (opts: { json?: boolean }) => {
    const config = loadConfig();
    const ledger = await openExistingLedger(config.databaseUrl);
    try {
      await ledger.migrate();
      const list = await listCursors(config, ledger);
      if (opts.json) console.log(JSON.stringify(list, null, 2));
      else formatCursors(list).forEach((l) => console.log(l));
    } finally {
      await ledger.close();
    }
  });
cursors
  .command('set <source>')
  .description("move a source's cursor back: the next harvest re-reads every object changed at or after --to (recorded with who and why)")
  .requiredOption('--to <time>', `the new position (${DATE_FORMS})`, date)
  .requiredOption('--reason <text>', 'why (recorded in the ledger)', nonBlank('--reason'))
  .option('--disaster-recovery', 'allow a --to further back than harvest.maxBackfill')
  .option('--json', 'print the new cursor as JSON')
  .action(async (source: string, opts: { to: Date; reason: string; disasterRecovery?: boolean; json?: boolean }) => {
    const config = loadConfig();
    const ledger = await openExistingLedger(config.databaseUrl);
    try {
      await ledger.migrate();
      const row = await setCursor({ config, ledger }, source, { ...opts, by: operatorName() });
      if (opts.json) console.log(JSON.stringify(row, null, 2));
      else say(`${source}: cursor moved to ${row.position.at} by ${row.updatedBy}: ${row.reason}`);
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

// Drain and resume: a maintenance stop without re-enqueueing anything by hand (starters/drain.ts).
program
  .command('drain')
  .description(
    'pause the custody schedules, hold new work from enqueue, feed and the harvest (recorded, not refused) and let running workflows finish their step and start no other; prints what is still running',
  )
  .requiredOption('--reason <text>', 'why (shown by status and the Web UI)', nonBlank('--reason'))
  .option('--wait', 'wait until no step is running: then workers and server can be stopped')
  .action(async (opts: { reason: string; wait?: boolean }) =>
    withClient(({ client, config }) =>
      withLedger(config, async (ledger) => {
        const request = { by: operatorName(), reason: opts.reason };
        const out = await drain({ client, ledger }, request);
        const st = out.state;
        sayWrapped(`${out.already ? 'already drained' : 'drained'} since ${st.since.replace(/\.\d{3}Z$/, 'Z')} by ${st.by}`);
        sayWrapped(`  reason: ${st.reason}`);
        if (out.paused.length) sayWrapped(`paused schedules: ${out.paused.join(', ')}`);
        const signalled = new Set<string>();
        let busy = await drainRound(client, request, signalled);
        let shown = formatRunning(busy).join('\n');
        sayWrapped(`signalled ${signalled.size} running workflow${signalled.size === 1 ? '' : 's'} to start no new step`);
        shown.split('\n').forEach((l) => sayWrapped(l));
        while (opts.wait && stillRunning(busy).length) {
          await new Promise((r) => setTimeout(r, 1000));
          busy = await drainRound(client, request, signalled);
          const now = formatRunning(busy).join('\n');
          if (now !== shown) (shown = now).split('\n').forEach((l) => sayWrapped(l));
        }
      }),
    ),
  );
program
  .command('resume')
  .description('undo custody drain: unpause the schedules it paused, let the workflows go on and start the work held meanwhile')
  .action(async () =>
    withClient(({ client, config }) =>
      withLedger(config, async (ledger) => {
        const out = await resume({ client, ledger, config }, { by: operatorName() });
        if (out.drained) sayWrapped(`resumed (drained since ${out.drained.since.replace(/\.\d{3}Z$/, 'Z')} by ${out.drained.by})`);
        if (out.unpaused.length) sayWrapped(`unpaused schedules: ${out.unpaused.join(', ')}`);
        sayWrapped(`signalled ${out.signalled} running workflow${out.signalled === 1 ? '' : 's'} to go on`);
        for (const w of out.started) sayWrapped(`${w.kind} ${w.itemId}: ${w.action}`);
        say(`held work started: ${out.started.length}`);
      }),
    ),
  );

program
  .command('doctor')
  .description('check whether this deployment can work: config, Temporal, ledger, storage, services, workers, disk, versions')
  .option('--json', 'print the checks as JSON')
  .action(async (opts: { json?: boolean }) => {
    const results = await runDoctor();
    if (opts.json) console.log(JSON.stringify(results, null, 2));
    else formatDoctor(results).forEach((l) => console.log(l));
    // A check that timed out may leave its request open: it must not keep the command waiting.
    process.exit(doctorFailed(results) ? 1 : 0);
  });

program
  .command('reconcile')
  .description(
    'after a ledger restored from a backup: compare it with Temporal (where each object is) and the preservation service (what it received and decided), one line per disagreement with its fix; exit 0 when they agree, 1 when disagreements were found and not applied (or a fix failed, or the service did not answer: the rest is still compared)',
  )
  .option('--apply', "apply each fix (each recorded as a 'reconciled' event), then check again; exit 0 when nothing remains")
  .option('--ids <ids>', 'only these object ids (comma-separated, repeatable)', idList('--ids'))
  .option('--json', 'print the report as JSON')
  .action(async (opts: { apply?: boolean; ids?: string[]; json?: boolean }) => {
    if (opts.ids) assertObjectIds(opts.ids);
    await withClient(async ({ client, config }) => {
      const ledger = await openExistingLedger(config.databaseUrl);
      try {
        const service = referencePreservationService({ url: config.service.url, transfer: openStorage(config.service.transfer, config.storage.s3) });
        const reports = openStorage(config.storage.reports, config.storage.s3);
        const r = await reconcile({ client, ledger, service, reports, config }, { ids: opts.ids, apply: opts.apply, by: operatorName() });
        if (opts.json) console.log(JSON.stringify(r, null, 2));
        else formatReconcile(r, { applied: opts.apply }).forEach((l) => console.log(l));
        if (r.serviceError) throw new UserError(r.serviceError);
        if (r.failed?.length) throw new UserError(`${r.failed.length} fix${r.failed.length === 1 ? '' : 'es'} failed (see above)`);
        if (r.disagreements.length) process.exitCode = 1;
      } finally {
        await ledger.close();
      }
    });
  });

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
