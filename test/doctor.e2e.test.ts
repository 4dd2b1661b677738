// `custody doctor` run as an operator runs it (bin/custody.js in a child process) against a whole
// real system: the Temporal dev server with custody's schedules, in-process workers, the reference
// preservation service, article store, deposit service and receiver, a SQLite ledger, folders and
// a real S3 server. First everything up, then one part down at a time.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { inspectLedger, openLedger } from '../ledger';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { startDepositService, type RunningDepositService } from '../reference-deposit-service/server';
import { startReceiver, type RunningReceiver } from '../reference-receiver/server';
import { CHECK_TIMEOUT_MS, POLLER_RECENT_MS, searchAttributeProblems, type CheckResult } from '../starters/doctor';
import { createSchedules } from '../starters/schedules';
import { SYNC_PROCESSED_SIPS_SCHEDULE } from '../common/preservation';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { freshPostgresDatabase } from './support/postgres';
import { startTestS3, type TestS3 } from './support/s3-server';
import { testTemporal } from './support/temporal-server';
import { custody as runCustody, type CliRun } from './support/custody-cli';

const DEPOSIT_TOKEN = 'doctor-deposit-token-5e1';
const STORE_TOKEN = 'doctor-store-token-77c';
const RECEIVER_TOKEN = 'doctor-receiver-token-a09';

/** The human report's lines by check name: state and finding, as an operator reads them. */
function report(run: CliRun): Map<string, { state: string; found: string }> {
  const screen = run.stdout.trimEnd().split('\n');
  for (const l of screen) assert.ok([...l].length <= 80, `fits in 80 columns: ${l}`);
  // A long finding goes on, indented, on the lines below its check's line.
  const lines = run.stdout
    .trimEnd()
    .replace(/\n {4,}/g, ' ')
    .split('\n');
  const out = new Map<string, { state: string; found: string }>();
  for (const l of lines) {
    const m = /^(ok|FAIL|warn) {2,}(\S+(?: \S+)?) {2,}(.*)$/.exec(l);
    assert.ok(m, `a check line: ${l}`);
    out.set(m[2], { state: m[1], found: m[3] });
  }
  return out;
}

/** `custody doctor --json`: the exit code and each check's state and whole finding. */
async function doctor(env: Record<string, string>): Promise<{ code: number; checks: Map<string, { state: string; found: string }>; stdout: string }> {
  const run = await custody(['doctor', '--json'], env);
  assert.equal(run.stderr, '');
  const entries = JSON.parse(run.stdout) as CheckResult[];
  return { code: run.code, stdout: run.stdout, checks: new Map(entries.map((e) => [e.check, { state: e.state, found: e.found }])) };
}

function expectState(checks: Map<string, { state: string; found: string }>, check: string, state: string, found?: RegExp): void {
  const c = checks.get(check);
  assert.ok(c, `a line for ${check} in ${[...checks.keys()].join(', ')}`);
  assert.equal(c.state, state, `${check}: ${c.found}`);
  if (found) assert.match(c.found, found, `${check}: ${c.found}`);
}

const custody = (args: string[], env: Record<string, string>) => runCustody(args, env, 120_000);

describe('custody doctor: whether a deployment can work, one line per check', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let s3: TestS3;
  let store: RunningArticleStore;
  let deposits: RunningDepositService;
  let receiver: RunningReceiver;
  let configFile: string;
  let env: Record<string, string>;
  let services: string;

  /** A config file of this system with some settings changed. */
  function configWith(name: string, change: (c: Record<string, unknown>) => void): string {
    const c = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    change(c);
    const file = path.join(sys.root, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify(c));
    return file;
  }

  before(async function () {
    this.timeout(240_000);
    s3 = await startTestS3();
    services = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-doctor-'));
    store = await startArticleStore({ port: 0, dataDir: path.join(services, 'store'), token: STORE_TOKEN });
    deposits = await startDepositService({ port: 0, dataDir: path.join(services, 'deposits'), token: DEPOSIT_TOKEN });
    receiver = await startReceiver({ port: 0, dataDir: path.join(services, 'receiver'), token: RECEIVER_TOKEN });
    process.env.CUSTODY_TEST_DOCTOR_RECEIVER_TOKEN = RECEIVER_TOKEN;
    sys = await startCustodySystem({
      config: {
        articles: { store: { url: store.url } },
        copies: { depositUrl: deposits.url },
        delivery: {
          destinations: [{ kind: 'http', name: 'archive-http', url: receiver.url, tokenEnv: 'CUSTODY_TEST_DOCTOR_RECEIVER_TOKEN' }],
          rules: [{ pipeline: 'preservation', to: ['archive-http'] }],
        },
      },
    });
    // The sources custody reads from are there; the folders it writes into it makes itself.
    fs.mkdirSync(sys.config.copies.source, { recursive: true });
    fs.mkdirSync(sys.config.articles.source, { recursive: true });
    await createSchedules(sys.client, sys.config);
    configFile = path.join(sys.root, 'doctor.json');
    fs.writeFileSync(configFile, JSON.stringify(sys.config));
    env = {
      CUSTODY_CONFIG: configFile,
      TEMPORAL_ADDRESS: testTemporal.address,
      TEMPORAL_NAMESPACE: testTemporal.namespace,
      DEPOSIT_TOKEN,
      ARTICLE_STORE_TOKEN: STORE_TOKEN,
      CUSTODY_TEST_DOCTOR_RECEIVER_TOKEN: RECEIVER_TOKEN,
    };
  });
  after(async () => {
    await sys?.close();
    await Promise.all([store?.close(), deposits?.close(), receiver?.close()]);
    delete process.env.CUSTODY_TEST_DOCTOR_RECEIVER_TOKEN;
    if (services) fs.rmSync(services, { recursive: true, force: true });
  });

  it('with everything up: every check ok, exit 0; --json has one entry per check', async () => {
    const run = await custody(['doctor'], env);
    assert.equal(run.stderr, '');
    const checks = report(run);
    for (const [check, { state, found }] of checks) assert.equal(state, 'ok', `${check}: ${found}`);
    assert.equal(run.code, 0);
    expectState(checks, 'temporal', 'ok', new RegExp(`^${testTemporal.address}, namespace ${testTemporal.namespace}, retention \\d+[dh]`));
    expectState(checks, 'search attributes', 'ok', /all 6 registered/);
    expectState(checks, `schedule ${SYNC_PROCESSED_SIPS_SCHEDULE}`, 'ok', /^active, next run 20/);
    expectState(checks, 'ledger', 'ok', /^SQLite, \d+ migrations applied, up to date, 0 objects/);
    expectState(checks, 'storage.work', 'ok');
    expectState(checks, 'preservation service', 'ok', /report API answers/);
    expectState(checks, 'article store', 'ok', /token accepted/);
    expectState(checks, 'deposit API', 'ok', /token accepted/);
    expectState(checks, 'destination archive-http', 'ok', /answers/);
    expectState(checks, 'worker custody-package', 'ok', /poller/);
    expectState(checks, 'worker custody-deliver-archive-http', 'ok', /poller/);
    expectState(checks, 'disk', 'ok', /GiB free/);
    expectState(checks, 'node', 'ok', /^version 24\./);
    expectState(checks, 'temporal sdk', 'ok', /all 1\.24\./);
    expectState(checks, 'temporal server', 'ok', /^version \d/);
    for (const s of ['storage.source', 'storage.reports', 'articles.source', 'articles.site', 'delivery.packages', 'copies.source', 'service.transfer'])
      expectState(checks, s, 'ok');

    const json = await custody(['doctor', '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    const entries = JSON.parse(json.stdout) as CheckResult[];
    assert.deepEqual(
      entries.map((e) => e.check),
      [...checks.keys()],
    );
    assert.ok(entries.every((e) => e.state === 'ok' && e.found.length > 0));
  });

  it('a config error is the report: one FAIL line per problem, exit 1', async () => {
    const bad = configWith('bad', (c) => {
      c.heartbeatTimeout = 'soon';
      (c.delivery as { slots: number }).slots = 0;
    });
    const run = await custody(['doctor'], { ...env, CUSTODY_CONFIG: bad });
    assert.equal(run.code, 1);
    // Each problem starts a line; a long one goes on, indented, below it.
    const lines = run.stdout
      .trimEnd()
      .replace(/\n {4,}/g, ' ')
      .split('\n');
    assert.equal(lines.length, 2, run.stdout);
    assert.ok(
      lines.every((l) => l.startsWith('FAIL  config  invalid config value ')),
      run.stdout,
    );
    const json = await doctor({ ...env, CUSTODY_CONFIG: bad });
    assert.equal(json.code, 1);
    const found = JSON.parse(json.stdout) as CheckResult[];
    assert.deepEqual(
      found.map((e) => [e.check, e.state]),
      [
        ['config', 'FAIL'],
        ['config', 'FAIL'],
      ],
    );
    const problems = found.map((e) => e.found).sort();
    assert.match(problems[0], new RegExp(`^invalid config value delivery\\.slots = 0 \\(from ${bad}\\): expected number to be >=1`));
    assert.match(problems[1], new RegExp(`^invalid config value heartbeatTimeout = "soon" \\(from ${bad}\\): must be a duration`));
  });

  it('Temporal unreachable: FAIL temporal naming the address, what needs Temporal not checked, exit 1', async () => {
    const { code, checks } = await doctor({ ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(code, 1);
    expectState(checks, 'temporal', 'FAIL', /^127\.0\.0\.1:1 does not answer/);
    expectState(checks, 'search attributes', 'warn', /not checked: no Temporal server/);
    expectState(checks, 'workers', 'warn', /not checked/);
    // The rest is still checked.
    expectState(checks, 'ledger', 'ok');
    expectState(checks, 'preservation service', 'ok');
  });

  it('the preservation service stopped: FAIL naming its address, exit 1', async () => {
    await sys.stopService();
    try {
      const { code, checks } = await doctor(env);
      assert.equal(code, 1);
      expectState(checks, 'preservation service', 'FAIL', new RegExp(`^${sys.serviceUrl}: unreachable \\(ECONNREFUSED`));
      assert.deepEqual(
        [...checks].filter(([, c]) => c.state !== 'ok').map(([name]) => name),
        ['preservation service'],
      );
    } finally {
      await sys.startService();
    }
  });

  it('the ledger file missing: FAIL naming where it was looked for, exit 1', async () => {
    const missing = path.join(sys.root, 'moved', 'ledger.sqlite');
    const { code, checks } = await doctor({ ...env, DATABASE_URL: missing });
    assert.equal(code, 1);
    expectState(checks, 'ledger', 'FAIL', new RegExp(`^no ledger at ${missing}`));
    assert.equal(fs.existsSync(missing), false, 'the doctor created no ledger');
  });

  it('an S3 location whose bucket does not exist: FAIL naming the bucket; an existing bucket is ok', async () => {
    const bucket = await s3.bucket('doctor');
    const file = configWith('s3', (c) => {
      const storage = c.storage as Record<string, unknown>;
      storage.s3 = { ...(storage.s3 as object), endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true };
      storage.reports = `s3://${bucket}/reports`;
      storage.work = 's3://no-such-bucket-doctor/work';
    });
    const { code, checks } = await doctor({ ...env, ...s3.env, CUSTODY_CONFIG: file });
    assert.equal(code, 1);
    expectState(checks, 'storage.reports', 'ok', new RegExp(`^s3://${bucket}/reports: bucket answers`));
    expectState(checks, 'storage.work', 'FAIL', /^s3:\/\/no-such-bucket-doctor\/work: bucket no-such-bucket-doctor does not exist/);
  });

  it('a deposit token refused is FAIL, an unset one warn; neither is printed', async () => {
    const wrong = await doctor({ ...env, DEPOSIT_TOKEN: 'not-the-token-3f9' });
    assert.equal(wrong.code, 1);
    expectState(wrong.checks, 'deposit API', 'FAIL', /token refused \(401\); check DEPOSIT_TOKEN/);
    assert.doesNotMatch(wrong.stdout, /not-the-token-3f9/);

    const unset = await doctor({ ...env, DEPOSIT_TOKEN: '' });
    assert.equal(unset.code, 0, unset.stdout);
    expectState(unset.checks, 'deposit API', 'warn', /answers, but DEPOSIT_TOKEN is not set/);
  });

  it('a service that takes the connection and never answers: FAIL after the time limit, the other checks still made', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    try {
      const { code, checks } = await doctor({ ...env, CUSTODY_SERVICE_URL: url });
      assert.equal(code, 1);
      expectState(checks, 'preservation service', 'FAIL', new RegExp(`^no answer within ${CHECK_TIMEOUT_MS / 1000}s`));
      expectState(checks, 'article store', 'ok');
      expectState(checks, 'temporal server', 'ok');
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a paused schedule is a warning, exit 0', async () => {
    const handle = sys.client.schedule.getHandle(SYNC_PROCESSED_SIPS_SCHEDULE);
    await handle.pause('service maintenance until 14:00');
    try {
      const run = await custody(['doctor'], env);
      assert.equal(run.code, 0, run.stdout);
      expectState(report(run), `schedule ${SYNC_PROCESSED_SIPS_SCHEDULE}`, 'warn', /^paused: service maintenance until 14:00/);
    } finally {
      await handle.unpause();
    }
  });

  it('workers stopped: a warning per task queue naming what will wait, exit 0', async () => {
    await sys.stopWorkers();
    // Temporal lists a stopped worker's pollers until their last poll is older than a live worker's would be.
    const deadline = Date.now() + POLLER_RECENT_MS + 60_000;
    let run: Awaited<ReturnType<typeof doctor>>;
    for (;;) {
      run = await doctor(env);
      // Each queue's pollers age out on their own clock: wait for every queue asserted below.
      const queues = ['custody-package', 'custody-io', 'custody-schedules', 'custody-deliver-archive-http'];
      if (queues.every((q) => run.checks.get(`worker ${q}`)?.state === 'warn')) break;
      if (Date.now() > deadline) assert.fail(`the pollers of stopped workers still count as recent:\n${run.stdout}`);
      await new Promise((r) => setTimeout(r, 10_000));
    }
    const { checks } = run;
    assert.equal(run.code, 0, run.stdout);
    expectState(checks, 'worker custody-package', 'warn', /^no worker polls custody-package: packaging will wait/);
    expectState(checks, 'worker custody-io', 'warn', /^no worker polls custody-io/);
    expectState(checks, 'worker custody-schedules', 'warn', /^no worker polls custody-schedules/);
    expectState(checks, 'worker custody-deliver-archive-http', 'warn', /^no worker polls custody-deliver-archive-h/);
  });
});

describe('custody doctor: search attributes compared with what the namespace registered', () => {
  const wanted = { CustodyStage: 'Keyword', CustodyFrozen: 'Bool', CustodyObjectId: 'Keyword' };

  it('all there with their types: no problem (numbers as Temporal sends them, or names)', () => {
    assert.deepEqual(searchAttributeProblems(wanted, { CustodyStage: 2, CustodyFrozen: 5, CustodyObjectId: 'INDEXED_VALUE_TYPE_KEYWORD', Other: 1 }), []);
  });

  it('one missing and one of another type: each named with what was expected', () => {
    assert.deepEqual(searchAttributeProblems(wanted, { CustodyStage: 1, CustodyObjectId: 2 }), [
      'CustodyStage is Text, not Keyword',
      'CustodyFrozen (Bool) missing',
    ]);
  });
});

describe('custody doctor: the migrations of the ledger read without applying them', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-doctor-ledger-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function ledgerWhere(change: (db: Database.Database) => void): Promise<string> {
    const file = path.join(dir, 'ledger.sqlite');
    const ledger = openLedger(file);
    await ledger.migrate();
    await ledger.setState('obj-1', 'queued', { key: 'k1', at: '2026-11-30T00:00:00Z' });
    await ledger.close();
    const db = new Database(file);
    change(db);
    db.close();
    return file;
  }

  it('up to date: nothing pending or unknown, the objects counted', async () => {
    const h = await inspectLedger(await ledgerWhere(() => undefined));
    assert.deepEqual(h.pending, []);
    assert.deepEqual(h.unknown, []);
    assert.equal(h.objects, 1);
    assert.ok(h.applied > 0);
  });

  it('a migration not yet applied is named, and stays unapplied', async () => {
    let last = '';
    const file = await ledgerWhere((db) => {
      last = (db.prepare('select name from kysely_migration order by name desc limit 1').get() as { name: string }).name;
      db.prepare('delete from kysely_migration where name = ?').run(last);
    });
    assert.deepEqual((await inspectLedger(file)).pending, [last]);
    assert.deepEqual((await inspectLedger(file)).pending, [last], 'inspecting applied nothing');
  });

  it('reads a PostgreSQL ledger the same way', async () => {
    const url = await freshPostgresDatabase();
    const ledger = openLedger(url);
    await ledger.migrate();
    await ledger.setState('obj-1', 'queued', { key: 'k1', at: '2026-11-30T00:00:00Z' });
    await ledger.close();
    const h = await inspectLedger(url);
    assert.deepEqual([h.pending, h.unknown, h.objects], [[], [], 1]);
    assert.ok(h.applied > 0);
  });

  it('a migration from a newer custody is named as unknown', async () => {
    const file = await ledgerWhere((db) => db.prepare("insert into kysely_migration (name, timestamp) values ('9999_from_the_future', '2030-01-01')").run());
    assert.deepEqual((await inspectLedger(file)).unknown, ['9999_from_the_future']);
  });
});
