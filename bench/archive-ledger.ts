// The archive-scale benchmark's inputs: a ledger of N objects with a realistic mix of states and
// timelines, and a folder source whose objects are the ledger's first S, all preserved and
// unchanged since. Rows are made by the database itself (one INSERT … SELECT over a generated
// series per table, in one transaction), so a million objects take seconds, not an hour of
// round trips. test/archive-scale.test.ts uses the same generator on a few thousand.
import fs from 'node:fs';
import path from 'node:path';
import { PostgresAdapter, sql, type Kysely } from 'kysely';
import { openLedger, type Ledger } from '../ledger';
import type { LedgerDatabase } from '../ledger/schema';

/** When every source object was last preserved, and when the source says it last changed (earlier). */
export const PRESERVED_AT = '2026-01-01T00:00:00.000Z';
export const SOURCE_MODIFIED_AT = '2025-12-01T00:00:00.000Z';

/** The id of the i-th generated object (1-based): sorted ids sort like their numbers. */
export const objectIdOf = (i: number): string => `obj-${String(i).padStart(7, '0')}`;

/**
 * The state of the i-th object, per thousand: 88.0 % confirmed, 4 % awaiting a verdict, 2 %
 * queued, 1 % downloading, 1 % packaging, 0.5 % rejected, 0.3 % failed, 0.2 % no verdict,
 * 0.2 % frozen, 2.8 % confirmed again; one in 5,000 is frozen while confirmed, one confirmed
 * object in ten is delivered to an offsite copy. The first
 * `sourceObjects` are all confirmed, not frozen.
 */
const STATE_OF = (r: string) => `case
  when ${r} < 880 then 'confirmed' when ${r} < 920 then 'awaiting-verdict' when ${r} < 940 then 'queued'
  when ${r} < 950 then 'downloading' when ${r} < 960 then 'packaging' when ${r} < 965 then 'rejected'
  when ${r} < 968 then 'failed' when ${r} < 970 then 'no-verdict' when ${r} < 972 then 'frozen' else 'confirmed' end`;

/** The stages an object went through, in order; its timeline is the first n of them and its state last. */
const PATH = ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'confirmed'];
const EVENTS_OF = (state: string) => `case ${state} when 'confirmed' then 7 when 'awaiting-verdict' then 5 when 'queued' then 1 when 'downloading' then 2
  when 'packaging' then 3 when 'rejected' then 6 when 'failed' then 3 when 'no-verdict' then 6 when 'frozen' then 4 else 1 end`;

function isPostgres(db: Kysely<LedgerDatabase>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The parts of the SQL that differ between the two databases. */
function dialect(pg: boolean) {
  return {
    series: (n: number, col: string) =>
      pg
        ? `generate_series(1, ${n}) as s(${col})`
        : `(with recursive s(${col}) as (select 1 union all select ${col} + 1 from s where ${col} < ${n}) select ${col} from s) s`,
    id: (i: string) => (pg ? `'obj-' || lpad(${i}::text, 7, '0')` : `'obj-' || substr('0000000' || ${i}, -7, 7)`),
    /** An ISO time `seconds` after 2025-01-01. */
    time: (seconds: string) =>
      pg
        ? `to_char(to_timestamp(1735689600 + (${seconds})) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
        : `strftime('%Y-%m-%dT%H:%M:%fZ', 1735689600 + (${seconds}), 'unixepoch')`,
    num: (i: string) => (pg ? `${i}::int` : `cast(${i} as integer)`),
  };
}

/** Fills an empty, migrated ledger with `n` objects, the first `sourceObjects` of them preserved from the bench source. */
export async function generateLedgerRows(db: Kysely<LedgerDatabase>, n: number, sourceObjects: number): Promise<void> {
  const d = dialect(isPostgres(db));
  const steps = PATH.map((s, k) => `when ${k + 1} then '${s}'`).join(' ');
  await db.transaction().execute(async (trx) => {
    const run = (text: string) => sql.raw(text).execute(trx);
    await run(`insert into objects (id, title, source_modified_at, state, frozen, frozen_reason, frozen_by, last_sip_id, last_error, preserved_modified_at, created_at, updated_at)
      select id, 'Object ' || i, case when i <= ${sourceObjects} then '${SOURCE_MODIFIED_AT}' else created end, state,
        case when state = 'frozen' or (state = 'confirmed' and i % 5000 = 4999 and i > ${sourceObjects}) then 1 else 0 end,
        case when state = 'frozen' or (state = 'confirmed' and i % 5000 = 4999 and i > ${sourceObjects}) then 'donor asked to wait' end,
        case when state = 'frozen' or (state = 'confirmed' and i % 5000 = 4999 and i > ${sourceObjects}) then 'archivist@example.org' end,
        case when state in ('confirmed', 'awaiting-verdict', 'rejected', 'no-verdict', 'frozen') then id || '-sip-1' end,
        case state when 'rejected' then 'the service rejected it: unsupported format' when 'failed' then 'download failed: source file changed while read' end,
        case when state = 'confirmed' then case when i <= ${sourceObjects} then '${PRESERVED_AT}' else created end end,
        created, created
      from (select i, ${d.id('i')} as id, ${d.time('i * 30')} as created,
              case when i <= ${sourceObjects} then 'confirmed' else ${STATE_OF('i % 1000')} end as state
            from ${d.series(n, 'i')}) o`);
    await run(`insert into packages (sip_id, object_id, attempt, sha256, size, payload_bytes, payload_files, created_at, verdict, reasons, decided_at, report_path)
      select last_sip_id, id, 1, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', 1048576 + 10240, 1048576, 8, created_at,
        case state when 'confirmed' then 'accepted' when 'rejected' then 'rejected' end,
        case state when 'rejected' then '["unsupported format: application/x-unknown"]' end,
        case when state in ('confirmed', 'rejected') then updated_at end,
        case when state in ('confirmed', 'rejected') then 'reports/' || last_sip_id || '.json' end
      from objects where last_sip_id is not null`);
    // One confirmed object in ten is delivered to an offsite copy.
    await run(`insert into deliveries (item_id, destination, state, attempts, name, size, sha256, updated_at)
      select id, 'offsite', 'delivered', 1, last_sip_id || '.tar', 1048576 + 10240, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', updated_at
      from objects where state = 'confirmed' and id like '%0'`);
    // Each object's timeline: one stage event per step, a minute apart, the last one its state.
    await run(`insert into events (key, object_id, sip_id, kind, stage, detail, at)
      select o.id || ':stage:' || k, o.id, case when k >= 3 then o.last_sip_id end, 'stage',
        case when k = ${EVENTS_OF('o.state')} then o.state else case k ${steps} end end,
        null, ${d.time(`${d.num(`substr(o.id, 5)`)} * 30 + k * 60`)}
      from objects o cross join ${d.series(7, 'k')}
      where k <= ${EVENTS_OF('o.state')}`);
  });
}

/** The bench's SQLite ledger of n objects, generated once under `dir` and reused. */
export async function ensureSqliteLedger(dir: string, n: number, sourceObjects: number): Promise<string> {
  const file = path.join(dir, `ledger-${n}-${sourceObjects}.sqlite`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  const partial = `${file}.partial`;
  fs.rmSync(partial, { force: true });
  console.log(`generating a SQLite ledger of ${n} objects in ${file} (once)…`);
  await fillLedger(openLedger(partial), n, sourceObjects);
  fs.renameSync(partial, file);
  return file;
}

/** Migrates a new ledger and fills it; closes it. */
export async function fillLedger(ledger: Ledger, n: number, sourceObjects: number): Promise<void> {
  try {
    await ledger.migrate();
    await generateLedgerRows(dbOf(ledger), n, sourceObjects);
  } finally {
    await ledger.close();
  }
}

/** The ledger's Kysely instance: the generator and the query plans need SQL the Ledger interface does not offer. */
export function dbOf(ledger: Ledger): Kysely<LedgerDatabase> {
  return (ledger as unknown as { db: Kysely<LedgerDatabase> }).db;
}

/** A folder source of `count` objects (object.json and one small file each), generated once under `dir`. */
export function ensureFolderSource(dir: string, count: number): string {
  const root = path.join(dir, `source-${count}`);
  const done = path.join(root, '.complete');
  if (fs.existsSync(done)) return root;
  console.log(`generating a folder source of ${count} objects in ${root} (once)…`);
  fs.mkdirSync(root, { recursive: true });
  for (let i = 1; i <= count; i++) {
    const id = objectIdOf(i);
    const folder = path.join(root, id);
    fs.mkdirSync(folder, { recursive: true });
    const metadata = { id, title: `Object ${i}`, creators: ['Bench'], modifiedAt: SOURCE_MODIFIED_AT, rights: 'CC0-1.0' };
    fs.writeFileSync(path.join(folder, 'object.json'), JSON.stringify(metadata, null, 2));
    fs.writeFileSync(path.join(folder, 'note.txt'), `object ${i}\n`);
  }
  fs.writeFileSync(done, '');
  return root;
}
