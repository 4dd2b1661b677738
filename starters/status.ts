// `custody status`: counts per stage and the objects waiting for an operator (from the
// ledger, which outlives Temporal's retention), or one object's whole timeline.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { FIXITY_MISMATCH, FIXITY_MISSING, FIXITY_OK } from '../common/fixity';
import { STAGES, preserveWorkflowId, stateQuery, type PreserveObjectState, type Stage } from '../common/preservation';
import type { DeliveryRow, EventRow, Ledger, ObjectRow, PackageRow } from '../ledger';
import { formatDeliveries } from './delivery';
import { drainSummary, formatDrain, type DrainSummary } from './drain';
import { assertObjectId } from './object-ids';
import { fit, printable, wrap } from './printable';
import { UserError } from './user-error';
import { iso } from './dates';

export interface StatusSummary {
  total: number;
  counts: Partial<Record<Stage, number>>;
  needsAttention: Array<{ id: string; state: Stage; frozen: boolean; reason: string | null; by: string | null; sipId: string | null }>;
  /** Objects with a fixity-mismatch or fixity-missing event not resolved since (see `custody status ID`). */
  fixityProblems: string[];
  /** Webhook notifications not delivered yet, when there are any. */
  notifications?: { waiting: number; oldest: string | null; lastError: string | null };
  /** Whether custody is drained, and the work held meanwhile. */
  drain: DrainSummary;
}

const ATTENTION: Stage[] = ['rejected', 'failed', 'frozen', 'no-verdict'];

export async function summarize(ledger: Ledger): Promise<StatusSummary> {
  // Counted and filtered by the database's indexes: a million-object ledger is never read whole.
  const counts = await ledger.countByState();
  const attention = await ledger.needingAttention(ATTENTION);
  return {
    total: Object.values(counts).reduce((a, b) => a + b, 0),
    counts,
    // A frozen flag without a running workflow (frozen before enqueue) needs attention too.
    needsAttention: attention.map((r) => ({
      id: r.id,
      state: r.state,
      frozen: r.frozen,
      reason: r.frozen ? r.frozenReason : r.lastError,
      by: r.frozen ? r.frozenBy : null,
      sipId: r.lastSipId,
    })),
    fixityProblems: await ledger.fixity.unresolved(),
    ...(await waitingNotifications(ledger)),
    drain: await drainSummary(ledger),
  };
}

async function waitingNotifications(ledger: Ledger): Promise<Pick<StatusSummary, 'notifications'>> {
  const n = await ledger.notifications.summary();
  return n.waiting ? { notifications: n } : {};
}

export interface ObjectStatus {
  object: ObjectRow;
  packages: PackageRow[];
  timeline: EventRow[];
  /** The running workflow's own answer, when it is running (or still queryable). */
  live?: PreserveObjectState;
  /** Activities of the running workflow that failed and wait for their next attempt. */
  retrying?: RetryingActivity[];
  /** The accepted package at each destination it is delivered to. */
  deliveries: DeliveryRow[];
}

export interface RetryingActivity {
  activity: string;
  /** The attempt that runs next, or runs now. */
  attempt: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  /** Null while an attempt is running. */
  nextAttemptAt: string | null;
}

/** The running workflow's pending activities that have failed at least once (Temporal keeps retries out of the history until they end). */
async function retryingActivities(client: Client, id: string): Promise<RetryingActivity[]> {
  let pending;
  try {
    pending = (await client.workflow.getHandle(preserveWorkflowId(id)).describe()).raw.pendingActivities ?? [];
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return [];
    throw e;
  }
  return pending
    .filter((a) => (a.attempt ?? 1) > 1 || a.lastFailure)
    .map((a) => ({
      activity: a.activityType?.name ?? '(unknown activity)',
      attempt: a.attempt ?? 1,
      lastError: a.lastFailure?.message ?? null,
      lastAttemptAt: iso(a.lastAttemptCompleteTime),
      nextAttemptAt: iso(a.nextAttemptScheduleTime),
    }));
}

/** One object's record from the ledger, with the live details from Temporal when a client is given. */
export async function objectStatus(ledger: Ledger, client: Client | undefined, id: string): Promise<ObjectStatus> {
  assertObjectId(id);
  const object = await ledger.getObject(id);
  if (!object) throw new UserError(`unknown object id ${id}: custody has no record of it (enqueue it first)`);
  const status: ObjectStatus = {
    object,
    packages: await ledger.packagesOf(id),
    timeline: await ledger.timeline(id),
    deliveries: await ledger.deliveries.of(id),
  };
  if (!client) return status;
  try {
    status.live = await client.workflow.getHandle(preserveWorkflowId(id)).query(stateQuery);
  } catch {
    // Closed past retention, or no worker to answer: the ledger's record stands on its own.
  }
  status.retrying = await retryingActivities(client, id);
  return status;
}

export function formatSummary(s: StatusSummary): string {
  const lines = [...formatDrain(s.drain), `${s.total} object${s.total === 1 ? '' : 's'} in the ledger`];
  for (const stage of STAGES) if (s.counts[stage]) lines.push(`  ${stage.padEnd(17)} ${s.counts[stage]}`);
  if (s.needsAttention.length) {
    lines.push('', 'waiting for an operator:');
    for (const o of s.needsAttention) {
      const state = o.frozen && o.state !== 'frozen' ? `frozen (${o.state})` : o.state;
      lines.push(`  ${o.id.padEnd(14)} ${state.padEnd(11)} ${o.reason ?? ''}${o.by ? `  [by ${o.by}]` : ''}`);
    }
  }
  if (s.fixityProblems.length) lines.push('', `fixity problems: ${s.fixityProblems.length} (${s.fixityProblems.join(', ')})`);
  const n = s.notifications;
  if (n) lines.push('', `notifications: ${n.waiting} waiting (oldest ${n.oldest})`, ...(n.lastError ? [`  last error: ${n.lastError}`] : []));
  return lines.map((l) => fit(printable(l))).join('\n');
}

function describeEvent(e: EventRow): string {
  if (e.kind === FIXITY_MISMATCH || e.kind === FIXITY_MISSING || e.kind === FIXITY_OK) {
    const d = (e.detail ?? {}) as { where?: string; destination?: string; expected?: string; found?: string | null; sha256?: string };
    // Abbreviated as in the packages above; the ledger and --json keep the whole digests.
    const short = (h: string | null | undefined) => (h ? `${h.slice(0, 16)}…` : '?');
    const said =
      e.kind === FIXITY_MISMATCH
        ? `expected sha256 ${short(d.expected)} found ${short(d.found)}`
        : e.kind === FIXITY_MISSING
          ? `expected sha256 ${short(d.expected)}, not there`
          : `sha256 ${short(d.sha256)} again`;
    return `${e.kind}  ${d.destination ? `at ${d.destination} ` : ''}${d.where ?? '?'}: ${said}`;
  }
  const what = e.kind === 'stage' ? (e.stage ?? 'stage') : e.kind;
  const d = (e.detail ?? {}) as { by?: string; reason?: string; attempt?: number };
  const extra = e.kind === 'reenqueued' ? `  attempt ${d.attempt ?? '?'} by ${d.by ?? '?'}${d.reason ? `: ${d.reason}` : ''}` : '';
  return `${what}${e.sipId ? `  ${e.sipId}` : ''}${extra}`;
}

export function formatObjectStatus(s: ObjectStatus): string {
  const o = s.object;
  const lines = [
    `${o.id} — ${o.title ?? '(title not read yet)'}`,
    `  state: ${o.state}${o.frozen ? ` (frozen: ${o.frozenReason ?? ''}${o.frozenBy ? `, by ${o.frozenBy}` : ''})` : ''}`,
  ];
  if (o.lastError) lines.push(`  last error: ${o.lastError}`);
  if (s.live) {
    lines.push(`  workflow: stage ${s.live.stage}, attempt ${s.live.attempt}, SIP ${s.live.sipId ?? '-'}`);
    if (s.live.lastErrorStack) lines.push('  stack:', ...s.live.lastErrorStack.split('\n').map((l) => `    ${l}`));
  }
  for (const r of s.retrying ?? []) {
    lines.push(`  retrying ${r.activity}: attempt ${r.attempt}${r.nextAttemptAt ? `, next attempt at ${r.nextAttemptAt}` : ', running now'}`);
    if (r.lastError) lines.push(`    last error${r.lastAttemptAt ? ` (${r.lastAttemptAt})` : ''}: ${r.lastError}`);
  }
  if (s.packages.length) {
    lines.push('  packages:');
    for (const p of s.packages) {
      lines.push(`    ${p.sipId}  attempt ${p.attempt}  ${p.verdict ?? 'no verdict yet'}${p.decidedAt ? ` at ${p.decidedAt}` : ''}`);
      lines.push(`      ${p.size} bytes  sha256 ${p.sha256.slice(0, 16)}…`);
      for (const r of p.reasons) lines.push(`      - ${r}`);
    }
  }
  lines.push(...formatDeliveries(s.deliveries));
  lines.push('  timeline:');
  for (const e of s.timeline) lines.push(`    ${e.at}  ${describeEvent(e)}`);
  return lines.flatMap((l) => wrap(printable(l))).join('\n');
}
