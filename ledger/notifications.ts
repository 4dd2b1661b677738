// The notification outbox. A notifiable event (a final failure, a rejection, an automatic freeze,
// a fixity problem) adds its row in the same transaction that records the event, under a key
// derived from the event: a retried activity records the same event key, so it adds nothing, and
// nothing is notified that the ledger does not hold. The `notify` Schedule sends the due rows and
// adds one row for each object held longer than configured. Sending is at least once: a receiver
// deduplicates by the key (also the Idempotency-Key header).
import type { Kysely, Transaction } from 'kysely';
import { FIXITY_PROBLEMS } from '../common/fixity';
import type { NotificationKind } from '../common/notifications';
import { AUTOMATIC_FREEZER, preserveWorkflowId } from '../common/preservation';
import type { LedgerEvent } from './ledger';
import type { LedgerDatabase } from './schema';

export interface NewNotification {
  key: string;
  what: NotificationKind;
  subject: string;
  workflowId: string;
  stage: string | null;
  reason: string | null;
  detail?: unknown;
  at: string;
}

export interface NotificationRow extends NewNotification {
  state: 'waiting' | 'sent' | 'skipped';
  attempts: number;
  nextAttemptAt: string;
  sentAt: string | null;
  lastError: string | null;
  createdAt: string;
}

export interface OutboxSummary {
  waiting: number;
  oldest: string | null;
  lastError: string | null;
}

type Db = Kysely<LedgerDatabase> | Transaction<LedgerDatabase>;

const record = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

// Articles and copies have their workflow's id as their ledger id (article:…, copy:…).
const workflowIdOf = (subject: string) => (/^(article|copy):/.test(subject) ? subject : preserveWorkflowId(subject));

/** The notification an event calls for, if any. */
export function notificationOf(e: LedgerEvent): NewNotification | undefined {
  const detail = record(e.detail);
  const base = { subject: e.objectId, workflowId: workflowIdOf(e.objectId), at: e.at };
  if (e.kind === 'stage' && (e.stage === 'failed' || e.stage === 'rejected' || e.stage === 'no-verdict')) {
    const what = e.stage === 'rejected' ? 'rejected' : 'failed';
    // Keyed by the attempt: the workflow enters the stage again after a freeze and unfreeze, which is not a new failure.
    return { ...base, key: `${e.stage}:${e.objectId}:${e.sipId ?? e.key}`, what, stage: e.stage, reason: text(detail.error) };
  }
  if (e.kind === 'frozen' && detail.by === AUTOMATIC_FREEZER)
    return { ...base, key: `frozen:${e.key}`, what: 'frozen', stage: 'frozen', reason: text(detail.reason) };
  if (FIXITY_PROBLEMS.includes(e.kind)) {
    // The same copy found in the same wrong state by a later audit is the same problem.
    const where = text(detail.where) ?? '';
    const found = text(detail.found) ?? 'missing';
    const reason = `${where}: expected sha256 ${String(detail.expected)}, found ${found === 'missing' ? 'nothing' : found}`;
    return { ...base, key: `fixity:${e.sipId ?? ''}:${where}:${found}`, what: 'fixity', stage: e.kind, reason, detail: { sipId: e.sipId, where } };
  }
  // Articles and copies: `article-<stage>`/`copy-<stage>` events with { message, version, detail }.
  const m = /^(article|copy)-(failed|rejected|frozen)$/.exec(e.kind);
  if (m) {
    const inner = record(detail.detail);
    const version = typeof detail.version === 'number' ? detail.version : undefined;
    // An operator's own reject or freeze is not news to the operators; the pipeline's are.
    if (m[2] === 'frozen' && inner.by !== AUTOMATIC_FREEZER) return undefined;
    if (m[2] !== 'frozen' && text(inner.error) === null) return undefined;
    const reason = m[2] === 'frozen' ? text(inner.reason) : text(inner.error);
    return { ...base, key: `${m[2]}:${e.key}`, what: m[2] as NotificationKind, stage: m[2], reason, ...(version ? { detail: { version } } : {}) };
  }
  return undefined;
}

/** Adds the row once: a second insert under the same key changes nothing. Returns the rows added (0 or 1). */
export async function insertNotification(db: Db, n: NewNotification, now = new Date().toISOString()): Promise<number> {
  const r = await db
    .insertInto('notifications')
    .values({
      key: n.key,
      what: n.what,
      subject: n.subject,
      workflow_id: n.workflowId,
      stage: n.stage,
      reason: n.reason,
      detail: n.detail === undefined ? null : JSON.stringify(n.detail),
      at: n.at,
      state: 'waiting',
      attempts: 0,
      next_attempt_at: now,
      created_at: now,
    })
    .onConflict((oc) => oc.column('key').doNothing())
    .executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0);
}

/** Preservation states that wait for an operator or a verdict. */
const HELD_STATES = ['rejected', 'failed', 'no-verdict', 'awaiting-verdict', 'frozen'];
/** Article and copy events after which the workflow waits for an operator. */
const HELD_KINDS = ['article', 'copy'].flatMap((p) => ['awaiting-approval', 'rejected', 'failed', 'frozen'].map((s) => `${p}-${s}`));

export class NotificationLedger {
  constructor(private readonly db: Kysely<LedgerDatabase>) {}

  /**
   * Adds a `held` notification for each object, article and copy that has waited since before
   * `cutoff` (frozen, rejected, failed, without a verdict, waiting for approval, held while
   * drained), and for a drain older than that: one per
   * (id, state, since), so later scans add nothing until it moves and waits again. Returns how many it added.
   */
  async addHeld(cutoff: string, now = new Date().toISOString()): Promise<number> {
    const found: NewNotification[] = [];
    const objects = await this.db
      .selectFrom('objects')
      .selectAll()
      .where((eb) => eb.or([eb('frozen', '=', 1), eb('state', 'in', HELD_STATES)]))
      .where('updated_at', '<', cutoff)
      .execute();
    for (const o of objects) {
      const state = o.frozen ? 'frozen' : o.state;
      const reason = o.frozen ? o.frozen_reason : o.last_error;
      found.push({
        key: `held:${o.id}:${state}:${o.updated_at}`,
        what: 'held',
        subject: o.id,
        workflowId: workflowIdOf(o.id),
        stage: state,
        reason: `${state} since ${o.updated_at}${reason ? `: ${reason}` : ''}`,
        at: o.updated_at,
      });
    }
    // The latest event of each article and copy, when it is one they wait after.
    const events = await this.db
      .selectFrom('events as e')
      .select(['e.object_id', 'e.kind', 'e.at', 'e.detail'])
      .where('e.kind', 'in', HELD_KINDS)
      .where('e.at', '<', cutoff)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('events as f')
              .select('f.id')
              .whereRef('f.object_id', '=', 'e.object_id')
              .where((eb) => eb.or([eb('f.at', '>', eb.ref('e.at')), eb.and([eb('f.at', '=', eb.ref('e.at')), eb('f.id', '>', eb.ref('e.id'))])])),
          ),
        ),
      )
      .execute();
    for (const e of events) {
      const stage = e.kind.replace(/^(article|copy)-/, '');
      const detail = record(e.detail === null ? null : JSON.parse(e.detail));
      // An operator's reject of a version is recorded under the same kind, and nothing waits after it.
      if ((stage === 'rejected' || stage === 'failed') && text(record(detail.detail).error) === null) continue;
      const message = text(detail.message);
      found.push({
        key: `held:${e.object_id}:${stage}:${e.at}`,
        what: 'held',
        subject: e.object_id,
        workflowId: workflowIdOf(e.object_id),
        stage,
        reason: `${stage} since ${e.at}${message ? `: ${message}` : ''}`,
        at: e.at,
      });
    }
    // Work held back while custody is drained, and the drain itself.
    for (const h of await this.db.selectFrom('held_work').selectAll().where('held_at', '<', cutoff).execute()) {
      // Item ids: `<objectId>`, `<articleId> <package key>`, `copy:<dataset>:<type> v<N>`.
      const first = h.item_id.split(' ')[0];
      found.push({
        key: `held:${h.kind}:${h.item_id}:drained:${h.held_at}`,
        what: 'held',
        subject: h.item_id,
        workflowId: h.kind === 'preserve' ? preserveWorkflowId(first) : h.kind === 'article' ? `article:${first}` : first,
        stage: 'drained',
        reason: `held since ${h.held_at} while custody is drained (held by ${h.held_by}): custody resume starts it`,
        at: h.held_at,
      });
    }
    const drain = await this.db.selectFrom('drain_state').selectAll().where('drained_at', '<', cutoff).executeTakeFirst();
    if (drain)
      found.push({
        key: `held:custody:drained:${drain.drained_at}`,
        what: 'held',
        subject: 'custody',
        workflowId: '',
        stage: 'drained',
        reason: `custody drained since ${drain.drained_at} by ${drain.drained_by}: ${drain.reason}`,
        at: drain.drained_at,
      });
    let added = 0;
    for (const n of found) added += await insertNotification(this.db, n, now);
    return added;
  }

  /** Waiting rows whose next attempt is due, oldest first. */
  async due(now: string, limit: number): Promise<NotificationRow[]> {
    const rows = await this.db
      .selectFrom('notifications')
      .selectAll()
      .where('state', '=', 'waiting')
      .where('next_attempt_at', '<=', now)
      .orderBy('created_at')
      .orderBy('key')
      .limit(limit)
      .execute();
    return rows.map(toRow);
  }

  async markSent(key: string, at: string): Promise<void> {
    await this.db.updateTable('notifications').set({ state: 'sent', sent_at: at, last_error: null }).where('key', '=', key).execute();
  }

  async markSkipped(key: string, why: string): Promise<void> {
    await this.db.updateTable('notifications').set({ state: 'skipped', last_error: why }).where('key', '=', key).execute();
  }

  /** A failed POST: tried again at `nextAttemptAt`. */
  async markFailed(key: string, error: string, nextAttemptAt: string): Promise<void> {
    await this.db
      .updateTable('notifications')
      .set((eb) => ({ attempts: eb('attempts', '+', 1), last_error: error, next_attempt_at: nextAttemptAt }))
      .where('key', '=', key)
      .execute();
  }

  /** Every row, oldest first (for tests and inspection). */
  async list(): Promise<NotificationRow[]> {
    return (await this.db.selectFrom('notifications').selectAll().orderBy('created_at').orderBy('key').execute()).map(toRow);
  }

  /** What `custody status` says of the rows not yet sent. */
  async summary(): Promise<OutboxSummary> {
    const r = await this.db
      .selectFrom('notifications')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), eb.fn.min('created_at').as('oldest')])
      .where('state', '=', 'waiting')
      .executeTakeFirstOrThrow();
    const last = await this.db
      .selectFrom('notifications')
      .select('last_error')
      .where('state', '=', 'waiting')
      .where('last_error', 'is not', null)
      .orderBy('next_attempt_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return { waiting: Number(r.n), oldest: (r.oldest as string | null) ?? null, lastError: last?.last_error ?? null };
  }
}

function toRow(r: LedgerDatabase['notifications']): NotificationRow {
  return {
    key: r.key,
    what: r.what as NotificationKind,
    subject: r.subject,
    workflowId: r.workflow_id,
    stage: r.stage,
    reason: r.reason,
    ...(r.detail === null ? {} : { detail: JSON.parse(r.detail) as unknown }),
    at: r.at,
    state: r.state as NotificationRow['state'],
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at,
    sentAt: r.sent_at,
    lastError: r.last_error,
    createdAt: r.created_at,
  };
}
