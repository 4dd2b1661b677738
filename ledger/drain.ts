// The ledger's part of drain and resume: the drain flag (who, why, since when, and which
// schedules the drain paused, so resume unpauses only those) and the work starters held back
// meanwhile, with the arguments resume starts it with.
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema';

const ROW_ID = 'custody';

export interface DrainState {
  since: string;
  by: string;
  reason: string;
  /** Schedules this drain paused (not those an operator had paused before). */
  pausedSchedules: string[];
}

/** preserve: an object's preservation; article: a package for its article's workflow; copy: a dataset version for its copy workflow. */
export type HeldKind = 'preserve' | 'article' | 'copy';

export interface HeldWork {
  kind: HeldKind;
  itemId: string;
  args: unknown;
  heldAt: string;
  heldBy: string;
}

export class DrainLedger {
  constructor(private readonly db: Kysely<LedgerDatabase>) {}

  async state(): Promise<DrainState | undefined> {
    const r = await this.db.selectFrom('drain_state').selectAll().where('id', '=', ROW_ID).executeTakeFirst();
    return r && { since: r.drained_at, by: r.drained_by, reason: r.reason, pausedSchedules: JSON.parse(r.paused_schedules) as string[] };
  }

  /** Drains; a second drain keeps the first one's time, author and reason. Returns the state in force. */
  async set(s: Omit<DrainState, 'pausedSchedules'>): Promise<DrainState> {
    await this.db
      .insertInto('drain_state')
      .values({ id: ROW_ID, drained_at: s.since, drained_by: s.by, reason: s.reason, paused_schedules: '[]' })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute();
    return (await this.state())!;
  }

  async setPausedSchedules(ids: string[]): Promise<void> {
    await this.db
      .updateTable('drain_state')
      .set({ paused_schedules: JSON.stringify(ids) })
      .where('id', '=', ROW_ID)
      .execute();
  }

  async clear(): Promise<void> {
    await this.db.deleteFrom('drain_state').where('id', '=', ROW_ID).execute();
  }

  /** Held again (enqueued twice while drained): one row, the latest arguments. */
  async hold(w: Omit<HeldWork, 'heldAt'> & { at: string }): Promise<void> {
    const values = { args: JSON.stringify(w.args), held_at: w.at, held_by: w.heldBy };
    await this.db
      .insertInto('held_work')
      .values({ kind: w.kind, item_id: w.itemId, ...values })
      .onConflict((oc) => oc.columns(['kind', 'item_id']).doUpdateSet({ args: values.args, held_by: values.held_by }))
      .execute();
  }

  async held(): Promise<HeldWork[]> {
    const rows = await this.db.selectFrom('held_work').selectAll().orderBy('held_at').orderBy('kind').orderBy('item_id').execute();
    return rows.map((r) => ({ kind: r.kind as HeldKind, itemId: r.item_id, args: JSON.parse(r.args) as unknown, heldAt: r.held_at, heldBy: r.held_by }));
  }

  /** Held counts per kind and the oldest held time. */
  async heldSummary(): Promise<{ counts: Partial<Record<HeldKind, number>>; total: number; oldest: string | null }> {
    const rows = await this.db
      .selectFrom('held_work')
      .select(['kind', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min('held_at').as('oldest')])
      .groupBy('kind')
      .execute();
    const counts: Partial<Record<HeldKind, number>> = {};
    let oldest: string | null = null;
    for (const r of rows) {
      counts[r.kind as HeldKind] = Number(r.n);
      if (r.oldest && (!oldest || r.oldest < oldest)) oldest = r.oldest;
    }
    return { counts, total: Object.values(counts).reduce((a, b) => a + b, 0), oldest };
  }

  /** Started at resume: the row goes. */
  async release(kind: HeldKind, itemId: string): Promise<void> {
    await this.db.deleteFrom('held_work').where('kind', '=', kind).where('item_id', '=', itemId).execute();
  }
}
