// SQLite behind Kysely, set up so that several processes (CLI, workers) can share one
// ledger file: WAL lets readers and one writer work together, busy_timeout makes a
// second writer wait instead of failing, and every transaction starts IMMEDIATE so it
// takes the write lock up front (a deferred transaction that reads first and writes
// later fails with SQLITE_BUSY when another process wrote in between, whatever the
// timeout). The same trick makes the migrator's transaction a cross-process lock.
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, SqliteAdapter, SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from 'kysely';

const BUSY_TIMEOUT_MS = 30_000;

class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

class TransactionalSqliteAdapter extends SqliteAdapter {
  // SQLite does run DDL inside transactions; Kysely's adapter says no only because it
  // has no lock to offer. Saying yes makes the migrator wrap its run in one.
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class LedgerSqliteDialect extends SqliteDialect {
  constructor(private readonly file: string) {
    super({ database: () => Promise.resolve(openDatabase(file)) });
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: () => Promise.resolve(openDatabase(this.file)) });
  }
  override createAdapter(): SqliteAdapter {
    return new TransactionalSqliteAdapter();
  }
}

function openDatabase(file: string): Database.Database {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file, { timeout: BUSY_TIMEOUT_MS });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  return db;
}

export function sqliteDialect(file: string): SqliteDialect {
  return new LedgerSqliteDialect(file);
}
