// `custody enqueue`: one preserveObject workflow per object the source offers, skipping what
// is already preserved and unchanged since.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TASK_QUEUES, preserveWorkflowId } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { harvestSources, type Config } from '../config/config';
import type { Ledger } from '../ledger';
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

export async function enqueue(deps: { client: Client; config: Config; ledger: Ledger; source: ObjectSource }, opts: EnqueueOptions): Promise<EnqueueOutcome[]> {
  const { client, config, ledger, source } = deps;
  // An empty list is a mistake (`--ids ""`), not "every object": no ids given is undefined.
  if (opts.ids) {
    if (opts.ids.length === 0) throw new UserError('--ids names no object id');
    assertObjectIds(opts.ids);
  }
  const listed = await source.list();
  let candidates = listed;
  if (opts.ids) {
    const known = new Set(listed.map((o) => o.id));
    const unknown = opts.ids.filter((id) => !known.has(id));
    if (unknown.length)
      throw new UserError(`unknown object id${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not in the source ${config.storage.source}`);
    const wanted = new Set(opts.ids);
    candidates = listed.filter((o) => wanted.has(o.id));
  }
  if (opts.match) candidates = candidates.filter((o) => opts.match!.test(o.id));
  const changedSince = opts.changedWithinDays !== undefined ? new Date((opts.now ?? new Date()).getTime() - opts.changedWithinDays * 86_400_000) : undefined;
  const limit = Math.min(opts.limit ?? Infinity, opts.max ?? Infinity);

  // Outcomes keep the source's order although the starts finish in any order.
  const outcomes: Array<EnqueueOutcome | undefined> = [];
  const concurrency = Math.max(1, opts.concurrency ?? ENQUEUE_CONCURRENCY);
  const inFlight = new Set<Promise<void>>();
  let started = 0;
  let failure: { error: unknown } | undefined;
  for (const candidate of candidates) {
    // --limit counts starts: a start in flight may still turn out already running, so wait for it.
    while (inFlight.size > 0 && (inFlight.size >= concurrency || started + inFlight.size >= limit)) await Promise.race(inFlight);
    if (failure || started >= limit) break;
    const objectId = candidate.id;
    const badId = objectIdProblem(objectId);
    if (badId) {
      // Not dropped: said at every enqueue until the source renames it.
      const listedError = 'error' in candidate ? `${candidate.error}; ` : '';
      outcomes.push({ objectId, action: 'refused', reason: `${listedError}its name cannot be an object id: ${badId}` });
      continue;
    }
    // An object whose object.json is broken is still enqueued: the workflow records why it cannot go on.
    const modifiedAt = 'modifiedAt' in candidate ? candidate.modifiedAt : undefined;
    if (opts.since && modifiedAt && Date.parse(modifiedAt) < opts.since.getTime()) {
      outcomes.push({ objectId, action: 'skipped', reason: `not modified since ${opts.since.toISOString()}` });
      continue;
    }
    if (changedSince && (!modifiedAt || Date.parse(modifiedAt) < changedSince.getTime())) {
      outcomes.push({ objectId, action: 'skipped', reason: `not modified within ${opts.changedWithinDays}d (since ${changedSince.toISOString()})` });
      continue;
    }
    const row = await ledger.getObject(objectId);
    if (row?.frozen) {
      outcomes.push({
        objectId,
        action: 'skipped',
        reason: `frozen by ${row.frozenBy ?? 'an operator'}: ${row.frozenReason ?? ''} (custody unfreeze ${objectId})`,
      });
      continue;
    }
    if (row?.preservedModifiedAt && modifiedAt && Date.parse(modifiedAt) <= Date.parse(row.preservedModifiedAt)) {
      outcomes.push({ objectId, action: 'skipped', reason: `already preserved (source unchanged since ${row.preservedModifiedAt})` });
      continue;
    }
    if (opts.dryRun) {
      outcomes.push({ objectId, action: 'would-start', workflowId: preserveWorkflowId(objectId) });
      started++;
      continue;
    }
    const title = 'title' in candidate ? candidate.title : objectId;
    const slot = outcomes.push(undefined) - 1;
    const start: Promise<void> = startPreservation({ client, config, ledger }, { objectId, title, modifiedAt, reason: 'enqueue' })
      .then(
        (outcome) => {
          outcomes[slot] = outcome;
          if (outcome.action === 'started') started++;
        },
        (error: unknown) => {
          failure ??= { error };
        },
      )
      .finally(() => inFlight.delete(start));
    inFlight.add(start);
  }
  // A failed start stops further starts, but those already sent are waited for: they run.
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return outcomes.filter((o): o is EnqueueOutcome => o !== undefined);
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
