// Repository copies end to end: the real Temporal dev server, a worker in this process, the
// reference deposit service (Zenodo's deposit API) and datasets in a folder source. Versions of
// one dataset are deposited strictly in order with one deposition lineage; the API failing for a
// while is waited out; a wrong checksum and every guard stop the copy with the reason; no token
// reaches the request log or the workflow history.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { copyStateQuery, copyWorkflowId, type CopyState } from '../common/copies';
import { depositClient, type DepositClient } from '../deposits';
import { startDepositService, type RunningDepositService } from '../reference-deposit-service/server';
import { REPO_ROOT } from '../config/config';
import { sendCopies } from '../starters/copies';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { eventually } from './support/eventually';
import { writeDatasetVersion } from './support/datasets';
import { testTemporal } from './support/temporal-server';

const TOKEN = 'deposit-secret-token-4c1e9f';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const md5 = (b: Buffer | string) => crypto.createHash('md5').update(b).digest('hex');

describe('repository copies (reference deposit service, real Temporal)', function () {
  this.timeout(240_000);
  let sys: CustodySystem;
  let service: RunningDepositService;
  let api: DepositClient;
  let datasets: string;

  async function setFaults(plan: Record<string, unknown>): Promise<void> {
    const res = await fetch(`${service.url}/_faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(plan),
    });
    assert.equal(res.status, 200, await res.text());
  }

  async function stats(): Promise<{ uploads: Record<string, Record<string, number>>; publishes: Record<string, number> }> {
    return (await (await fetch(`${service.url}/_stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
      uploads: Record<string, Record<string, number>>;
      publishes: Record<string, number>;
    };
  }

  async function until(copyId: string, done: (s: CopyState) => boolean, timeoutMs = 120_000): Promise<CopyState> {
    const handle = sys.client.workflow.getHandle(copyId);
    const s = await eventually(
      copyId,
      () => handle.query(copyStateQuery).catch(() => undefined),
      (s) => s !== undefined && done(s),
      { timeoutMs, everyMs: 100 },
    );
    return s!;
  }

  const send = (datasetId: string, version?: number) => sendCopies({ client: sys.client, config: sys.config }, { datasetId, type: 'data', version }, 'tester');

  before(async function () {
    this.timeout(120_000);
    process.env.DEPOSIT_TOKEN = TOKEN;
    sys = await startCustodySystem({ inProcessWorkers: false });
    service = await startDepositService({ port: 0, dataDir: path.join(sys.root, 'deposits'), token: TOKEN });
    datasets = path.join(sys.root, 'datasets');
    fs.mkdirSync(datasets);
    Object.assign(sys.config.copies, {
      source: datasets,
      depositUrl: service.url,
      guards: { maxTotalBytes: 10 * 1024 * 1024, maxFiles: 5, allowZeroLengthFiles: false },
      requestRetries: { attempts: 3, initialDelay: '50ms', maxDelay: '200ms' },
    });
    await sys.startWorkers();
    api = depositClient({ url: service.url, token: TOKEN, retries: { attempts: 1, initialDelayMs: 10, maxDelayMs: 10 } });
  });
  after(async () => {
    await sys?.close();
    await service?.close();
    delete process.env.DEPOSIT_TOKEN;
  });

  it('deposits versions fed 3, 1, 2 in the order 1, 2, 3, with one deposition lineage and each version holding exactly its own files', async () => {
    writeDatasetVersion(datasets, 'ds-order', 1, { 'a.csv': 'a,1\n', 'b.csv': 'b,1\n' });
    writeDatasetVersion(datasets, 'ds-order', 2, { 'a.csv': 'a,2\n', 'c.csv': 'c,2\n' });
    writeDatasetVersion(datasets, 'ds-order', 3, { 'a.csv': 'a,3\n', 'c.csv': 'c,2\n', 'd.csv': 'd,3\n' });
    const copyId = copyWorkflowId('ds-order', 'data');
    assert.deepEqual(
      (await send('ds-order', 3)).map((o) => o.action),
      ['sent'],
    );
    // v3 waits for v1: nothing is deposited before v1 arrives.
    const waiting = await until(copyId, (s) => s.pending.includes(3));
    assert.equal(waiting.stage, 'waiting');
    assert.match(waiting.details ?? '', /waiting for v1 .* before v3/);
    await sleep(500);
    assert.deepEqual((await sys.ledger.copies.versions(copyId)).length, 0, 'nothing deposited while v1 is missing');
    // A resend of v3 while v1 and v2 are unfinished is refused with that reason.
    const resend = await send('ds-order', 3);
    assert.equal(resend[0]!.action, 'refused');
    assert.match(resend[0]!.reason ?? '', /v3 was sent already and waits for v1, which is unfinished/);
    await send('ds-order', 1);
    await send('ds-order', 2);
    const done = await until(copyId, (s) => s.copied?.version === 3 && s.stage === 'waiting');

    const versions = await sys.ledger.copies.versions(copyId);
    assert.deepEqual(
      versions.map((v) => [v.version, v.state]),
      [
        [1, 'published'],
        [2, 'published'],
        [3, 'published'],
      ],
    );
    const depositions = await Promise.all(versions.map((v) => api.getDeposition(v.depositionId!)));
    assert.equal(new Set(depositions.map((d) => d.conceptrecid)).size, 1, 'one lineage: v2 and v3 are new versions of v1');
    assert.equal(new Set(depositions.map((d) => d.id)).size, 3);
    assert.ok(depositions.every((d) => d.submitted && d.state === 'done'));
    // Published in version order.
    const published = (await sys.ledger.timeline(copyId)).filter((e) => e.kind === 'copy-copied').map((e) => (e.detail as { version: number }).version);
    assert.deepEqual(published, [1, 2, 3]);
    // v2 dropped b.csv (inherited from v1 by the new version): each deposition has exactly its files.
    const files = async (id: number) => (await api.listFiles(id)).map((f) => [f.filename, f.checksum]).sort();
    assert.deepEqual(await files(depositions[1]!.id), [
      ['a.csv', md5('a,2\n')],
      ['c.csv', md5('c,2\n')],
    ]);
    assert.deepEqual(await files(depositions[2]!.id), [
      ['a.csv', md5('a,3\n')],
      ['c.csv', md5('c,2\n')],
      ['d.csv', md5('d,3\n')],
    ]);
    assert.equal(done.copied?.depositionId, depositions[2]!.id);
    const s = await stats();
    for (const d of depositions) assert.equal(s.publishes[String(d.id)], 1, `deposition ${d.id} published once`);
  });

  it('waits out a deposit API that fails for a while (5xx, then rate limiting), logging each request without the token', async () => {
    writeDatasetVersion(datasets, 'ds-flaky', 1, { 'x.bin': crypto.randomBytes(200_000) });
    await setFaults({ unavailable: 7, rateLimited: 2, retryAfterSeconds: 1 });
    await send('ds-flaky', 1);
    const copyId = copyWorkflowId('ds-flaky', 'data');
    await until(copyId, (s) => s.copied?.version === 1);
    const log = await sys.ledger.copies.requests(copyId);
    assert.ok(
      log.some((r) => r.status === 503),
      'the 503 answers are in the log',
    );
    assert.ok(
      log.some((r) => r.status === 429),
      'the 429 answers are in the log',
    );
    assert.ok(
      log.some((r) => r.method === 'PUT' && r.status === 201),
      'the upload is in the log',
    );
    assert.ok(!JSON.stringify(log).includes(TOKEN), 'no token in the request log');
    const history = JSON.stringify(await sys.client.workflow.getHandle(copyId).fetchHistory());
    assert.ok(!history.includes(TOKEN), 'no token in the workflow history');
  });

  it('stops a copy whose uploaded checksum the API reports wrong, with the three values in the reason, and publishes nothing', async () => {
    const data = Buffer.from('checksummed payload\n');
    writeDatasetVersion(datasets, 'ds-mismatch', 1, { 'm.txt': data });
    await setFaults({ checksumMismatch: 1 });
    await send('ds-mismatch', 1);
    const copyId = copyWorkflowId('ds-mismatch', 'data');
    const frozen = await until(copyId, (s) => s.stage === 'frozen');
    assert.match(
      frozen.frozenReason ?? '',
      /^ChecksumMismatch: m\.txt: the deposit API reports md5 [0-9a-f]{32}, custody sent md5 [0-9a-f]{32} .*the ledger recorded md5 [0-9a-f]{32}/,
    );
    assert.ok(frozen.frozenReason!.includes(`sent md5 ${md5(data)}`));
    assert.ok(frozen.frozenReason!.includes(`recorded md5 ${md5(data)}`));
    const version = await sys.ledger.copies.version(copyId, 1);
    assert.ok(version?.depositionId);
    assert.equal((await stats()).publishes[String(version.depositionId)], undefined, 'nothing published');
  });

  for (const [name, files, reason] of [
    ['over the size limit', { 'big.bin': Buffer.alloc(11 * 1024 * 1024, 1) }, /CopyGuard: .*bytes, over the limit of 10485760/],
    ['a zero-length file', { 'empty.txt': '', 'ok.txt': 'ok' }, /CopyGuard: .*"empty\.txt" is empty/],
    ['more files than the API allows', Object.fromEntries([1, 2, 3, 4, 5, 6].map((i) => [`f${i}.txt`, `${i}`])), /CopyGuard: .*more than 5 files/],
  ] as const) {
    it(`freezes a version with ${name} at once, with the reason, before anything is deposited`, async () => {
      const datasetId = `ds-guard-${name.split(' ')[1]}`;
      writeDatasetVersion(datasets, datasetId, 1, files as Record<string, Buffer | string>);
      await send(datasetId, 1);
      const copyId = copyWorkflowId(datasetId, 'data');
      const frozen = await until(copyId, (s) => s.stage === 'frozen');
      assert.match(frozen.frozenReason ?? '', reason);
      assert.equal(frozen.frozenBy, 'custody (automatic)');
      assert.equal((await sys.ledger.copies.version(copyId, 1))?.depositionId ?? null, null, 'no deposition made');
    });
  }
});

describe('repository copies: a worker process killed with SIGKILL mid-upload', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let service: RunningDepositService;
  let configFile: string;
  let datasets: string;
  const children: ChildProcess[] = [];

  function startChildWorker(): ChildProcess {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'], {
      env: {
        ...process.env,
        CUSTODY_CONFIG: configFile,
        TEMPORAL_ADDRESS: testTemporal.address,
        TEMPORAL_NAMESPACE: testTemporal.namespace,
        DEPOSIT_TOKEN: TOKEN,
      },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  before(async function () {
    this.timeout(120_000);
    sys = await startCustodySystem({ inProcessWorkers: false });
    service = await startDepositService({ port: 0, dataDir: path.join(sys.root, 'deposits'), token: TOKEN });
    datasets = path.join(sys.root, 'datasets');
    const copies = {
      ...sys.config.copies,
      source: datasets,
      depositUrl: service.url,
      requestRetries: { attempts: 3, initialDelay: '50ms', maxDelay: '200ms' },
    };
    Object.assign(sys.config.copies, copies);
    configFile = sys.writeWorkerConfig('custody');
    fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), copies }));
  });
  after(async () => {
    for (const child of children) await kill(child);
    await sys?.close();
    await service?.close();
  });

  it('leaves one complete file in the deposition, not two, and publishes it once', async () => {
    const big = crypto.randomBytes(6 * 1024 * 1024);
    writeDatasetVersion(datasets, 'ds-crash', 1, { 'big.bin': big, 'small.txt': 'small\n' });
    // Slow uploads: about 6 s for the big file, time to kill the worker in the middle of it.
    const faults = await fetch(`${service.url}/_faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ uploadBytesPerSecond: 1024 * 1024, slowUploads: 1 }),
    });
    assert.equal(faults.status, 200);
    let worker = startChildWorker();
    await sendCopies({ client: sys.client, config: sys.config }, { datasetId: 'ds-crash', type: 'data', version: 1 }, 'tester');
    const copyId = copyWorkflowId('ds-crash', 'data');
    const statsNow = async () =>
      (await (await fetch(`${service.url}/_stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
        uploadsStarted: number;
        uploads: Record<string, Record<string, number>>;
        publishes: Record<string, number>;
      };
    const deadline = Date.now() + 120_000;
    while ((await statsNow()).uploadsStarted === 0) {
      if (Date.now() > deadline) throw new Error('no upload began');
      await sleep(50);
    }
    await sleep(1500);
    await kill(worker);
    worker = startChildWorker();

    const handle = sys.client.workflow.getHandle(copyId);
    for (;;) {
      const s = await handle.query(copyStateQuery).catch(() => undefined);
      if (s?.copied?.version === 1) break;
      if (Date.now() > deadline + 60_000) throw new Error(`never copied; last ${JSON.stringify(s)}`);
      await sleep(200);
    }
    const version = await sys.ledger.copies.version(copyId, 1);
    const api = depositClient({ url: service.url, token: TOKEN });
    const files = await api.listFiles(version!.depositionId!);
    assert.deepEqual(files.map((f) => [f.filename, f.filesize, f.checksum]).sort(), [
      ['big.bin', big.length, md5(big)],
      ['small.txt', 6, md5('small\n')],
    ]);
    // The upload step ran again after the kill: the kill did land mid-upload.
    const history = await handle.fetchHistory();
    const scheduled = new Map<string, string>();
    const retried: string[] = [];
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) retried.push(scheduled.get(String(started.scheduledEventId)) ?? '');
    }
    assert.ok(retried.includes('uploadCopyFiles'), `the upload was retried after the kill (retried: ${retried.join(', ')})`);
    const s = await statsNow();
    assert.equal(s.uploads[String(version!.depositionId)]?.['big.bin'], 1, 'the big file was stored once: the killed upload left nothing');
    assert.equal(s.publishes[String(version!.depositionId)], 1);
    await kill(worker);
  });
});
