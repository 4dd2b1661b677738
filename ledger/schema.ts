// Table types of the ledger as Kysely sees them. Column names are snake_case in SQL
// and mapped to the camelCase rows of ledger.ts; timestamps are ISO-8601 text and
// booleans integers 0/1 so that SQLite and PostgreSQL store them the same way.
import type { Generated } from 'kysely';

export interface ObjectsTable {
  id: string;
  title: string | null;
  source_modified_at: string | null;
  state: string;
  frozen: number;
  frozen_reason: string | null;
  frozen_by: string | null;
  last_sip_id: string | null;
  last_error: string | null;
  preserved_modified_at: string | null;
  created_at: string;
  updated_at: string;
}

export interface PackagesTable {
  sip_id: string;
  object_id: string;
  attempt: number;
  sha256: string;
  // bigint columns come back as strings from pg and as numbers from SQLite.
  size: number | string;
  payload_bytes: number | string;
  payload_files: number;
  created_at: string;
  verdict: string | null;
  reasons: string | null;
  decided_at: string | null;
  report_path: string | null;
  /** The build of the worker that wrote the row (migration 0004); null when unknown. */
  build_id: string | null;
}

export interface EventsTable {
  id: Generated<number>;
  key: string;
  object_id: string;
  sip_id: string | null;
  kind: string;
  stage: string | null;
  detail: string | null;
  at: string;
  /** The build of the worker that wrote the row (migration 0004); null when unknown. */
  build_id: string | null;
}

/** One version of a dataset copied to the deposit service: its deposition, once made, is reused by every retry. */
export interface CopyVersionsTable {
  copy_id: string;
  version: number;
  deposition_id: number | null;
  record_id: number | null;
  doi: string | null;
  state: string;
  updated_at: string;
  /** The build of the worker that wrote the row (migration 0004); null when unknown. */
  build_id: string | null;
}

/** The digest of each file of a version, taken when it was checked: what the upload must match. */
export interface CopyFilesTable {
  copy_id: string;
  version: number;
  name: string;
  size: number | string;
  sha256: string;
  md5: string;
}

/** Every request to the deposit API, per copy, with secrets already redacted. */
export interface DepositLogTable {
  id: Generated<number>;
  copy_id: string;
  at: string;
  method: string;
  url: string;
  status: number | null;
  ms: number;
  attempt: number;
  error: string | null;
  detail: string | null;
}

/** One item (a preserved package, a published article) at one destination. */
export interface DeliveriesTable {
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
  /** The build of the worker that wrote the row (migration 0004); null when unknown. */
  build_id: string | null;
}

/** How far the scheduled harvest has got in one source: the last (change time, object id) it handled. */
export interface SourceCursorsTable {
  source: string;
  location: string;
  position_at: string;
  position_key: string;
  updated_at: string;
  updated_by: string;
  reason: string;
  last_run_at: string | null;
  last_error: string | null;
}

/** What the harvest last enqueued of an object: a later change time with the same fingerprint is a touch, not a change. */
export interface HarvestedObjectsTable {
  object_id: string;
  source: string;
  fingerprint: string;
  changed_at: string;
  recorded_at: string;
}

/** The notification outbox: one row per notifiable event (its key derived from the event's), sent until delivered. */
export interface NotificationsTable {
  key: string;
  what: string;
  subject: string;
  workflow_id: string;
  stage: string | null;
  reason: string | null;
  detail: string | null;
  at: string;
  /** waiting, sent, or skipped (not configured to be sent). */
  state: string;
  attempts: number;
  next_attempt_at: string;
  sent_at: string | null;
  last_error: string | null;
  created_at: string;
}

/** While custody is drained: who drained it, why, and the schedules the drain paused (JSON). */
export interface DrainStateTable {
  id: string;
  drained_at: string;
  drained_by: string;
  reason: string;
  paused_schedules: string;
}

/** Work a starter held back while drained; resume starts it with these arguments (JSON). */
export interface HeldWorkTable {
  kind: string;
  item_id: string;
  args: string;
  held_at: string;
  held_by: string;
}

export interface LedgerDatabase {
  objects: ObjectsTable;
  packages: PackagesTable;
  events: EventsTable;
  copy_versions: CopyVersionsTable;
  copy_files: CopyFilesTable;
  deposit_log: DepositLogTable;
  deliveries: DeliveriesTable;
  source_cursors: SourceCursorsTable;
  harvested_objects: HarvestedObjectsTable;
  notifications: NotificationsTable;
  drain_state: DrainStateTable;
  held_work: HeldWorkTable;
}
