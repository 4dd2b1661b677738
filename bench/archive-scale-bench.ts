// npm run bench -- scale: custody at archive scale. A ledger of a million objects (bench/archive-ledger.ts:
// a realistic mix of states, ~6.7 timeline events and ~0.9 packages per object, some rejected, some
// frozen), on SQLite (generated once under .data/bench/) and on PostgreSQL (generated each run on a
// throw-away cluster). Measured, each against a baseline from the same run and database:
//   - `custody status` (summarize + format) against a bare `select count(*) from objects`, and the
//     way it was before (every object read) once, to show what changed;
//   - `custody status ID` (ledger part) against a bare primary-key lookup of the object;
//   - the query plan of every statement both run: none may scan a whole table;
//   - `enqueue` over a folder source of 100,000 objects that are all preserved and unchanged, against
//     a bare listing of the same source without ledger lookups, in a fresh process each, with its
//     peak RSS; again at 10,000 objects to show that memory does not grow with the source.
// Targets: status and status ID under 1 s on both databases; enqueue decides ≥ 2,000 objects/s.
// BENCH_SCALE_OBJECTS and BENCH_SCALE_SOURCE make a smaller run (e.g. 100000 and 10000).
// BENCH_SCALE_S3=1 runs the enqueue measurement over the same sources read through a bucket too
// (Versity Gateway serving the generated folders on BENCH_S3_PORT, default 17071): the storage source.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { sql } from 'kysely';
import type { Client } from '@temporalio/client';
import { loadConfig } from '../config/config';
import { openLedger } from '../ledger';
import { folderSource, openSource, type ObjectSource } from '../sources';
import { enqueueEach } from '../starters/enqueue';
import { formatObjectStatus, formatSummary, objectStatus, summarize } from '../starters/status';
import { freshPostgresDatabase, stopPostgres } from '../test/support/postgres';
import { serveFolderOverS3 } from '../test/support/s3-server';
import { dbOf, ensureFolderSource, ensureSqliteLedger, fillLedger, objectIdOf } from './archive-ledger';
import { BENCH } from './bench-objects';
import { explainAll, StatementCatcher, type Plan } from './query-plans';

const N = Number(process.env.BENCH_SCALE_OBJECTS ?? 1_000_000);
const SOURCE = Number(process.env.BENCH_SCALE_SOURCE ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const STATUS_TARGET_MS = 1000;
const ENQUEUE_TARGET_PER_S = 2000;

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

async function timed(fn: () => Promise<unknown>, runs = RUNS): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    times.push(ms(t0));
  }
  return median(times);
}

function printPlans(plans: Plan[]): number {
  let full = 0;
  for (const p of plans) {
    console.log(`    ${p.sql.replace(/\s+/g, ' ').slice(0, 150)}`);
    for (const l of p.lines) console.log(`      ${l}`);
    full += p.fullScans.length;
  }
  return full;
}

async function statusBench(name: string, url: string): Promise<void> {
  const catcher = new StatementCatcher();
  const ledger = openLedger(url, { onQuery: catcher.onQuery });
  const db = dbOf(ledger);
  try {
    const ids = { confirmed: objectIdOf(Math.floor(N / 2)), rejected: objectIdOf(N - (N % 1000) - 1000 + 960) };
    // Warm the cache the same way for each contender: the first read of a cold file is the disk's figure, not custody's.
    await summarize(ledger);
    let lines = 0;
    const countMs: number[] = [];
    const statusMs: number[] = [];
    const pkMs: number[] = [];
    const oneMs: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      // Interleaved, so a neighbour's burst on the shared machine hits both sides alike.
      countMs.push(await timed(() => sql`select count(*) as n from objects`.execute(db), 1));
      statusMs.push(await timed(async () => (lines = formatSummary(await summarize(ledger)).split('\n').length), 1));
      pkMs.push(await timed(() => db.selectFrom('objects').selectAll().where('id', '=', ids.confirmed).execute(), 1));
      oneMs.push(await timed(async () => formatObjectStatus(await objectStatus(ledger, undefined, ids.confirmed)), 1));
    }
    const rejectedMs = await timed(async () => formatObjectStatus(await objectStatus(ledger, undefined, ids.rejected)));
    const before = await timed(async () => {
      // What summarize did before 0007: every object read and counted in JavaScript.
      const rows = await ledger.listObjects();
      return rows.filter((r) => r.frozen || ['rejected', 'failed', 'frozen', 'no-verdict'].includes(r.state)).length;
    }, 1);
    const c = median(countMs);
    const s = median(statusMs);
    const p = median(pkMs);
    const o = median(oneMs);
    console.log(`\n${name}: ${N.toLocaleString('en')} objects`);
    console.log(
      `  status (counts + ${lines} lines)   ${f(s)} ms   baseline select count(*) ${f(c)} ms   ratio ${(s / c).toFixed(2)}   target < ${STATUS_TARGET_MS} ms: ${s < STATUS_TARGET_MS ? 'met' : 'MISSED'}`,
    );
    console.log(`  status as before (every object read)  ${f(before)} ms   (${(before / s).toFixed(1)}× the new one)`);
    console.log(
      `  status ${ids.confirmed} (7 events)   ${f(o)} ms   baseline primary-key select ${f(p)} ms   ratio ${(o / p).toFixed(1)}   target < ${STATUS_TARGET_MS} ms: ${o < STATUS_TARGET_MS ? 'met' : 'MISSED'}`,
    );
    console.log(`  status ${ids.rejected} (rejected)   ${f(rejectedMs)} ms`);
    const { statements: forSummary } = await catcher.during(() => summarize(ledger));
    const { statements: forOne } = await catcher.during(() => objectStatus(ledger, undefined, ids.confirmed));
    console.log('  query plans (status, then status ID):');
    const full = printPlans(await explainAll(db, [...forSummary, ...forOne]));
    console.log(`  full table scans: ${full === 0 ? 'none' : full}`);
  } finally {
    await ledger.close();
  }
}

interface ChildResult {
  mode: string;
  count: number;
  notSkipped: number;
  ms: number;
  maxRssKiB: number;
  /** The most live heap seen after a full GC, sampled every 5,000 objects and at the end: what the run holds, not what GC has yet to free. */
  liveHeapMiB: number;
}

/** One enqueue decision run (or bare listing) in a fresh process, so its peak RSS is its own. */
function runChild(mode: 'decide' | 'list', url: string, root: string, env: Record<string, string>): ChildResult {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, 'child', mode, url, root], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ChildResult;
}

async function child(mode: string, url: string, root: string): Promise<void> {
  let count = 0;
  let notSkipped = 0;
  let liveHeap = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  const sample = () => {
    if (count % 5000 !== 0 || !gc) return;
    gc();
    liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
  };
  // An s3:// root is the storage source through the gateway the parent started; a path the folder source.
  const s3 = { endpoint: process.env.BENCH_S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true };
  const open = (): ObjectSource => (root.startsWith('s3://') ? openSource(root, s3) : folderSource(root));
  const t0 = process.hrtime.bigint();
  if (mode === 'list') {
    for await (const o of open().listEach()) {
      if (o.id) count++;
      sample();
    }
  } else {
    const ledger = openLedger(url);
    try {
      const config = loadConfig({}, { storage: { source: root } });
      // A dry run: every object here is expected to be skipped, and one that is not must not start anything.
      for await (const o of enqueueEach({ client: undefined as unknown as Client, config, ledger, source: open() }, { dryRun: true })) {
        count++;
        if (o.action !== 'skipped') notSkipped++;
        sample();
      }
    } finally {
      await ledger.close();
    }
  }
  // Once more at the end, so a source smaller than 5,000 objects has a figure too.
  if (gc) {
    gc();
    liveHeap = Math.max(liveHeap, process.memoryUsage().heapUsed);
  }
  const result: ChildResult = { mode, count, notSkipped, ms: ms(t0), maxRssKiB: process.resourceUsage().maxRSS, liveHeapMiB: liveHeap / 2 ** 20 };
  console.log(JSON.stringify(result));
}

function enqueueBench(
  name: string,
  url: string,
  sources: Map<number, string>,
  over: { kind: string; env: Record<string, string> } = { kind: 'a folder', env: {} },
): void {
  console.log(`\n${name}: enqueue over ${over.kind} source of already preserved objects (fresh process each; peak RSS of the whole process)`);
  for (const [size, root] of sources) {
    const decide: ChildResult[] = [];
    const list: ChildResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      list.push(runChild('list', url, root, over.env));
      decide.push(runChild('decide', url, root, over.env));
    }
    const d = median(decide.map((r) => r.ms));
    const l = median(list.map((r) => r.ms));
    const rate = (size / d) * 1000;
    const bad = decide.reduce((a, r) => a + r.notSkipped + (r.count === size ? 0 : 1), 0);
    const rss = (rs: ChildResult[]) => Math.max(...rs.map((r) => r.maxRssKiB)) / 1024;
    const live = (rs: ChildResult[]) => Math.max(...rs.map((r) => r.liveHeapMiB));
    console.log(
      `  ${size.toLocaleString('en').padStart(7)} objects: decide ${f(d)} ms (${rate.toFixed(0)} objects/s, peak RSS ${rss(decide).toFixed(0)} MiB, live heap ${live(decide).toFixed(1)} MiB)` +
        `   baseline bare listing ${f(l)} ms (peak RSS ${rss(list).toFixed(0)} MiB, live heap ${live(list).toFixed(1)} MiB)   ratio ${(d / l).toFixed(2)}` +
        `   target ≥ ${ENQUEUE_TARGET_PER_S}/s: ${rate >= ENQUEUE_TARGET_PER_S ? 'met' : 'MISSED'}${bad ? `   ${bad} NOT SKIPPED` : ''}`,
    );
  }
}

async function main(): Promise<void> {
  console.log(`archive scale: ${N.toLocaleString('en')}-object ledger, ${SOURCE.toLocaleString('en')}-object source, median of ${RUNS} runs`);
  const sqliteFile = await ensureSqliteLedger(BENCH, N, SOURCE);
  const sources = new Map([SOURCE / 10, SOURCE].map((n) => [n, ensureFolderSource(BENCH, n)]));
  // BENCH_SCALE_ONLY=enqueue: the enqueue runs on SQLite alone (no PostgreSQL generation).
  const only = process.env.BENCH_SCALE_ONLY;
  if (only !== 'enqueue') await statusBench('SQLite', sqliteFile);
  enqueueBench('SQLite', sqliteFile, sources);
  if (process.env.BENCH_SCALE_S3 === '1') {
    // Each generated source folder is a bucket of the same name (the folders' ".complete" marker is a loose key, not an object).
    const gateway = await serveFolderOverS3(BENCH, Number(process.env.BENCH_S3_PORT ?? 17071));
    try {
      const buckets = new Map([...sources].map(([n, root]) => [n, `s3://${path.basename(root)}`]));
      enqueueBench('SQLite', sqliteFile, buckets, { kind: 'an S3 (storage)', env: gateway.env });
    } finally {
      gateway.stop();
    }
  }
  if (only === 'enqueue') return;
  try {
    const pgUrl = await freshPostgresDatabase();
    const t0 = process.hrtime.bigint();
    await fillLedger(openLedger(pgUrl), N, SOURCE);
    // What autovacuum does soon after a bulk load anyway: statistics, and the visibility map index-only scans need.
    const admin = openLedger(pgUrl);
    await sql`vacuum analyze`.execute(dbOf(admin));
    await admin.close();
    console.log(`\nPostgreSQL: generated ${N.toLocaleString('en')} objects in ${(ms(t0) / 1000).toFixed(0)} s`);
    await statusBench('PostgreSQL', pgUrl);
    enqueueBench('PostgreSQL', pgUrl, sources);
  } finally {
    stopPostgres();
  }
}

if (process.argv[2] === 'child') {
  child(process.argv[3], process.argv[4], process.argv[5]).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
