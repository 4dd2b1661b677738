// custody's deposit client against the reference deposit service, started in-process: a dataset's
// versions copied through their whole life, refusals, and every fault the service can play, with
// the client's log checked for its retries and for the token, which must never appear in it.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DepositClient, DepositRefused, DepositSourceChanged, DepositUnavailable, type DepositLogEntry, type DepositRetries } from '../deposits';
import { startDepositService, type DepositStats, type RunningDepositService } from '../reference-deposit-service/server';

const TOKEN = 'dep-token-8c1e77f0';
const metadata = {
  title: 'Salinity of the Baltic, 2024',
  upload_type: 'dataset',
  description: 'Monthly salinity readings.',
  creators: [{ name: 'Doe, Jane' }],
};
const md5 = (s: string | Buffer) => crypto.createHash('md5').update(s).digest('hex');
const sha256 = (s: string | Buffer) => crypto.createHash('sha256').update(s).digest('hex');
const text = (s: string) => () => Readable.from([Buffer.from(s)]);

/** `size` bytes of a repeating pattern, generated as they are read: never in memory whole. */
function generated(size: number, chunk = 64 * 1024): Readable {
  let left = size;
  let n = 0;
  return new Readable({
    read() {
      if (left === 0) return void this.push(null);
      const len = Math.min(chunk, left);
      left -= len;
      this.push(Buffer.alloc(len, n++ % 251));
    },
  });
}
function generatedDigests(size: number, chunk = 64 * 1024): { md5: string; sha256: string } {
  const a = crypto.createHash('md5');
  const b = crypto.createHash('sha256');
  let n = 0;
  for (let left = size; left > 0; left -= chunk) {
    const buf = Buffer.alloc(Math.min(chunk, left), n++ % 251);
    a.update(buf);
    b.update(buf);
  }
  return { md5: a.digest('hex'), sha256: b.digest('hex') };
}

describe('deposit client', function () {
  this.timeout(60_000);
  let root: string;
  let dataDir: string;
  let service: RunningDepositService;
  const logs: DepositLogEntry[] = [];
  const errors: Error[] = [];
  const fast: DepositRetries = { attempts: 4, initialDelayMs: 20, maxDelayMs: 100 };

  /** A client whose log entries go to `into` (and to the suite's list, checked for the token at the end). */
  const client = (o: { into?: DepositLogEntry[]; retries?: DepositRetries; timeoutMs?: number; token?: string } = {}) =>
    new DepositClient({
      url: service.url,
      token: o.token ?? TOKEN,
      retries: o.retries ?? fast,
      timeoutMs: o.timeoutMs ?? 10_000,
      log: (e) => {
        logs.push(e);
        o.into?.push(e);
      },
    });
  const faults = async (plan: Record<string, number>) => {
    const res = await fetch(`${service.url}/_faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(plan),
    });
    assert.equal(res.status, 200);
  };
  const stats = async () => (await (await fetch(`${service.url}/_stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as DepositStats;
  /** Keeps what a call threw, to check it for the token too. */
  const caught = async (p: Promise<unknown>): Promise<Error> => {
    try {
      await p;
    } catch (e) {
      errors.push(e as Error);
      return e as Error;
    }
    assert.fail('expected the call to throw');
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-deposit-client-test-'));
    dataDir = path.join(root, 'data');
    service = await startDepositService({ port: 0, dataDir, token: TOKEN });
  });
  afterEach(async () => {
    await faults({});
  });
  after(async () => {
    await service.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('copies a dataset through two versions: create, upload, list, publish, new version, change the files, publish', async () => {
    const c = client();
    const d = await c.createDeposition({ title: metadata.title });
    assert.equal(d.state, 'unsubmitted');
    assert.ok(d.links.bucket);
    const a = await c.uploadFile(d.links.bucket, 'readings.csv', text('month,psu\n1,7.1\n'), 16);
    assert.deepEqual(a, {
      key: 'readings.csv',
      size: 16,
      md5: md5('month,psu\n1,7.1\n'),
      sha256: sha256('month,psu\n1,7.1\n'),
      remoteMd5: md5('month,psu\n1,7.1\n'),
    });
    const progress: number[] = [];
    const b = await c.uploadFile(d.links.bucket, 'README.txt', text('read me'), 7, (n) => progress.push(n));
    assert.equal(b.remoteMd5, b.md5);
    assert.equal(progress.at(-1), 7);
    const files = await c.listFiles(d.id);
    assert.deepEqual(files.map((f) => [f.filename, f.filesize, f.checksum]).sort(), [
      ['README.txt', 7, md5('read me')],
      ['readings.csv', 16, md5('month,psu\n1,7.1\n')],
    ]);
    await c.updateMetadata(d.id, metadata);
    const v1 = await c.publish(d.id);
    assert.equal(v1.state, 'done');
    assert.equal(v1.submitted, true);
    assert.match(v1.doi ?? '', /^10\.5072\//);

    const draft = await c.newVersion(d.id);
    assert.notEqual(draft.id, d.id);
    assert.equal(draft.conceptrecid, v1.conceptrecid);
    assert.equal(draft.submitted, false);
    const inherited = await c.listFiles(draft.id);
    assert.deepEqual(inherited.map((f) => f.filename).sort(), ['README.txt', 'readings.csv']);
    await c.deleteFile(draft.id, inherited.find((f) => f.filename === 'README.txt')!.id);
    await c.uploadFile(draft.links.bucket!, 'readings-2.csv', text('month,psu\n2,7.3\n'), 16);
    const v2 = await c.publish(draft.id);
    assert.equal(v2.state, 'done');
    assert.deepEqual(v2.files?.map((f) => f.filename).sort(), ['readings-2.csv', 'readings.csv']);
    assert.equal((await c.getDeposition(d.id)).files?.length, 2, 'the first version keeps its files');
    assert.equal((await stats()).publishes[String(draft.id)], 1);
  });

  it('fails at once on a refusal, with the API’s message and field errors, and does not retry it', async () => {
    const into: DepositLogEntry[] = [];
    const c = client({ into });
    const d = await c.createDeposition();
    await c.uploadFile(d.links.bucket!, 'a.txt', text('a'), 1);
    into.length = 0;
    const e = await caught(c.publish(d.id));
    assert.ok(e instanceof DepositRefused, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.retryable, false);
    assert.equal(e.request, `POST /api/deposit/depositions/${d.id}/actions/publish`);
    assert.equal(e.apiMessage, 'Validation error.');
    assert.deepEqual(e.errors.map((f) => f.field).sort(), ['metadata.creators', 'metadata.description', 'metadata.title', 'metadata.upload_type']);
    assert.match(e.message, /400: Validation error\.: .*metadata\.title: Missing data for required field/);
    assert.deepEqual(
      into.map((l) => [l.attempt, l.status]),
      [[1, 400]],
      'one attempt, no retry',
    );
    const empty = await c.createDeposition(metadata);
    const noFiles = await caught(c.publish(empty.id));
    assert.ok(noFiles instanceof DepositRefused);
    assert.match(noFiles.message, /Missing uploaded files/);
  });

  it('is refused without the right token, and never logs or throws the token', async () => {
    const wrong = `${TOKEN}-wrong`;
    const into: DepositLogEntry[] = [];
    const e = await caught(client({ token: wrong, into }).createDeposition());
    assert.ok(e instanceof DepositRefused);
    assert.equal(e.status, 401);
    assert.ok(!JSON.stringify(into).includes(wrong));
    assert.ok(!e.message.includes(wrong));
  });

  it('retries 5xx within the call and succeeds once the service recovers; the log shows each attempt', async () => {
    const into: DepositLogEntry[] = [];
    await faults({ unavailable: 2 });
    const d = await client({ into }).createDeposition();
    assert.ok(d.id);
    assert.deepEqual(
      into.map((l) => [l.attempt, l.status]),
      [
        [1, 503],
        [2, 503],
        [3, 201],
      ],
    );
    assert.ok(into[0].retryInMs !== undefined && into[0].error?.includes('503'));
    assert.equal(into[2].retryInMs, undefined);
    assert.deepEqual(into[0].request, {});
  });

  it('throws DepositUnavailable once the in-call retries are spent', async () => {
    const into: DepositLogEntry[] = [];
    await faults({ unavailable: 10 });
    const e = await caught(client({ into, retries: { attempts: 3, initialDelayMs: 10, maxDelayMs: 50 } }).getDeposition(1));
    assert.ok(e instanceof DepositUnavailable, String(e));
    assert.equal(e.retryable, true);
    assert.equal(e.attempts, 3);
    assert.equal(e.status, 503);
    assert.match(e.message, /after 3 attempts/);
    assert.equal(into.length, 3);
  });

  it('waits as long as a 429’s Retry-After asks', async () => {
    const into: DepositLogEntry[] = [];
    await faults({ rateLimited: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    await client({ into }).createDeposition();
    assert.ok(Date.now() - started >= 1000, `took ${Date.now() - started} ms`);
    assert.equal(into[0].status, 429);
    assert.ok((into[0].retryInMs ?? 0) >= 1000);
  });

  it('gives up at once when Retry-After is longer than it waits within a call, and says how long', async () => {
    await faults({ rateLimited: 1, retryAfterSeconds: 600 });
    const e = await caught(client().createDeposition());
    assert.ok(e instanceof DepositUnavailable);
    assert.equal(e.retryAfterMs, 600_000);
    assert.equal(e.attempts, 1);
  });

  it('reports a checksum the service got wrong as remoteMd5, without throwing: the caller compares', async () => {
    const c = client();
    const d = await c.createDeposition();
    await faults({ checksumMismatch: 1 });
    const r = await c.uploadFile(d.links.bucket!, 'x.bin', text('some bytes'), 10);
    assert.equal(r.md5, md5('some bytes'));
    assert.notEqual(r.remoteMd5, r.md5);
  });

  it('times out a stalled upload and retries it; DepositUnavailable when every attempt stalls', async () => {
    const into: DepositLogEntry[] = [];
    const c = client({ into, timeoutMs: 500, retries: { attempts: 2, initialDelayMs: 10, maxDelayMs: 20 } });
    const d = await c.createDeposition();
    into.length = 0;
    await faults({ uploadBytesPerSecond: 20_000 });
    const size = 32 * 1024 * 1024;
    const e = await caught(c.uploadFile(d.links.bucket!, 'slow.bin', () => generated(size), size));
    assert.ok(e instanceof DepositUnavailable, String(e));
    assert.match(e.message, /no progress within 500 ms/);
    assert.deepEqual(
      into.map((l) => l.attempt),
      [1, 2],
    );
    await faults({});
    assert.deepEqual(await c.listFiles(d.id), [], 'a cut upload leaves no file');
  });

  it('finishes a slow upload that keeps moving, however long it takes in all', async () => {
    const c = client({ timeoutMs: 1000 });
    const d = await c.createDeposition();
    await faults({ uploadBytesPerSecond: 400_000, slowUploads: 1 });
    const size = 600_000;
    const started = Date.now();
    const r = await c.uploadFile(d.links.bucket!, 'slow.bin', () => generated(size, 16 * 1024), size);
    assert.ok(Date.now() - started > 1000, 'slower than the timeout in all');
    assert.equal(r.remoteMd5, generatedDigests(size, 16 * 1024).md5);
  });

  it('retries an upload whose connection was cut mid-way: one complete file, not two', async () => {
    const into: DepositLogEntry[] = [];
    const c = client({ into });
    const d = await c.createDeposition();
    into.length = 0;
    await faults({ uploadResets: 1, uploadResetAfterBytes: 256 * 1024 });
    const size = 3 * 1024 * 1024;
    let opened = 0;
    const r = await c.uploadFile(
      d.links.bucket!,
      'cut.bin',
      () => {
        opened++;
        return generated(size);
      },
      size,
    );
    assert.equal(opened, 2, 'the source is opened again for the retry');
    assert.deepEqual(
      into.map((l) => [l.attempt, l.status ?? 'error']),
      [
        [1, 'error'],
        [2, 201],
      ],
    );
    const want = generatedDigests(size);
    assert.equal(r.md5, want.md5);
    assert.equal(r.sha256, want.sha256);
    assert.equal(r.remoteMd5, want.md5);
    const files = await c.listFiles(d.id);
    assert.deepEqual(
      files.map((f) => [f.filename, f.filesize, f.checksum]),
      [['cut.bin', size, want.md5]],
    );
    assert.deepEqual((await stats()).uploads[String(d.id)], { 'cut.bin': 1 });
  });

  it('publishes once when the answer to publish is lost: the retry finds it published', async () => {
    const into: DepositLogEntry[] = [];
    const c = client({ into });
    const d = await c.createDeposition(metadata);
    await c.uploadFile(d.links.bucket!, 'a.txt', text('a'), 1);
    await faults({ resetAfter: 1 });
    const published = await c.publish(d.id);
    assert.equal(published.state, 'done');
    assert.equal((await stats()).publishes[String(d.id)], 1);
  });

  it('does not send a creation again when its answer was lost (it may exist), and says so', async () => {
    const before = (await stats()).requests;
    await faults({ resetAfter: 1 });
    const e = await caught(client().createDeposition());
    assert.ok(e instanceof DepositUnavailable);
    assert.match(e.message, /not sent again/);
    assert.equal((await stats()).requests - before, 1);
  });

  it('refuses a source that yields another size than given, without retrying', async () => {
    const c = client();
    const d = await c.createDeposition();
    const e = await caught(c.uploadFile(d.links.bucket!, 'short.txt', text('abc'), 5));
    assert.ok(e instanceof DepositSourceChanged, String(e));
    assert.equal(e.retryable, false);
    assert.deepEqual(await c.listFiles(d.id), []);
  });

  it('streams a 50 MB generated file to the service and agrees on its md5', async () => {
    const c = client();
    const d = await c.createDeposition();
    const size = 50 * 1024 * 1024;
    const r = await c.uploadFile(d.links.bucket!, 'big.bin', () => generated(size), size);
    const want = generatedDigests(size);
    assert.equal(r.size, size);
    assert.equal(r.md5, want.md5);
    assert.equal(r.remoteMd5, want.md5);
    assert.equal((await c.listFiles(d.id))[0].filesize, size);
  });

  it('keeps depositions and files across a restart of the service', async () => {
    const c = client();
    const d = await c.createDeposition();
    await c.uploadFile(d.links.bucket!, 'kept.txt', text('kept'), 4);
    await service.close();
    const down = await caught(client({ retries: { attempts: 2, initialDelayMs: 10, maxDelayMs: 10 } }).getDeposition(d.id));
    assert.ok(down instanceof DepositUnavailable);
    assert.match(down.message, /cannot reach it/);
    service = await startDepositService({ port: Number(new URL(service.url).port), dataDir, token: TOKEN });
    const files = await client().listFiles(d.id);
    assert.deepEqual(
      files.map((f) => [f.filename, f.checksum]),
      [['kept.txt', md5('kept')]],
    );
  });

  it('never put the token in a log entry or an error message', () => {
    assert.ok(logs.length > 30, `${logs.length} entries`);
    for (const entry of logs) assert.ok(!JSON.stringify(entry).includes(TOKEN), JSON.stringify(entry));
    for (const e of errors) assert.ok(!`${e.message} ${e.stack}`.includes(TOKEN), e.message);
    assert.ok(logs.some((l) => l.retryInMs !== undefined));
  });
});
