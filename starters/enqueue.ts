// `custody enqueue`: one preserveObject workflow per object the source offers, skipping what
// is already preserved and unchanged since.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TASK_QUEUES, preserveWorkflowId } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { harvestSources, type Config } from '../config/config';
import type { Ledger, ObjectRow } from '../ledger';
import type { ObjectSource } from '../sources';
import { preserveObject } from '../workflows';
import { pipelineSettings } from './pipeline-settings';
import { assertObjectId, assertObjectIds, objectIdProblem } from './object-ids';
import { UserError } from './user-error';

export interface EnqueueOptions {
  limit?: number;
  ids?: string[];
  since?: Date;
  /** Start (or, dry, would start) at most this many; with --limit, the smaller counts. */
  max?: number;
  /** Only object ids this matches. */
  match?: RegExp;
  /** Only objects modified within this many days (a window of whole days back from now). */
  changedWithinDays?: number;
  /** Say what would be started; start and record nothing. */
  dryRun?: boolean;
  /** Where --changed-within counts back from (default: now). */
  now?: Date;
  /** Workflow starts in flight at once (default ENQUEUE_CONCURRENCY). */
  concurrency?: number;
}

/**
 * Starts in flight at once. One at a time, each start waited a full server round trip (about
 * 280 ms under load: half of a 200-object run); more than this only queues inside the server.
 */
export const ENQUEUE_CONCURRENCY = 16;

export type EnqueueOutcome =
  | { objectId: string; action: 'started'; workflowId: string; runId: string }
  | { objectId: string; action: 'would-start'; workflowId: string }
  | { objectId: string; action: 'already-running'; workflowId: string }
  /** Custody is drained: recorded as held, started by `custody resume`. */
  | { objectId: string; action: 'held'; workflowId: string }
  | { objectId: string; action: 'skipped'; reason: string }
  /** A source entry that cannot be an object: its name breaks the id rule, so nothing is started or recorded. */
  | { objectId: string; action: 'refused'; reason: string };

// How many listed objects are looked up in the ledger at once: one query per batch, not per object.
const LOOKUP_BATCH = 500;

export async function enqueue(deps: { client: Client; config: Config; ledger: Ledger; source: ObjectSource }, opts: EnqueueOptions): Promise<EnqueueOutcome[]> {
  const outcomes: EnqueueOutcome[] = [];
  for await (const o of enqueueEach(deps, opts)) outcomes.push(o);
  return outcomes;
}

type Listed = Awaited<ReturnType<ObjectSource['list']>>[number];

/** The source's objects that --ids and --match leave, as the source lists them (streamed). */
async function* candidatesOf(source: ObjectSource, config: Config, opts: EnqueueOptions): AsyncGenerator<Listed> {
  if (opts.ids) {
    // Every id is checked before anything starts; only the named objects are held meanwhile.
    const wanted = new Set(opts.ids);
    const found: Listed[] = [];
    for await (const o of source.listEach()) if (wanted.has(o.id)) found.push(o);
    const known = new Set(found.map((o) => o.id));
    const unknown = opts.ids.filter((id) => !known.has(id));
    if (unknown.length)
      throw new UserError(`unknown object id${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not in the source ${config.storage.source}`);
    for (const o of found) if (!opts.match || opts.match.test(o.id)) yield o;
    return;
  }
  for await (const o of source.listEach()) if (!opts.match || opts.match.test(o.id)) yield o;
}

/** enqueue, one outcome at a time: the source is listed as it goes and the ledger read in batches, so memory stays flat. */
export async function* enqueueEach(
  deps: { client: Client; config: Config; ledger: Ledger; source: ObjectSource },
  opts: EnqueueOptions,
): AsyncGenerator<EnqueueOutcome> {
  const { client, config, ledger, source } = deps;
  // An empty list is a mistake (`--ids ""`), not "every object": no ids given is undefined.
  if (opts.ids) {
    if (opts.ids.length === 0) throw new UserError('--ids names no object id');
    assertObjectIds(opts.ids);
  }
  const changedSince = opts.changedWithinDays !== undefined ? new Date((opts.now ?? new Date()).getTime() - opts.changedWithinDays * 86_400_000) : undefined;
  const limit = Math.min(opts.limit ?? Infinity, opts.max ?? Infinity);
  const state = { started: 0 };

  let batch: Listed[] = [];
  for await (const candidate of candidatesOf(source, config, opts)) {
    if (state.started >= limit) return;
    batch.push(candidate);
    if (batch.length < LOOKUP_BATCH) continue;
    yield* decideBatch({ client, config, ledger }, batch, opts, changedSince, limit, state);
    batch = [];
  }
  yield* decideBatch({ client, config, ledger }, batch, opts, changedSince, limit, state);
}

async function* decideBatch(
  deps: { client: Client; config: Config; ledger: Ledger },
  batch: Listed[],
  opts: EnqueueOptions,
  changedSince: Date | undefined,
  limit: number,
  state: { started: number },
): AsyncGenerator<EnqueueOutcome> {
  const { ledger } = deps;
  const lookup = batch.map((c) => c.id).filter((id) => !objectIdProblem(id));
  const rows = new Map((lookup.length ? await ledger.listObjects({ ids: lookup }) : []).map((r) => [r.id, r]));
  const concurrency = Math.max(1, opts.concurrency ?? ENQUEUE_CONCURRENCY);
  // Outcomes in the source's order; a start is sent at once and its outcome given when its turn comes.
  const ahead: Array<Promise<EnqueueOutcome>> = [];
  let inFlight = 0;
  try {
    for (const candidate of batch) {
      // --limit counts starts: a start in flight may still turn out already running, so wait for it.
      while (ahead.length && (inFlight >= concurrency || state.started + inFlight >= limit)) yield await ahead.shift()!;
      if (state.started >= limit) break;
      const decided = decide(candidate, rows.get(candidate.id), opts, changedSince);
      if (decided !== 'start') {
        if (decided.action === 'would-start') state.started++;
        ahead.push(Promise.resolve(decided));
        continue;
      }
      const modifiedAt = 'modifiedAt' in candidate ? candidate.modifiedAt : undefined;
      const title = 'title' in candidate ? candidate.title : candidate.id;
      inFlight++;
      const start = startPreservation(deps, { objectId: candidate.id, title, modifiedAt, reason: 'enqueue' })
        .then((outcome) => {
          if (outcome.action === 'started') state.started++;
          return outcome;
        })
        .finally(() => inFlight--);
      // Rejected while waiting its turn is not unhandled: its turn rethrows it.
      start.catch(() => undefined);
      ahead.push(start);
    }
    while (ahead.length) yield await ahead.shift()!;
  } catch (e) {
    // A failed start stops further starts, but those already sent are waited for: they run.
    await Promise.allSettled(ahead);
    throw e;
  }
}

/** What enqueue does with one listed object, short of starting it. */
function decide(candidate: Listed, row: ObjectRow | undefined, opts: EnqueueOptions, changedSince: Date | undefined): EnqueueOutcome | 'start' {
  const objectId = candidate.id;
  const badId = objectIdProblem(objectId);
  // Not dropped: said at every enqueue until the source renames it.
  if (badId) return { objectId, action: 'refused', reason: `${'error' in candidate ? `${candidate.error}; ` : ''}its name cannot be an object id: ${badId}` };
  // An object whose object.json is broken is still enqueued: the workflow records why it cannot go on.
  const modifiedAt = 'modifiedAt' in candidate ? candidate.modifiedAt : undefined;
  if (opts.since && modifiedAt && Date.parse(modifiedAt) < opts.since.getTime())
    return { objectId, action: 'skipped', reason: `not modified since ${opts.since.toISOString()}` };
  if (changedSince && (!modifiedAt || Date.parse(modifiedAt) < changedSince.getTime()))
    return { objectId, action: 'skipped', reason: `not modified within ${opts.changedWithinDays}d (since ${changedSince.toISOString()})` };
  if (row?.frozen)
    return { objectId, action: 'skipped', reason: `frozen by ${row.frozenBy ?? 'an operator'}: ${row.frozenReason ?? ''} (custody unfreeze ${objectId})` };
  if (row?.preservedModifiedAt && modifiedAt && Date.parse(modifiedAt) <= Date.parse(row.preservedModifiedAt))
    return { objectId, action: 'skipped', reason: `already preserved (source unchanged since ${row.preservedModifiedAt})` };
  if (opts.dryRun) return { objectId, action: 'would-start', workflowId: preserveWorkflowId(objectId) };
  return 'start';
}

/** Starts one object's workflow; a workflow already running for it is left alone. */
export async function startPreservation(
  deps: { client: Client; config: Config; ledger: Ledger },
  o: { objectId: string; title?: string; modifiedAt?: string; attempt?: number; reason: string; source?: string },
): Promise<EnqueueOutcome> {
  assertObjectId(o.objectId);
  const { client, config, ledger } = deps;
  const workflowId = preserveWorkflowId(o.objectId);
  if (await ledger.drain.state()) {
    await ledger.drain.hold({ kind: 'preserve', itemId: o.objectId, args: o, heldBy: o.reason, at: new Date().toISOString() });
    return { objectId: o.objectId, action: 'held', workflowId };
  }
  // A reenqueue names no title: the ledger has it from the object's earlier attempt.
  const title = o.title ?? (await ledger.getObject(o.objectId))?.title;
  try {
    const handle = await client.workflow.start(preserveObject, {
      workflowId,
      taskQueue: TASK_QUEUES.io,
      args: [
        { objectId: o.objectId, settings: pipelineSettings(config), attempt: o.attempt ?? 1, reason: o.reason, ...(o.source ? { source: o.source } : {}) },
      ],
      typedSearchAttributes: [
        { key: SA.pipeline, value: 'preservation' },
        { key: SA.objectId, value: o.objectId },
        { key: SA.stage, value: 'queued' },
        { key: SA.state, value: 'queued' },
        { key: SA.frozen, value: false },
      ],
      // The Web UI's User Metadata: which object this is, without reading the workflow's input.
      staticSummary: `preserve ${o.objectId}${title && title !== o.objectId ? `: ${title.replace(/\s+/g, ' ')}` : ''}`,
      staticDetails: [
        `object id: ${o.objectId}`,
        `title: ${title ?? '(not known yet)'}`,
        `source: ${o.source ? `${o.source} (${harvestSources(config).find((s) => s.name === o.source)?.location ?? 'not in harvest.sources'})` : config.storage.source}`,
        `started by: ${o.reason}`,
      ].join('\n'),
    });
    if (o.modifiedAt) await ledger.upsertObject({ id: o.objectId, title: o.title ?? o.objectId, sourceModifiedAt: o.modifiedAt });
    return { objectId: o.objectId, action: 'started', workflowId, runId: handle.firstExecutionRunId };
  } catch (e) {
    if (!(e instanceof WorkflowExecutionAlreadyStartedError)) throw e;
    return { objectId: o.objectId, action: 'already-running', workflowId };
  }
}
