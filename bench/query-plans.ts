// The query plans of what a ledger call runs: the SQL is caught as sent (LedgerOptions.onQuery)
// and each distinct statement explained by the same database, EXPLAIN QUERY PLAN on SQLite and
// EXPLAIN on PostgreSQL (with sequential scans discouraged, so a plan that still has one has no
// index to use). A full scan is a SQLite "SCAN t" without an index, or a PostgreSQL "Seq Scan".
import { CompiledQuery, PostgresAdapter, type Kysely } from 'kysely';
import type { LedgerDatabase } from '../ledger/schema';

export interface Statement {
  sql: string;
  parameters: readonly unknown[];
}

/** Collects the statements a ledger opened with `onQuery: catcher.onQuery` runs while `catching`. */
export class StatementCatcher {
  private readonly seen = new Map<string, Statement>();
  catching = false;
  readonly onQuery = (sql: string, parameters: readonly unknown[]): void => {
    if (this.catching && !this.seen.has(sql)) this.seen.set(sql, { sql, parameters });
  };
  async during<T>(work: () => Promise<T>): Promise<{ result: T; statements: Statement[] }> {
    this.seen.clear();
    this.catching = true;
    try {
      return { result: await work(), statements: [...this.seen.values()] };
    } finally {
      this.catching = false;
    }
  }
}

export interface Plan {
  sql: string;
  lines: string[];
  /** The plan lines that read a whole table. */
  fullScans: string[];
}

export async function explain(db: Kysely<LedgerDatabase>, s: Statement): Promise<Plan> {
  const pg = db.getExecutor().adapter instanceof PostgresAdapter;
  let lines: string[];
  if (pg) {
    lines = await db.connection().execute(async (c) => {
      await c.executeQuery(CompiledQuery.raw('set enable_seqscan = off'));
      try {
        const r = await c.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${s.sql}`, [...s.parameters]));
        return r.rows.map((row) => row['QUERY PLAN']);
      } finally {
        await c.executeQuery(CompiledQuery.raw('reset enable_seqscan'));
      }
    });
  } else {
    const r = await db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${s.sql}`, [...s.parameters]));
    lines = r.rows.map((row) => row.detail);
  }
  const fullScans = lines.filter((l) => (pg ? /Seq Scan/.test(l) : /^SCAN \S+$/.test(l.trim())));
  return { sql: s.sql, lines, fullScans };
}

export async function explainAll(db: Kysely<LedgerDatabase>, statements: Statement[]): Promise<Plan[]> {
  const out: Plan[] = [];
  for (const s of statements) if (/^\s*select/i.test(s.sql)) out.push(await explain(db, s));
  return out;
}
