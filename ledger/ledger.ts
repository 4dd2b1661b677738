// The ledger: each object's current state, its packages and verdicts, and a timeline of
// events. It is custody's own record, so nothing an archive must keep depends on how
// long Temporal retains workflow histories. Every write is idempotent: activities retry.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { Kysely, Migrator, type Selectable, type Transaction } from 'kysely';
import { STAGES, type Stage } from '../common/preservation';
import type { VerdictStatus } from '../common/sip';
import { BuildLedger } from './builds';
import { CopyLedger } from './copies';
import { CursorLedger } from './cursors';
import { DrainLedger } from './drain';
import { DeliveryLedger } from './deliveries';
import { FixityLedger } from './fixity';
import { NotificationLedger, insertNotification, notificationOf } from './notifications';
import { ledgerMigrations } from './migrations';
import type { EventsTable, LedgerDatabase, ObjectsTable, PackagesTable } from './schema';
import { sqliteDialect } from './sqlite';
import { postgresDialect } from './postgres';

export interface ObjectRow {
  id: string;
  /** Null until the object's metadata has been read from the source. */
  title: string | null;
  sourceModifiedAt: string | null;
  state: Stage;
  /** An operator (or a known cause) keeps the object out of the pipeline. */
  frozen: boolean;
  frozenReason: string | null;
  frozenBy: string | null;
  lastSipId: string | null;
  lastError: string | null;
  /** The source modifiedAt of the object's last confirmed preservation. */
  preservedModifiedAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface PackageRow {
  sipId: string;
  objectId: string;
  attempt: number;
  sha256: string;
  size: number;
  payloadBytes: number;
  payloadFiles: number;
  createdAt: string;
  verdict: VerdictStatus | null;
  reasons: string[];
  decidedAt: string | null;
  reportPath: string | null;
}

/** What the packaging stage knows of a SIP; the verdict comes later. */
export type NewPackage = Omit<PackageRow, 'verdict' | 'reasons' | 'decidedAt' | 'reportPath'>;

export interface EventRow {
  id: number;
  key: string;
  objectId: string;
  sipId: string | null;
  kind: string;
  stage: Stage | null;
  detail: unknown;
  at: string;
}

export interface LedgerEvent {
  /** Idempotency key: an event recorded twice under one key is kept once. */
  key: string;
  objectId: string;
  sipId?: string;
  kind: string;
  stage?: Stage;
  detail?: unknown;
  at: string;
}

export interface Ledger {
  /** The repository-copy pipeline's rows: depositions, file digests, the deposit API's request log. */
  readonly copies: CopyLedger;
  /** One row per item and destination. */
  readonly deliveries: DeliveryLedger;
  /** The fixity audit's packages and its unresolved findings. */
  readonly fixity: FixityLedger;
  /** The scheduled harvest's cursor per source, and the fingerprint of each object it enqueued. */
  readonly cursors: CursorLedger;
  /** What the rows stamped with one build id name (custody find --build). */
  readonly builds: BuildLedger;
  /** The outbox of webhook notifications. */
  readonly notifications: NotificationLedger;
  /** Whether custody is drained, and the work held meanwhile. */
  readonly drain: DrainLedger;
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Insert or update the object's descriptive row (title, source modifiedAt). */
  upsertObject(o: { id: string; title: string; sourceModifiedAt: string }): Promise<void>;
  /** Set the current state; also records a 'stage' event with the given idempotency key.
   *  Creates the object's row when it has none yet. `error` becomes lastError; entering
   *  'queued' or 'confirmed' without one clears it. */
  setState(objectId: string, state: Stage, opts: { key: string; at: string; sipId?: string; detail?: unknown; error?: string }): Promise<void>;
  /** Freeze (with a reason) or unfreeze (null) an object; records a 'frozen' or 'unfrozen' event. */
  setFrozen(objectId: string, freeze: { reason: string; by?: string } | null, opts: { key: string; at: string }): Promise<void>;
  /** Idempotent by key. A notifiable event (see notifications.ts) adds its outbox row in the same transaction. */
  recordEvent(e: LedgerEvent): Promise<void>;
  /** Idempotent: a second call for the same sipId updates the row. Records a 'packaged' event. */
  recordPackage(p: NewPackage): Promise<void>;
  /** Idempotent: a second call updates the row. Records a 'verdict' event (once per SIP). */
  recordVerdict(v: { sipId: string; status: VerdictStatus; decidedAt: string; reasons: string[]; reportPath: string }): Promise<void>;
  /** On accepted verdict: state confirmed, preserved_modified_at = the object's source_modified_at
   *  at the time. Records a 'confirmed' event. Refuses a SIP whose recorded verdict is not 'accepted'. */
  markPreserved(objectId: string, sipId: string, at: string): Promise<void>;
  getObject(id: string): Promise<ObjectRow | undefined>;
  /** Sorted by id. */
  listObjects(filter?: { states?: Stage[]; ids?: string[] }): Promise<ObjectRow[]>;
  /** How many objects are in each state (from the state index, not the rows). */
  countByState(): Promise<Partial<Record<Stage, number>>>;
  /** Objects in one of `states` or frozen, sorted by id: the few an operator must look at, found by index. */
  needingAttention(states: Stage[]): Promise<ObjectRow[]>;
  /** Sorted by creation time. */
  packagesOf(objectId: string): Promise<PackageRow[]>;
  /** One package by SIP id (the poller maps a service's verdict back to its object). */
  getPackage(sipId: string): Promise<PackageRow | undefined>;
  /** Ordered by at, id. */
  timeline(objectId: string): Promise<EventRow[]>;
  /**
   * The packages among `sipIds` that custody made, each with whether its verdict was already
   * delivered: recorded, or signalled to its workflow (recordVerdictSignalled). Unknown SIP ids are left out.
   */
  verdictDeliveryOf(sipIds: string[]): Promise<Array<{ sipId: string; objectId: string; delivered: boolean }>>;
  /** Remembers that the poller signalled this SIP's verdict to its workflow (idempotent). */
  recordVerdictSignalled(d: { objectId: string; sipId: string; at: string }): Promise<void>;
  /** The packages among `sipIds` the ledger has (`custody reconcile` compares many at once); unknown ids are left out. */
  packagesById(sipIds: string[]): Promise<PackageRow[]>;
}

type Db = Kysely<LedgerDatabase> | Transaction<LedgerDatabase>;

// Keeps each IN (...) list well below every database's bound-parameter limit.
const IN_CHUNK = 500;

const json = (value: unknown): string | null => (value === undefined ? null : JSON.stringify(value));
const parseJson = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text));

function asStage(value: string): Stage {
  if (!(STAGES as readonly string[]).includes(value)) throw new Error(`ledger holds an unknown stage "${value}"`);
  return value as Stage;
}

function toObjectRow(r: Selectable<ObjectsTable>): ObjectRow {
  return {
    id: r.id,
    title: r.title,
    sourceModifiedAt: r.source_modified_at,
    state: asStage(r.state),
    frozen: Number(r.frozen) === 1,
    frozenReason: r.frozen_reason,
    frozenBy: r.frozen_by,
    lastSipId: r.last_sip_id,
    lastError: r.last_error,
    preservedModifiedAt: r.preserved_modified_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toPackageRow(r: Selectable<PackagesTable>): PackageRow {
  return {
    sipId: r.sip_id,
    objectId: r.object_id,
    attempt: Number(r.attempt),
    sha256: r.sha256,
    size: Number(r.size),
    payloadBytes: Number(r.payload_bytes),
    payloadFiles: Number(r.payload_files),
    createdAt: r.created_at,
    verdict: r.verdict === null ? null : (r.verdict as VerdictStatus),
    reasons: r.reasons === null ? [] : (JSON.parse(r.reasons) as string[]),
    decidedAt: r.decided_at,
    reportPath: r.report_path,
  };
}

function toEventRow(r: Selectable<EventsTable>): EventRow {
  return {
    id: Number(r.id),
    key: r.key,
    objectId: r.object_id,
    sipId: r.sip_id,
    kind: r.kind,
    stage: r.stage === null ? null : asStage(r.stage),
    detail: parseJson(r.detail),
    at: r.at,
  };
}

/** One ISO form for every time the ledger orders by: '…:00Z' and '…:00.000Z' would not sort together. */
function isoTime(value: string, what: string): string {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`ledger: ${what} "${value}" is not an ISO 8601 date-time`);
  return new Date(ms).toISOString();
}

/** The event, and in the same transaction the notification it calls for (see notifications.ts). */
async function insertEvent(db: Db, e: LedgerEvent, buildId: string | null): Promise<void> {
  const notification = notificationOf(e);
  if (notification && !db.isTransaction) {
    await db.transaction().execute((trx) => insertEvent(trx, e, buildId));
    return;
  }
  await db
    .insertInto('events')
    .values({
      build_id: buildId,
      key: e.key,
      object_id: e.objectId,
      sip_id: e.sipId ?? null,
      kind: e.kind,
      stage: e.stage ?? null,
      detail: json(e.detail),
      at: isoTime(e.at, `time of event "${e.key}"`),
    })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  if (notification) await insertNotification(db, notification);
}

/** Ensures the object has a row, so state and freezes can be recorded before its metadata is read. */
async function ensureObject(db: Db, objectId: string, state: Stage, at: string): Promise<void> {
  await db
    .insertInto('objects')
    .values({ id: objectId, title: null, source_modified_at: null, state, frozen: 0, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

class KyselyLedger implements Ledger {
  readonly copies: CopyLedger;
  readonly deliveries: DeliveryLedger;
  readonly fixity: FixityLedger;
  readonly cursors: CursorLedger;
  readonly builds: BuildLedger;
  readonly notifications: NotificationLedger;
  readonly drain: DrainLedger;

  constructor(
    private readonly db: Kysely<LedgerDatabase>,
    /** Stamped on every row this ledger writes (LedgerOptions.buildId). */
    private readonly buildId: string | null = null,
  ) {
    this.notifications = new NotificationLedger(db);
    this.copies = new CopyLedger(db, buildId);
    this.deliveries = new DeliveryLedger(db, buildId);
    this.fixity = new FixityLedger(db);
    this.cursors = new CursorLedger(db);
    this.builds = new BuildLedger(db);
    this.drain = new DrainLedger(db);
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: ledgerMigrations });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      const cause = error instanceof Error ? error.message : String(error);
      throw new Error(`ledger migration${failed ? ` "${failed}"` : ''} failed: ${cause}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  async upsertObject(o: { id: string; title: string; sourceModifiedAt: string }): Promise<void> {
    const now = new Date().toISOString();
    await this.db
      .insertInto('objects')
      .values({
        id: o.id,
        title: o.title,
        source_modified_at: o.sourceModifiedAt,
        state: 'queued',
        frozen: 0,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.column('id').doUpdateSet({ title: o.title, source_modified_at: o.sourceModifiedAt, updated_at: now }))
      .execute();
  }

  async setState(objectId: string, state: Stage, opts: { key: string; at: string; sipId?: string; detail?: unknown; error?: string }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await ensureObject(trx, objectId, state, opts.at);
      const clearsError = state === 'queued' || state === 'confirmed';
      await trx
        .updateTable('objects')
        .set({
          state,
          updated_at: opts.at,
          ...(opts.sipId !== undefined ? { last_sip_id: opts.sipId } : {}),
          ...(opts.error !== undefined ? { last_error: opts.error } : clearsError ? { last_error: null } : {}),
        })
        .where('id', '=', objectId)
        .execute();
      const detail = opts.error !== undefined ? { ...(isRecord(opts.detail) ? opts.detail : {}), error: opts.error } : opts.detail;
      await insertEvent(trx, { key: opts.key, objectId, sipId: opts.sipId, kind: 'stage', stage: state, detail, at: opts.at }, this.buildId);
    });
  }

  async setFrozen(objectId: string, freeze: { reason: string; by?: string } | null, opts: { key: string; at: string }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await ensureObject(trx, objectId, 'queued', opts.at);
      await trx
        .updateTable('objects')
        .set({
          frozen: freeze ? 1 : 0,
          frozen_reason: freeze ? freeze.reason : null,
          frozen_by: freeze ? (freeze.by ?? null) : null,
          updated_at: opts.at,
        })
        .where('id', '=', objectId)
        .execute();
      await insertEvent(
        trx,
        {
          key: opts.key,
          objectId,
          kind: freeze ? 'frozen' : 'unfrozen',
          detail: freeze ?? undefined,
          at: opts.at,
        },
        this.buildId,
      );
    });
  }

  async recordEvent(e: LedgerEvent): Promise<void> {
    await insertEvent(this.db, e, this.buildId);
  }

  async recordPackage(p: NewPackage): Promise<void> {
    const values = {
      ...(this.buildId ? { build_id: this.buildId } : {}),
      object_id: p.objectId,
      attempt: p.attempt,
      sha256: p.sha256,
      size: p.size,
      payload_bytes: p.payloadBytes,
      payload_files: p.payloadFiles,
      created_at: p.createdAt,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('packages')
        .values({ sip_id: p.sipId, ...values })
        .onConflict((oc) => oc.column('sip_id').doUpdateSet(values))
        .execute();
      await insertEvent(
        trx,
        {
          key: `packaged:${p.sipId}`,
          objectId: p.objectId,
          sipId: p.sipId,
          kind: 'packaged',
          detail: { attempt: p.attempt, sha256: p.sha256, size: p.size, payloadBytes: p.payloadBytes, payloadFiles: p.payloadFiles },
          at: p.createdAt,
        },
        this.buildId,
      );
    });
  }

  async recordVerdict(v: { sipId: string; status: VerdictStatus; decidedAt: string; reasons: string[]; reportPath: string }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const pkg = await trx.selectFrom('packages').select('object_id').where('sip_id', '=', v.sipId).executeTakeFirst();
      if (!pkg) {
        throw new PermanentError(`ledger has no package "${v.sipId}" to record a verdict for`, 'UnknownSip');
      }
      await trx
        .updateTable('packages')
        .set({ verdict: v.status, reasons: JSON.stringify(v.reasons), decided_at: v.decidedAt, report_path: v.reportPath })
        .where('sip_id', '=', v.sipId)
        .execute();
      await insertEvent(
        trx,
        {
          key: `verdict:${v.sipId}`,
          objectId: pkg.object_id,
          sipId: v.sipId,
          kind: 'verdict',
          detail: { status: v.status, reasons: v.reasons, reportPath: v.reportPath },
          at: v.decidedAt,
        },
        this.buildId,
      );
    });
  }

  async markPreserved(objectId: string, sipId: string, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const pkg = await trx.selectFrom('packages').select(['object_id', 'verdict']).where('sip_id', '=', sipId).executeTakeFirst();
      if (!pkg || pkg.object_id !== objectId) {
        throw new PermanentError(`ledger has no package "${sipId}" of object "${objectId}"`, 'UnknownSip');
      }
      if (pkg.verdict !== 'accepted') {
        throw new PermanentError(
          `object "${objectId}" cannot be marked preserved: SIP "${sipId}" has verdict ${pkg.verdict ?? 'none'}, not accepted`,
          'VerdictNotAccepted',
        );
      }
      // Copying the column inside one UPDATE takes the modifiedAt that was current when
      // the preservation was confirmed, even if the source row changes right after.
      const updated = await trx
        .updateTable('objects')
        .set((eb) => ({
          state: 'confirmed',
          preserved_modified_at: eb.ref('source_modified_at'),
          last_sip_id: sipId,
          last_error: null,
          updated_at: at,
        }))
        .where('id', '=', objectId)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0) {
        throw new PermanentError(`ledger has no object "${objectId}" to mark preserved`, 'UnknownObject');
      }
      await insertEvent(trx, { key: `confirmed:${sipId}`, objectId, sipId, kind: 'confirmed', stage: 'confirmed', at }, this.buildId);
    });
  }

  async getObject(id: string): Promise<ObjectRow | undefined> {
    const row = await this.db.selectFrom('objects').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toObjectRow(row) : undefined;
  }

  async listObjects(filter: { states?: Stage[]; ids?: string[] } = {}): Promise<ObjectRow[]> {
    if (filter.states?.length === 0 || filter.ids?.length === 0) return [];
    const query = (ids?: string[]) => {
      let q = this.db.selectFrom('objects').selectAll();
      if (filter.states) q = q.where('state', 'in', filter.states);
      if (ids) q = q.where('id', 'in', ids);
      return q.orderBy('id').execute();
    };
    if (!filter.ids) return (await query()).map(toObjectRow);
    const rows: Selectable<ObjectsTable>[] = [];
    for (let i = 0; i < filter.ids.length; i += IN_CHUNK) rows.push(...(await query(filter.ids.slice(i, i + IN_CHUNK))));
    rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return rows.map(toObjectRow);
  }

  async countByState(): Promise<Partial<Record<Stage, number>>> {
    const rows = await this.db
      .selectFrom('objects')
      .select((eb) => ['state', eb.fn.countAll<number | string>().as('n')])
      .groupBy('state')
      .execute();
    return Object.fromEntries(rows.map((r) => [asStage(r.state), Number(r.n)]));
  }

  async needingAttention(states: Stage[]): Promise<ObjectRow[]> {
    // Two queries rather than one with OR, so each is an index lookup on either database.
    const byState = states.length ? await this.db.selectFrom('objects').selectAll().where('state', 'in', states).execute() : [];
    const frozen = await this.db.selectFrom('objects').selectAll().where('frozen', '=', 1).execute();
    const rows = new Map([...byState, ...frozen].map((r) => [r.id, r]));
    return [...rows.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)).map(toObjectRow);
  }

  async packagesOf(objectId: string): Promise<PackageRow[]> {
    const rows = await this.db.selectFrom('packages').selectAll().where('object_id', '=', objectId).orderBy('created_at').orderBy('sip_id').execute();
    return rows.map(toPackageRow);
  }

  async getPackage(sipId: string): Promise<PackageRow | undefined> {
    const row = await this.db.selectFrom('packages').selectAll().where('sip_id', '=', sipId).executeTakeFirst();
    return row && toPackageRow(row);
  }

  async timeline(objectId: string): Promise<EventRow[]> {
    const rows = await this.db.selectFrom('events').selectAll().where('object_id', '=', objectId).orderBy('at').orderBy('id').execute();
    return rows.map(toEventRow);
  }

  async verdictDeliveryOf(sipIds: string[]): Promise<Array<{ sipId: string; objectId: string; delivered: boolean }>> {
    const out: Array<{ sipId: string; objectId: string; delivered: boolean }> = [];
    for (let i = 0; i < sipIds.length; i += IN_CHUNK) {
      const chunk = sipIds.slice(i, i + IN_CHUNK);
      const packages = await this.db.selectFrom('packages').select(['sip_id', 'object_id', 'verdict']).where('sip_id', 'in', chunk).execute();
      if (packages.length === 0) continue;
      const signalled = await this.db
        .selectFrom('events')
        .select('key')
        .where(
          'key',
          'in',
          packages.map((p) => signalledKey(p.sip_id)),
        )
        .execute();
      const signalledKeys = new Set(signalled.map((e) => e.key));
      for (const p of packages)
        out.push({ sipId: p.sip_id, objectId: p.object_id, delivered: p.verdict !== null || signalledKeys.has(signalledKey(p.sip_id)) });
    }
    return out;
  }

  async recordVerdictSignalled(d: { objectId: string; sipId: string; at: string }): Promise<void> {
    await insertEvent(this.db, { key: signalledKey(d.sipId), objectId: d.objectId, sipId: d.sipId, kind: 'verdict-signalled', at: d.at }, this.buildId);
  }

  async packagesById(sipIds: string[]): Promise<PackageRow[]> {
    const out: PackageRow[] = [];
    for (let i = 0; i < sipIds.length; i += IN_CHUNK) {
      const rows = await this.db
        .selectFrom('packages')
        .selectAll()
        .where('sip_id', 'in', sipIds.slice(i, i + IN_CHUNK))
        .execute();
      out.push(...rows.map(toPackageRow));
    }
    return out;
  }
}

const signalledKey = (sipId: string) => `verdict-signalled:${sipId}`;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//i.test(url.trim());

/** The SQLite file a database URL names, or an error for a URL that names none. */
export function sqlitePathOf(databaseUrl: string): string {
  const url = databaseUrl.trim();
  if (url === '') throw new Error('ledger databaseUrl is empty');
  if (isPostgresUrl(url)) throw new Error(`ledger databaseUrl "${redact(url)}" names a PostgreSQL database, not a SQLite file`);
  if (url.startsWith('file://')) return fileURLToPath(url);
  if (url.startsWith('file:')) return path.resolve(url.slice('file:'.length));
  if (url.startsWith('sqlite:')) {
    // sqlite:///abs/path and sqlite:relative/path; "sqlite://" has no host part to keep.
    const rest = url.slice('sqlite:'.length).replace(/^\/\//, '');
    if (rest === '') throw new Error(`ledger databaseUrl "${url}" names no file`);
    return path.resolve(rest);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(`ledger databaseUrl "${redact(url)}": unsupported scheme; use a postgres:// URL, a SQLite file path, a sqlite: or a file: URL`);
  }
  return path.resolve(url);
}

// A database URL may carry a password; it never goes into a message.
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export interface LedgerOptions {
  /**
   * The build of the worker writing through this ledger: stamped on every event, package,
   * delivery and copy version it writes, so `custody find --build` finds them. The CLI gives none.
   */
  buildId?: string;
  /** Called with each SQL statement run, as sent (the archive-scale bench and test read their query plans). */
  onQuery?: (sql: string, parameters: readonly unknown[]) => void;
}

/** PostgreSQL for a postgres:// URL, SQLite otherwise: the same queries and migrations. */
export function openLedger(databaseUrl: string, opts: LedgerOptions = {}): Ledger {
  return new KyselyLedger(openDb(databaseUrl, opts.onQuery), opts.buildId ?? null);
}

function openDb(databaseUrl: string, onQuery?: LedgerOptions['onQuery']): Kysely<LedgerDatabase> {
  const dialect = isPostgresUrl(databaseUrl) ? postgresDialect(databaseUrl.trim()) : sqliteDialect(sqlitePathOf(databaseUrl));
  return new Kysely<LedgerDatabase>({ dialect, ...(onQuery ? { log: (e) => onQuery(e.query.sql, e.query.parameters) } : {}) });
}

/** The ledger a command expected to find is not there (a mistyped CUSTODY_DATA_DIR or DATABASE_URL). */
export class LedgerNotFoundError extends Error {}

const CREATED_BY = '`custody enqueue`, `custody worker` or `custody db migrate` creates one';

/**
 * Opens a ledger that must already exist, for commands that only read or act on known objects:
 * opening a mistyped location would otherwise create a new, empty ledger and report an empty
 * archive. An existing ledger is brought up to date with the migrations.
 */
export async function openExistingLedger(databaseUrl: string): Promise<Ledger> {
  const ledger = new KyselyLedger(await openExistingDb(databaseUrl));
  await ledger.migrate();
  return ledger;
}

/** The database of a ledger that must already exist, not migrated. */
async function openExistingDb(databaseUrl: string): Promise<Kysely<LedgerDatabase>> {
  const postgres = isPostgresUrl(databaseUrl);
  const where = postgres ? `the PostgreSQL database ${redact(databaseUrl.trim())}` : sqlitePathOf(databaseUrl);
  // Checked before opening: opening a SQLite file creates it.
  if (!postgres && !fs.existsSync(where)) {
    throw new LedgerNotFoundError(`no ledger at ${where} (check CUSTODY_DATA_DIR or DATABASE_URL; ${CREATED_BY})`);
  }
  const db = openDb(databaseUrl);
  try {
    const tables = await db.introspection.getTables();
    if (!tables.some((t) => t.name === 'objects')) {
      throw new LedgerNotFoundError(`${where} holds no custody ledger (no objects table; check CUSTODY_DATA_DIR or DATABASE_URL; ${CREATED_BY})`);
    }
  } catch (e) {
    await db.destroy();
    throw e;
  }
  return db;
}

export interface LedgerHealth {
  /** Migrations this custody knows that the ledger has not had yet. */
  pending: string[];
  /** Migrations the ledger has had that this custody does not know (a newer custody migrated it). */
  unknown: string[];
  applied: number;
  objects: number;
}

/**
 * What `custody doctor` reports of an existing ledger, read without changing it: unlike
 * openExistingLedger it applies no migration, so the pending ones can be named.
 */
export async function inspectLedger(databaseUrl: string): Promise<LedgerHealth> {
  const db = await openExistingDb(databaseUrl);
  try {
    const known = await new Migrator({ db, provider: ledgerMigrations }).getMigrations();
    const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
    const applied = tables.some((t) => t.name === 'kysely_migration')
      ? (
          await db
            .selectFrom('kysely_migration' as never)
            .select('name' as never)
            .execute()
        ).map((r) => (r as { name: string }).name)
      : [];
    const { n } = await db
      .selectFrom('objects')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .executeTakeFirstOrThrow();
    return {
      pending: known.filter((m) => !m.executedAt).map((m) => m.name),
      unknown: applied.filter((name) => !known.some((m) => m.name === name)),
      applied: applied.length,
      objects: Number(n),
    };
  } finally {
    await db.destroy();
  }
}
