// The ledger's part of delivery: one row per item and destination with its state, attempts,
// last error and what the destination holds, so `custody status` answers without Temporal.
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema';

export const DELIVERY_STATES = ['pending', 'delivered', 'skipped', 'delayed', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

export interface DeliveryRow {
  itemId: string;
  destination: string;
  state: DeliveryState;
  attempts: number;
  lastError: string | null;
  name: string | null;
  size: number | null;
  sha256: string | null;
  /** When a delayed delivery is tried again. */
  delayedUntil: string | null;
  updatedAt: string;
}

export interface DeliveryChange {
  state: DeliveryState;
  at: string;
  attempts?: number;
  lastError?: string | null;
  name?: string;
  size?: number;
  sha256?: string;
  delayedUntil?: string | null;
}

export class DeliveryLedger {
  constructor(
    private readonly db: Kysely<LedgerDatabase>,
    private readonly buildId: string | null = null,
  ) {}

  async set(itemId: string, destination: string, c: DeliveryChange): Promise<void> {
    const update = {
      state: c.state,
      updated_at: c.at,
      ...(this.buildId ? { build_id: this.buildId } : {}),
      ...(c.attempts !== undefined ? { attempts: c.attempts } : {}),
      ...(c.lastError !== undefined ? { last_error: c.lastError } : {}),
      ...(c.name !== undefined ? { name: c.name } : {}),
      ...(c.size !== undefined ? { size: c.size } : {}),
      ...(c.sha256 !== undefined ? { sha256: c.sha256 } : {}),
      ...(c.delayedUntil !== undefined ? { delayed_until: c.delayedUntil } : {}),
    };
    await this.db
      .insertInto('deliveries')
      .values({ item_id: itemId, destination, attempts: 0, ...update })
      .onConflict((oc) => oc.columns(['item_id', 'destination']).doUpdateSet(update))
      .execute();
  }

  async of(itemId: string): Promise<DeliveryRow[]> {
    const rows = await this.db.selectFrom('deliveries').selectAll().where('item_id', '=', itemId).orderBy('destination').execute();
    return rows.map(toRow);
  }

  /** Per destination: how many items are in each state, and the soonest retry of a delayed one. */
  async summary(): Promise<Array<{ destination: string; counts: Record<DeliveryState, number>; nextRetry: string | null; lastError: string | null }>> {
    const rows = await this.db
      .selectFrom('deliveries')
      .select((eb) => [
        'destination',
        'state',
        eb.fn.countAll<number | string>().as('n'),
        eb.fn.min('delayed_until').as('next'),
        eb.fn.max('last_error').as('error'),
      ])
      .groupBy(['destination', 'state'])
      .execute();
    const out = new Map<string, { destination: string; counts: Record<DeliveryState, number>; nextRetry: string | null; lastError: string | null }>();
    for (const r of rows) {
      const entry = out.get(r.destination) ?? {
        destination: r.destination,
        counts: Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>,
        nextRetry: null,
        lastError: null,
      };
      entry.counts[r.state as DeliveryState] = Number(r.n);
      if (r.state === 'delayed') {
        entry.nextRetry = r.next;
        entry.lastError = r.error;
      }
      if (r.state === 'failed' && !entry.lastError) entry.lastError = r.error;
      out.set(r.destination, entry);
    }
    return [...out.values()].sort((a, b) => a.destination.localeCompare(b.destination));
  }
}

function toRow(r: {
  item_id: string;
  destination: string;
  state: string;
  attempts: number;
  last_error: string | null;
  name: string | null;
  size: number | string | null;
  sha256: string | null;
  delayed_until: string | null;
  updated_at: string;
}): DeliveryRow {
  return {
    itemId: r.item_id,
    destination: r.destination,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    lastError: r.last_error,
    name: r.name,
    size: r.size === null ? null : Number(r.size),
    sha256: r.sha256,
    delayedUntil: r.delayed_until,
    updatedAt: r.updated_at,
  };
}
