// The ledger's part of the scheduled harvest (`sync-source`): one cursor per source — the last
// (change time, object id) handled, moved only after a batch is recorded — and, per object, the
// fingerprint of what was last enqueued, which tells a touched-but-unchanged object from a
// changed one. An operator's rewind is also an event (object id `source:<name>`) with who and why.
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema';

/** A place in a source's (change time, object id) order: everything at or before it is handled. */
export interface CursorPosition {
  at: string;
  key: string;
}

export interface CursorRow {
  source: string;
  location: string;
  position: CursorPosition;
  updatedAt: string;
  updatedBy: string;
  reason: string;
  lastRunAt: string | null;
  /** The last run's error reading the source; null once a run reads it again. */
  lastError: string | null;
}

/** The events' object id for a source: its rewinds sit in the timeline beside the objects'. */
export const sourceEventId = (source: string) => `source:${source}`;

export class CursorLedger {
  constructor(private readonly db: Kysely<LedgerDatabase>) {}

  async get(source: string): Promise<CursorRow | undefined> {
    const r = await this.db.selectFrom('source_cursors').selectAll().where('source', '=', source).executeTakeFirst();
    return r && toRow(r);
  }

  async list(): Promise<CursorRow[]> {
    const rows = await this.db.selectFrom('source_cursors').selectAll().orderBy('source').execute();
    return rows.map(toRow);
  }

  /** A run's move (or its first position): the same move recorded twice is the same row. */
  async advance(source: string, c: { location: string; position: CursorPosition; by: string; reason: string; at: string }): Promise<void> {
    const update = {
      location: c.location,
      position_at: c.position.at,
      position_key: c.position.key,
      updated_at: c.at,
      updated_by: c.by,
      reason: c.reason,
      last_run_at: c.at,
      last_error: null,
    };
    await this.db
      .insertInto('source_cursors')
      .values({ source, ...update })
      .onConflict((oc) => oc.column('source').doUpdateSet(update))
      .execute();
  }

  /** A run that read the source and found nothing new: the position and who moved it last stay. */
  async recordRun(source: string, c: { location: string; initial: CursorPosition; at: string }): Promise<void> {
    await this.db
      .insertInto('source_cursors')
      .values({
        source,
        location: c.location,
        position_at: c.initial.at,
        position_key: c.initial.key,
        updated_at: c.at,
        updated_by: 'schedule sync-source',
        reason: 'first run',
        last_run_at: c.at,
        last_error: null,
      })
      .onConflict((oc) => oc.column('source').doUpdateSet({ last_run_at: c.at, last_error: null }))
      .execute();
  }

  /** A run that could not read the source: the cursor stays, the error is kept until a run reads it again. */
  async recordError(source: string, c: { location: string; error: string; at: string; initial: CursorPosition }): Promise<void> {
    await this.db
      .insertInto('source_cursors')
      .values({
        source,
        location: c.location,
        position_at: c.initial.at,
        position_key: c.initial.key,
        updated_at: c.at,
        updated_by: 'schedule sync-source',
        reason: 'first run',
        last_run_at: c.at,
        last_error: c.error,
      })
      .onConflict((oc) => oc.column('source').doUpdateSet({ last_run_at: c.at, last_error: c.error }))
      .execute();
  }

  /** An operator's rewind (or move forward): the row, and an event saying from where, to where, who and why. */
  async set(source: string, c: { location: string; position: CursorPosition; by: string; reason: string; at: string }): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const before = await tx.selectFrom('source_cursors').selectAll().where('source', '=', source).executeTakeFirst();
      const update = { location: c.location, position_at: c.position.at, position_key: c.position.key, updated_at: c.at, updated_by: c.by, reason: c.reason };
      await tx
        .insertInto('source_cursors')
        .values({ source, ...update, last_run_at: null, last_error: null })
        .onConflict((oc) => oc.column('source').doUpdateSet(update))
        .execute();
      await tx
        .insertInto('events')
        .values({
          key: `cursor-set:${source}:${c.at}`,
          object_id: sourceEventId(source),
          sip_id: null,
          kind: 'cursor-set',
          stage: null,
          detail: JSON.stringify({ from: before ? { at: before.position_at, key: before.position_key } : null, to: c.position, by: c.by, reason: c.reason }),
          at: c.at,
        })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
    });
  }

  async fingerprint(objectId: string): Promise<{ source: string; fingerprint: string; changedAt: string } | undefined> {
    const r = await this.db.selectFrom('harvested_objects').selectAll().where('object_id', '=', objectId).executeTakeFirst();
    return r && { source: r.source, fingerprint: r.fingerprint, changedAt: r.changed_at };
  }

  async recordFingerprint(objectId: string, f: { source: string; fingerprint: string; changedAt: string; at: string }): Promise<void> {
    const update = { source: f.source, fingerprint: f.fingerprint, changed_at: f.changedAt, recorded_at: f.at };
    await this.db
      .insertInto('harvested_objects')
      .values({ object_id: objectId, ...update })
      .onConflict((oc) => oc.column('object_id').doUpdateSet(update))
      .execute();
  }
}

function toRow(r: {
  source: string;
  location: string;
  position_at: string;
  position_key: string;
  updated_at: string;
  updated_by: string;
  reason: string;
  last_run_at: string | null;
  last_error: string | null;
}): CursorRow {
  return {
    source: r.source,
    location: r.location,
    position: { at: r.position_at, key: r.position_key },
    updatedAt: r.updated_at,
    updatedBy: r.updated_by,
    reason: r.reason,
    lastRunAt: r.last_run_at,
    lastError: r.last_error,
  };
}
