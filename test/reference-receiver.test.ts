// The reference receiver, started in-process on its own data folder and used as a sender would
// (plain HTTP, as curl would): streamed uploads checked against their digest, file_info, names
// that would leave the folder, a token, faults (corrupted uploads too), a restart, main.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';
import { DEFAULT_PORT, UsageError, parseReceiverArgs } from '../reference-receiver/main';
import { startReceiver, type RunningReceiver } from '../reference-receiver/server';

const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');
const TOKEN = 'receiver-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Raw {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(url: string, init: { method?: string; body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const res = await fetch(url, { method: init.method ?? 'GET', headers: { ...auth, ...init.headers }, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const q = (name: string) => `name=${encodeURIComponent(name)}`;

describe('reference receiver', function () {
  this.timeout(30_000);
  let dataDir: string;
  let receiver: RunningReceiver;

  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-receiver-'));
    receiver = await startReceiver({ port: 0, dataDir, token: TOKEN });
  });
  afterEach(async () => {
    await receiver.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores an upload under its name and answers its size and checksum, then file_info the same', async () => {
    const bytes = Buffer.from('the night sky over La Silla\n'.repeat(100));
    const up = await call(`${receiver.url}/upload_file?${q('2026/11/night.fits')}`, {
      method: 'POST',
      body: bytes,
      headers: { 'X-Content-Sha256': sha256(bytes) },
    });
    assert.equal(up.status, 201);
    assert.deepEqual(up.body, { name: '2026/11/night.fits', size: bytes.length, sha256: sha256(bytes) });
    assert.deepEqual((await call(`${receiver.url}/file_info?${q('2026/11/night.fits')}`)).body, up.body);
    assert.ok(fs.readFileSync(path.join(dataDir, 'files', '2026', '11', 'night.fits')).equals(bytes));
    assert.equal((await call(`${receiver.url}/file_info?${q('2026/11/other.fits')}`)).status, 404);
  });

  it('keeps the declared original of a compressed upload and reports it in file_info', async () => {
    const body = Buffer.from('gzip bytes stand-in');
    const original = { size: 12345, sha256: sha256('original') };
    const up = await call(`${receiver.url}/upload_file?${q('a.txt.gz')}`, {
      method: 'POST',
      body,
      headers: { 'X-Original-Sha256': original.sha256, 'X-Original-Size': String(original.size) },
    });
    assert.equal(up.status, 201);
    assert.deepEqual((await call(`${receiver.url}/file_info?${q('a.txt.gz')}`)).body, { name: 'a.txt.gz', size: body.length, sha256: sha256(body), original });
  });

  it('refuses a body that does not match X-Content-Sha256 and keeps what was there', async () => {
    await call(`${receiver.url}/upload_file?${q('a.txt')}`, { method: 'POST', body: 'first' });
    const up = await call(`${receiver.url}/upload_file?${q('a.txt')}`, { method: 'POST', body: 'second', headers: { 'X-Content-Sha256': sha256('other') } });
    assert.equal(up.status, 400);
    assert.equal(up.body.code, 'checksum-mismatch');
    assert.match(String(up.body.error), /a\.txt: the body \(6 bytes, sha256 [0-9a-f]{64}\) does not match X-Content-Sha256/);
    assert.equal((await call(`${receiver.url}/file_info?${q('a.txt')}`)).body.sha256, sha256('first'));
    assert.deepEqual(
      fs.readdirSync(path.join(dataDir, 'files')).filter((n) => n.startsWith('.')),
      [],
      'no partial file is left',
    );
  });

  it('refuses names that would leave its folder', async () => {
    for (const name of ['../escape.txt', '/etc/passwd', 'a/../../b', 'a//b', 'a\\b']) {
      const up = await call(`${receiver.url}/upload_file?${q(name)}`, { method: 'POST', body: 'x' });
      assert.equal(up.status, 400, name);
      assert.equal(up.body.code, 'bad-name');
      assert.equal((await call(`${receiver.url}/file_info?${q(name)}`)).status, 400);
    }
    assert.equal((await call(`${receiver.url}/upload_file`, { method: 'POST', body: 'x' })).status, 400);
    assert.ok(!fs.existsSync(path.join(dataDir, 'escape.txt')));
  });

  it('needs the bearer token for every request and never echoes it', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
      const res = await fetch(`${receiver.url}/file_info?${q('a')}`, { headers });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.ok(!(await res.text()).includes(TOKEN));
    }
    const upload = await fetch(`${receiver.url}/upload_file?${q('a')}`, { method: 'POST', body: Buffer.alloc(1024 * 1024) });
    assert.equal(upload.status, 401);
    assert.ok(!fs.existsSync(path.join(dataDir, 'files', 'a')));
  });

  it('deletes a file', async () => {
    await call(`${receiver.url}/upload_file?${q('d/x')}`, { method: 'POST', body: 'x' });
    assert.deepEqual((await call(`${receiver.url}/files?${q('d/x')}`, { method: 'DELETE' })).body, { name: 'd/x', deleted: true });
    assert.equal((await call(`${receiver.url}/file_info?${q('d/x')}`)).status, 404);
    assert.equal((await call(`${receiver.url}/files?${q('d/x')}`, { method: 'DELETE' })).status, 404);
  });

  it('fails on purpose through /_faults: 503, and uploads stored corrupted as they are reported', async () => {
    const plan = await call(`${receiver.url}/_faults`, { method: 'POST', body: JSON.stringify({ unavailable: 1, corruptUploads: 1 }) });
    assert.deepEqual(plan.body, { unavailable: 1, corruptUploads: 1 });
    const unavailable = await call(`${receiver.url}/upload_file?${q('f')}`, { method: 'POST', body: 'hello' });
    assert.equal(unavailable.status, 503);
    assert.equal(unavailable.headers.get('retry-after'), '1');
    const corrupted = await call(`${receiver.url}/upload_file?${q('f')}`, { method: 'POST', body: 'hello', headers: { 'X-Content-Sha256': sha256('hello') } });
    assert.equal(corrupted.status, 201);
    const stored = fs.readFileSync(path.join(dataDir, 'files', 'f'));
    assert.ok(!stored.equals(Buffer.from('hello')));
    assert.deepEqual(corrupted.body, { name: 'f', size: 5, sha256: sha256(stored) });
    assert.deepEqual((await call(`${receiver.url}/_faults`)).body, {});
    const fine = await call(`${receiver.url}/upload_file?${q('f')}`, { method: 'POST', body: 'hello' });
    assert.equal(fine.body.sha256, sha256('hello'));
    assert.equal((await call(`${receiver.url}/_faults`, { method: 'POST', body: JSON.stringify({ corruptUploads: -1 }) })).status, 400);
  });

  it('reports what a file holds when it was changed behind its back', async () => {
    await call(`${receiver.url}/upload_file?${q('g')}`, { method: 'POST', body: 'original' });
    fs.writeFileSync(path.join(dataDir, 'files', 'g'), 'tampered!');
    assert.deepEqual((await call(`${receiver.url}/file_info?${q('g')}`)).body, { name: 'g', size: 9, sha256: sha256('tampered!') });
  });

  it('keeps its files across a restart on the same port and folder, and one receiver per folder', async () => {
    await call(`${receiver.url}/upload_file?${q('keep/me')}`, {
      method: 'POST',
      body: 'kept',
      headers: { 'X-Original-Sha256': sha256('k'), 'X-Original-Size': '1' },
    });
    await assert.rejects(startReceiver({ port: 0, dataDir, token: TOKEN }), /in use by another reference service/);
    const port = Number(new URL(receiver.url).port);
    await receiver.close();
    await assert.rejects(fetch(`${receiver.url}/healthz`));
    receiver = await startReceiver({ port, dataDir, token: TOKEN });
    assert.deepEqual((await call(`${receiver.url}/file_info?${q('keep/me')}`)).body, {
      name: 'keep/me',
      size: 4,
      sha256: sha256('kept'),
      original: { size: 1, sha256: sha256('k') },
    });
  });
});

describe('reference receiver process (main.ts)', function () {
  this.timeout(30_000);
  const main = path.join(REPO_ROOT, 'reference-receiver', 'main.ts');

  it('takes its options from the command line, then the environment, and names a bad one', () => {
    assert.deepEqual(parseReceiverArgs(['--data-dir', '/tmp/r'], {}), { port: DEFAULT_PORT, dataDir: '/tmp/r', token: undefined });
    assert.deepEqual(
      parseReceiverArgs(['--port', '0'], { REFERENCE_RECEIVER_DATA_DIR: '/tmp/e', REFERENCE_RECEIVER_PORT: '9', REFERENCE_RECEIVER_TOKEN: 't' }),
      {
        port: 0,
        dataDir: '/tmp/e',
        token: 't',
      },
    );
    assert.equal(parseReceiverArgs(['--data-dir', '/r'], { REFERENCE_RECEIVER_PORT: '9' }).port, 9);
    const fails = (argv: string[], env: NodeJS.ProcessEnv, message: string) =>
      assert.throws(
        () => parseReceiverArgs(argv, env),
        (e: Error) => e instanceof UsageError && e.message === message,
      );
    fails(['--port', 'x', '--data-dir', '/r'], {}, 'bad --port: must be a whole number');
    fails([], {}, 'bad --data-dir (or REFERENCE_RECEIVER_DATA_DIR): is required');
    fails(['--data-dir', '/r'], { REFERENCE_RECEIVER_TOKEN: '' }, 'bad REFERENCE_RECEIVER_TOKEN: must not be empty when set');
  });

  it('announces its URL, serves with the token from the environment, and stops cleanly on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-receiver-main-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--data-dir', dataDir], {
        cwd: REPO_ROOT,
        env: { ...process.env, REFERENCE_RECEIVER_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let output = '';
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          output += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code} before it listened: ${output}`)));
      });
      const m = /^reference receiver listening on (http:\/\/127\.0\.0\.1:\d+), data in (.+), bearer token required$/.exec(line);
      assert.ok(m, line);
      assert.equal(m[2], dataDir);
      assert.equal((await call(`${m[1]}/upload_file?${q('p')}`, { method: 'POST', body: 'p' })).status, 201);
      assert.equal((await fetch(`${m[1]}/healthz`)).status, 401);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(!output.includes(TOKEN), 'the token is never printed');
      assert.ok(fs.existsSync(path.join(dataDir, 'files', 'p')));
      assert.ok(!fs.existsSync(path.join(dataDir, 'service.lock')), 'the lock is released');
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
