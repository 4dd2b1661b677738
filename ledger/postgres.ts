// PostgreSQL behind Kysely, for production ledgers (DATABASE_URL=postgres://…). The
// password stays in the URL given by the environment; nothing here logs it.
import { PostgresDialect } from 'kysely';
import pg from 'pg';

/** A handful of connections: a worker's ledger writes are short, one per stage change. */
const POOL_SIZE = 5;

export function postgresDialect(connectionString: string): PostgresDialect {
  return new PostgresDialect({ pool: new pg.Pool({ connectionString, max: POOL_SIZE }) });
}
