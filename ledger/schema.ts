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
}

export interface LedgerDatabase {
  objects: ObjectsTable;
  packages: PackagesTable;
  events: EventsTable;
}
