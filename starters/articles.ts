// The operator's commands for the publishing pipeline: approve, reject and silent-update an
// article, freeze/unfreeze/reenqueue it (the same commands as for objects, given
// `article:<id>`), and its status. Each acts through an Update of the article's workflow
// (`article:<id>`), so the command reports what took effect, or the workflow's own refusal.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  approveUpdate,
  articleFreezeUpdate,
  articleReenqueueUpdate,
  articleStateQuery,
  articleUnfreezeUpdate,
  articleWorkflowId,
  rejectUpdate,
  silentUpdateUpdate,
  type ArticlePackage,
  type ArticleStage,
  type ArticleState,
} from '../common/articles';
import { PackageNameRefused } from '../articles/package-name';
import type { Config } from '../config/config';
import type { DeliveryRow, EventRow, Ledger } from '../ledger';
import { formatDeliveries } from './delivery';
import { openStorage, parseStorageUrl } from '../storage';
import { StorageUrlError } from '../config/storage-location';
import { articlePackage, packageNamePattern } from './feed';
import { refused, viaUpdate, type OperatorOutcome, type Plan } from './operator';
import { describeStage, laneRun, planBase, planLaneFreeze, planLaneUnfreeze, type Lane, type LaneRun } from './lane-plans';
import { ARTICLE_PREFIX } from './object-ids';
import { COLUMNS, fit, printable, wrap } from './printable';
import { UserError } from './user-error';

/** How an article is named in output and in `status`: its workflow id. */
export const articleRef = (articleId: string): string => `${ARTICLE_PREFIX}${articleId}`;

const unknownArticle = (articleId: string) =>
  `unknown article ${articleId}: there is no workflow ${articleWorkflowId(articleId)} (custody feed sends an article's first package)`;

/** The article's workflow, whether it runs, and its state; nothing is created. */
const articleRun = (client: Client, articleId: string, opts: { query?: boolean } = { query: true }): Promise<LaneRun<ArticleState>> =>
  laneRun(client.workflow.getHandle(articleWorkflowId(articleId)), articleStateQuery, opts.query);

const articleLane = (client: Client, articleId: string): Lane<ArticleState> => ({
  ref: articleRef(articleId),
  run: () => articleRun(client, articleId),
  unknown: unknownArticle(articleId),
  waitsFor: 'a package',
  freeze: articleFreezeUpdate,
  unfreeze: articleUnfreezeUpdate,
});

/** The running workflow of an article, or a one-line error naming the article. */
async function runningArticle(client: Client, articleId: string): Promise<WorkflowHandle> {
  const run = await articleRun(client, articleId, { query: false });
  if (!run.status) throw new UserError(unknownArticle(articleId));
  if (run.status !== 'RUNNING') throw new UserError(`article ${articleId}: its workflow ${run.handle.workflowId} is not running (${run.status})`);
  return run.handle;
}

export interface ArticleOutcome extends OperatorOutcome {
  version?: number;
  publishAt?: string;
}

/** Sends one Update and says what took effect; the workflow's refusal becomes `ok: false` with its reason. */
const act = (articleId: string, run: () => Promise<{ message: string; version?: number; publishAt?: string }>): Promise<ArticleOutcome> =>
  viaUpdate(articleRef(articleId), run);

/** A publication time in the past is a typo, not "now". */
export function assertToCome(at: Date | undefined): void {
  if (at && at.getTime() <= Date.now()) throw new UserError(`--at ${at.toISOString()} has passed: approve without --at to publish now, or give a time to come`);
}

export async function approveArticle(client: Client, articleId: string, opts: { version?: number; at?: Date }, by: string): Promise<ArticleOutcome> {
  assertToCome(opts.at);
  const handle = await runningArticle(client, articleId);
  return act(articleId, async () => {
    const ack = await handle.executeUpdate(approveUpdate, { args: [{ version: opts.version, at: opts.at?.toISOString(), by }] });
    const later = ack.publishAt !== undefined && Date.parse(ack.publishAt) > Date.now();
    return {
      version: ack.version,
      ...(later ? { publishAt: new Date(ack.publishAt!).toISOString() } : {}),
      message: later
        ? `v${ack.version} approved by ${by}, to be published at ${new Date(ack.publishAt!).toISOString()} (approve again to move it, reject to cancel)`
        : `v${ack.version} approved by ${by}; publishing now`,
    };
  });
}

export async function rejectArticle(client: Client, articleId: string, opts: { version?: number; reason: string }, by: string): Promise<ArticleOutcome> {
  const handle = await runningArticle(client, articleId);
  return act(articleId, async () => {
    const ack = await handle.executeUpdate(rejectUpdate, { args: [{ version: opts.version, reason: opts.reason, by }] });
    return { version: ack.version, message: `v${ack.version} rejected by ${by}: ${opts.reason} (recorded; the article waits for its next version)` };
  });
}

/**
 * A package named by where it is (`s3://bucket/prefix/key.zip`, a file path or a file:// URL),
 * as `feed` would send it: its folder or prefix, its key, its ETag, and what its name says.
 */
export async function packageAt(config: Config, where: string): Promise<ArticlePackage> {
  let location: string;
  let key: string;
  try {
    const parsed = parseStorageUrl(where);
    if (parsed.kind === 's3') {
      const parts = parsed.prefix.split('/');
      key = parts.pop() ?? '';
      if (!key || where.endsWith('/')) throw new UserError(`${where} names a bucket or a prefix, not a package: give s3://bucket/prefix/<package>.zip`);
      location = `s3://${parsed.bucket}${parts.length ? `/${parts.join('/')}` : ''}`;
    } else {
      const file = path.resolve(where.startsWith('file:') ? fileURLToPath(where) : parsed.path);
      location = path.dirname(file);
      key = path.basename(file);
    }
  } catch (e) {
    if (e instanceof StorageUrlError) throw new UserError(e.message);
    throw e;
  }
  const found = await openStorage(location, config.storage.s3).head(key);
  if (!found) throw new UserError(`no package at ${where}: nothing there, or not a file`);
  try {
    return articlePackage(location, found, { pattern: packageNamePattern(config) });
  } catch (e) {
    if (e instanceof PackageNameRefused) throw new UserError(e.message);
    throw e;
  }
}

export async function silentUpdateArticle(client: Client, articleId: string, pkg: ArticlePackage, by: string): Promise<ArticleOutcome> {
  const handle = await runningArticle(client, articleId);
  return act(articleId, async () => {
    const ack = await handle.executeUpdate(silentUpdateUpdate, { args: [{ package: pkg, by }] });
    return {
      version: ack.version,
      message: `silent update of v${ack.version} from ${pkg.key} accepted: the published files and record are replaced in place, without a notification (custody status ${articleRef(articleId)} shows the outcome)`,
    };
  });
}

// freeze, unfreeze and reenqueue of an article: planned from its workflow's state, like an
// object's, so that --dry-run applies the rules of the real run.

export const planArticleFreeze = (client: Client, articleId: string, reason: string, by: string): Promise<Plan> =>
  planLaneFreeze(articleLane(client, articleId), reason, by);

export const planArticleUnfreeze = (client: Client, articleId: string, by: string): Promise<Plan> => planLaneUnfreeze(articleLane(client, articleId), by);

const REENQUEUABLE: ArticleStage[] = ['rejected', 'failed', 'frozen'];

export async function planArticleReenqueue(
  deps: { client: Client; ledger: Ledger },
  articleId: string,
  by: string,
  opts: { force?: boolean; reason?: string },
): Promise<Plan> {
  const ref = articleRef(articleId);
  if (opts.force) return refused(ref, `--force is for preserved objects: a published article takes a new version (feed) or a silent update`);
  const base = await planBase(articleLane(deps.client, articleId));
  if ('verdict' in base) return base;
  const { handle, state } = base;
  const current = state.current;
  if (!REENQUEUABLE.includes(state.stage) || !current)
    return refused(ref, `${ref} is ${describeStage(state)}, not a package waiting for an operator (reenqueue takes a rejected, failed or frozen package)`);
  const reason = opts.reason?.trim() || undefined;
  return {
    objectId: ref,
    ok: true,
    verdict: `would run v${current.version} (${current.key}) again from fetch, as run ${current.run + 1}`,
    execute: () =>
      viaUpdate(ref, async () => {
        const ack = await handle.executeUpdate(articleReenqueueUpdate, { args: [{ by }] });
        // Why, beside the workflow's own event (which says who) in the article's history.
        if (reason) {
          const at = new Date().toISOString();
          await deps.ledger.recordEvent({
            key: `cli:article-reenqueue-reason:${articleId}:${at}`,
            objectId: ref,
            kind: 'article-reenqueue-reason',
            detail: { message: `v${ack.version}: ${reason} (${by})`, version: ack.version, detail: { by, reason } },
            at,
          });
        }
        return `v${ack.version} runs again from fetch, as run ${current.run + 1}`;
      }),
  };
}

// status

export interface ArticleStatus {
  articleId: string;
  workflowId: string;
  /** The workflow's status in Temporal (RUNNING, TERMINATED, …), or null when Temporal has none or was not asked. */
  workflow: string | null;
  /** The running workflow's own answer. */
  live?: ArticleState;
  /** Every event of the article in the ledger, oldest first. */
  history: EventRow[];
  /** The latest published version at each destination it is delivered to. */
  deliveries: DeliveryRow[];
}

/** One article's state from its workflow (when a client is given and it runs) and its history from the ledger. */
export async function articleStatus(ledger: Ledger, client: Client | undefined, articleId: string): Promise<ArticleStatus> {
  const history = await ledger.timeline(articleRef(articleId));
  let run: LaneRun<ArticleState> | undefined;
  if (client) {
    try {
      run = await articleRun(client, articleId);
    } catch (e) {
      // No worker to answer the query: the ledger's record stands on its own.
      if (e instanceof UserError) throw e;
      run = { handle: client.workflow.getHandle(articleWorkflowId(articleId)), status: 'RUNNING' };
    }
  }
  if (!history.length && !run?.status) throw new UserError(`${unknownArticle(articleId)}, and the ledger has no event of it`);
  const deliveries = await ledger.deliveries.of(articleRef(articleId));
  return {
    articleId,
    workflowId: articleWorkflowId(articleId),
    workflow: run?.status ?? null,
    ...(run?.state ? { live: run.state } : {}),
    history,
    deliveries,
  };
}

interface EventDetail {
  message?: string;
  version?: number;
  detail?: { url?: string; approvedBy?: string };
  url?: string;
  approvedBy?: string;
  run?: number;
}

/** The steps every package passes through, left out of the human history (`--json` has them). */
const STEPS = new Set(['waiting', 'fetching', 'expanding', 'validating', 'building', 'depositing', 'publishing', 'silent-updating'].map((s) => `article-${s}`));

/** The events an operator reads: each version's outcome, silent updates and operators' actions. */
export function articleHistory(events: EventRow[]): Array<{ at: string; what: string; version?: number; message: string }> {
  const out: Array<{ at: string; what: string; version?: number; message: string }> = [];
  const said = new Set(events.filter((e) => (e.detail as EventDetail)?.message).map((e) => `${e.kind}:${(e.detail as EventDetail).version}`));
  for (const e of events) {
    if (STEPS.has(e.kind)) continue;
    const d = (e.detail ?? {}) as EventDetail;
    // The publish activity's own record of a publication, beside the workflow's event that says the same.
    if (!d.message && said.has(`${e.kind}:${d.version}`)) continue;
    const approvedBy = d.approvedBy ?? d.detail?.approvedBy;
    let message = d.message ?? (e.kind === 'article-published' ? `published v${d.version}: ${d.url ?? ''}` : JSON.stringify(d));
    if (e.kind === 'article-published' && approvedBy) message += ` (approved by ${approvedBy})`;
    out.push({ at: e.at, what: e.kind.replace(/^article-/, ''), version: d.version, message });
  }
  return out;
}

/** The last publication the ledger knows of, for when the workflow cannot say. */
function publishedFromLedger(events: EventRow[]): { version: number; at: string; url?: string } | undefined {
  const e = events.filter((x) => x.kind === 'article-published' && (x.detail as EventDetail)?.version !== undefined).at(-1);
  if (!e) return undefined;
  const d = e.detail as EventDetail;
  return { version: d.version!, at: e.at, url: d.url ?? d.detail?.url };
}

export function formatArticleStatus(s: ArticleStatus): string {
  const live = s.live;
  const lines = [`${articleRef(s.articleId)} — ${live ? live.stage : s.workflow ? `workflow ${s.workflow.toLowerCase()}` : 'workflow state unknown'}`];
  const published = live?.published ?? publishedFromLedger(s.history);
  if (published) {
    const status = 'status' in published ? ` (${published.status})` : '';
    lines.push(`  published: v${published.version}${status} at ${published.at}`);
    if (published.url) lines.push(`    ${published.url}`);
  } else lines.push('  published: nothing yet');
  if (live?.current) {
    const c = live.current;
    lines.push(`  current: v${c.version} (${c.status}), run ${c.run}, ${c.mode} mode — ${c.key}`);
  }
  // The workflow keeps the time after an approve that overrode it: only a scheduled article has one.
  if (live?.stage === 'scheduled' && live.scheduledFor) lines.push(`  scheduled: v${live.current?.version ?? '?'} to be published at ${live.scheduledFor}`);
  if (live?.stage === 'frozen') lines.push(`  frozen: ${live.frozenReason ?? ''} (by ${live.frozenBy ?? '?'})`);
  if (live?.lastError) lines.push(`  last error: ${live.lastError}`);
  if (live?.pending.length) {
    lines.push('  pending:');
    for (const p of live.pending) lines.push(`    v${p.version} (${p.status}) — ${p.key}`);
  }
  lines.push(...formatDeliveries(s.deliveries));
  const history = articleHistory(s.history);
  lines.push(`  history (outcomes and operators' actions; --json has every step):`);
  if (!history.length) lines.push('    (nothing recorded yet)');
  for (const h of history) lines.push(`    ${h.at}  ${h.what}  ${h.message}`);
  return lines.flatMap((l) => wrap(printable(l))).join('\n');
}

// status --scheduled

export interface ScheduledArticle {
  articleId: string;
  version: number;
  publishAt: string;
  key: string;
}

/** Articles approved for a later publication: found by search attribute, each confirmed by its workflow's state. */
export async function scheduledArticles(client: Client): Promise<ScheduledArticle[]> {
  const out: ScheduledArticle[] = [];
  const query = 'CustodyPipeline = "publishing" AND CustodyStage = "scheduled" AND ExecutionStatus = "Running"';
  for await (const wf of client.workflow.list({ query })) {
    const state = await client.workflow
      .getHandle(wf.workflowId)
      .query(articleStateQuery)
      .catch(() => undefined);
    // The search attribute may lag the workflow: its own state decides.
    if (state?.stage !== 'scheduled' || !state.scheduledFor || !state.current) continue;
    out.push({ articleId: state.articleId, version: state.current.version, publishAt: state.scheduledFor, key: state.current.key });
  }
  return out.sort((a, b) => a.publishAt.localeCompare(b.publishAt));
}

export function formatScheduled(rows: ScheduledArticle[]): string[] {
  if (!rows.length) return ['no article has a scheduled publication'];
  const w = Math.max(7, ...rows.map((r) => articleRef(r.articleId).length));
  // To the second, like `schedules list`: the JSON has the exact time.
  const when = (at: string) => at.replace(/\.\d+Z$/, 'Z');
  const head = `${'ARTICLE'.padEnd(w)} ${'VERSION'} ${'PUBLISH AT'.padEnd(20)} PACKAGE`;
  return [head, ...rows.map((r) => `${articleRef(r.articleId).padEnd(w)} ${`v${r.version}`.padEnd(7)} ${when(r.publishAt).padEnd(20)} ${r.key}`)].map((l) =>
    fit(printable(l), COLUMNS),
  );
}
