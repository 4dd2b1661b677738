// The reference deposit service, started in-process on its own data folder and used as a
// Zenodo client would use it, over plain HTTP: tokens, depositions, bucket uploads, publication,
// new versions, refusals in Zenodo's shape, the fault switch, a cut upload, a restart.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PORT, UsageError, parseDepositServiceArgs } from '../reference-deposit-service/main';
import { startDepositService, type RunningDepositService } from '../reference-deposit-service/server';

const TOKEN = 'test-token-5f2c9a';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Raw {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function http(url: string, init: { method?: string; json?: unknown; data?: string | Buffer; headers?: Record<string, string> } = {}): Promise<Raw> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}), ...auth, ...init.headers },
    body: init.json !== undefined ? JSON.stringify(init.json) : init.data,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const metadata = {
  title: 'Salinity of the Baltic, 2024',
  upload_type: 'dataset',
  description: 'Monthly salinity readings.',
  creators: [{ name: 'Doe, Jane' }],
};

describe('reference deposit service', function () {
  this.timeout(30_000);
  let root: string;
  let dataDir: string;
  let service: RunningDepositService;
  const api = (p: string) => `${service.url}/api/${p}`;

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-deposit-service-test-'));
    dataDir = path.join(root, 'data');
    service = await startDepositService({ port: 0, dataDir, token: TOKEN });
  });
  after(async () => {
    await service.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses a request without the token, or with a wrong one, in Zenodo’s error shape', async () => {
    const none = await http(api('deposit/depositions'), { headers: { authorization: '' } });
    assert.equal(none.status, 401);
    assert.equal(none.body.status, 401);
    assert.match(none.body.message, /not verify that you are authorized/);
    const wrong = await http(api('deposit/depositions'), { headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.status, 401);
    assert.equal((await http(`${service.url}/_faults`, { headers: { authorization: '' } })).status, 401, 'the fault switch needs the token too');
    assert.equal((await http(`${service.url}/_stats`, { headers: { authorization: '' } })).status, 401);
    const query = await http(`${api('deposit/depositions')}?access_token=${TOKEN}`, { headers: { authorization: '' } });
    assert.equal(query.status, 200, 'the token may come as ?access_token=');
  });

  describe('a deposition through its life', () => {
    let id: number;
    let bucket: string;
    let draftId: number;

    it('creates a draft with Zenodo’s fields and absolute links', async () => {
      const res = await http(api('deposit/depositions'), { method: 'POST', json: {} });
      assert.equal(res.status, 201);
      const d = res.body;
      assert.ok(Number.isInteger(d.id));
      assert.equal(typeof d.conceptrecid, 'string');
      assert.equal(d.state, 'unsubmitted');
      assert.equal(d.submitted, false);
      assert.deepEqual(d.metadata, {});
      for (const link of ['self', 'bucket', 'files', 'publish', 'newversion', 'html']) assert.match(d.links[link], new RegExp(`^${service.url}/`), link);
      id = d.id;
      bucket = d.links.bucket;
    });

    it('takes files into the bucket: md5 in the answer, a second PUT of a name replaces it', async () => {
      const first = await http(`${bucket}/readings.csv`, { method: 'PUT', data: 'month,psu\n1,7.1\n' });
      assert.equal(first.status, 201);
      assert.equal(first.body.key, 'readings.csv');
      assert.equal(first.body.size, 16);
      assert.equal(first.body.checksum, `md5:${crypto.createHash('md5').update('month,psu\n1,7.1\n').digest('hex')}`);
      assert.equal(first.body.mimetype, 'text/csv');
      const second = await http(`${bucket}/readings.csv`, { method: 'PUT', data: 'month,psu\n1,7.1\n2,7.3\n' });
      assert.equal(second.status, 201);
      await http(`${bucket}/README.txt`, { method: 'PUT', data: 'read me' });
      const list = await http(api(`deposit/depositions/${id}/files`));
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.map((f: { filename: string; filesize: number }) => [f.filename, f.filesize]).sort(), [
        ['README.txt', 7],
        ['readings.csv', 22],
      ]);
      assert.equal(list.body.find((f: { filename: string }) => f.filename === 'readings.csv').checksum, second.body.checksum.slice(4));
      const download = await fetch(`${bucket}/readings.csv`, { headers: auth });
      assert.equal(await download.text(), 'month,psu\n1,7.1\n2,7.3\n');
    });

    it('refuses file names with a slash or none', async () => {
      assert.equal((await http(`${bucket}/a%2Fb.txt`, { method: 'PUT', data: 'x' })).status, 400);
      assert.equal((await http(`${bucket}/a/b.txt`, { method: 'PUT', data: 'x' })).status, 400);
      assert.equal((await http(`${bucket}/`, { method: 'PUT', data: 'x' })).status, 400);
    });

    it('refuses to publish without the required metadata, naming each field', async () => {
      const res = await http(api(`deposit/depositions/${id}/actions/publish`), { method: 'POST' });
      assert.equal(res.status, 400);
      assert.equal(res.body.message, 'Validation error.');
      assert.deepEqual(res.body.errors.map((e: { field: string }) => e.field).sort(), [
        'metadata.creators',
        'metadata.description',
        'metadata.title',
        'metadata.upload_type',
      ]);
    });

    it('publishes once the metadata is set: 202, done, a DOI; the bucket is then locked', async () => {
      const put = await http(api(`deposit/depositions/${id}`), { method: 'PUT', json: { metadata } });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body.metadata, metadata);
      const res = await http(api(`deposit/depositions/${id}/actions/publish`), { method: 'POST' });
      assert.equal(res.status, 202);
      assert.equal(res.body.state, 'done');
      assert.equal(res.body.submitted, true);
      assert.equal(res.body.record_id, id);
      assert.match(res.body.doi, /^10\.5072\/zenodo\.\d+$/);
      const locked = await http(`${bucket}/late.txt`, { method: 'PUT', data: 'late' });
      assert.equal(locked.status, 403);
      assert.match(locked.body.message, /locked/);
      assert.equal((await http(api(`deposit/depositions/${id}`), { method: 'DELETE' })).status, 403);
      assert.equal((await http(api(`deposit/depositions/${id}/actions/publish`), { method: 'POST' })).status, 403);
    });

    it('makes one new version: a draft of the same concept holding copies of the files', async () => {
      const res = await http(api(`deposit/depositions/${id}/actions/newversion`), { method: 'POST' });
      assert.equal(res.status, 201);
      assert.equal(res.body.id, id, 'the answer is the published deposition');
      const draftUrl: string = res.body.links.latest_draft;
      const draft = await http(draftUrl);
      assert.equal(draft.body.state, 'unsubmitted');
      assert.equal(draft.body.conceptrecid, res.body.conceptrecid);
      assert.notEqual(draft.body.id, id);
      draftId = draft.body.id;
      assert.deepEqual(draft.body.files.map((f: { filename: string }) => f.filename).sort(), ['README.txt', 'readings.csv']);
      const again = await http(api(`deposit/depositions/${id}/actions/newversion`), { method: 'POST' });
      assert.equal(again.body.links.latest_draft, draftUrl, 'while a draft exists, asking again makes no other');
      const copy = await fetch(`${draft.body.links.bucket}/readings.csv`, { headers: auth });
      assert.equal(await copy.text(), 'month,psu\n1,7.1\n2,7.3\n');
    });

    it('refuses a new version of a draft, and deletes a draft', async () => {
      const res = await http(api(`deposit/depositions/${draftId}/actions/newversion`), { method: 'POST' });
      assert.equal(res.status, 400);
      const other = await http(api('deposit/depositions'), { method: 'POST', json: { metadata: { title: 'scratch' } } });
      assert.equal((await http(api(`deposit/depositions/${other.body.id}`), { method: 'DELETE' })).status, 204);
      assert.equal((await http(api(`deposit/depositions/${other.body.id}`))).status, 404);
    });

    it('keeps depositions and files across a restart', async () => {
      const before = (await http(api(`deposit/depositions/${draftId}`))).body;
      await service.close();
      service = await startDepositService({ port: 0, dataDir, token: TOKEN });
      const after = (await http(api(`deposit/depositions/${draftId}`))).body;
      assert.deepEqual(after.files, JSON.parse(JSON.stringify(before.files).replaceAll(new URL(before.links.self).origin, service.url)));
      const bytes = await fetch(`${after.links.bucket}/README.txt`, { headers: auth });
      assert.equal(await bytes.text(), 'read me');
      const created = await http(api('deposit/depositions'), { method: 'POST', json: {} });
      assert.ok(created.body.id > draftId, 'ids are not handed out twice');
    });
  });

  describe('the fault switch', () => {
    afterEach(async () => {
      await http(`${service.url}/_faults`, { method: 'DELETE' });
    });

    it('shows, replaces and clears the plan, and refuses an unknown field', async () => {
      const set = await http(`${service.url}/_faults`, { method: 'POST', json: { unavailable: 2, rateLimited: 1, retryAfterSeconds: 3, checksumMismatch: 1 } });
      assert.equal(set.status, 200);
      assert.deepEqual(set.body, { unavailable: 2, rateLimited: 1, retryAfterSeconds: 3, checksumMismatch: 1 });
      assert.equal((await http(api('deposit/depositions'))).status, 503);
      assert.equal((await http(api('deposit/depositions'))).status, 503);
      const limited = await http(api('deposit/depositions'));
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get('retry-after'), '3');
      assert.equal((await http(api('deposit/depositions'))).status, 200);
      assert.deepEqual((await http(`${service.url}/_faults`)).body, { checksumMismatch: 1 });
      const bad = await http(`${service.url}/_faults`, { method: 'POST', json: { unavailble: 1 } });
      assert.equal(bad.status, 400);
      assert.match(JSON.stringify(bad.body.errors), /unavailble/);
    });

    it('answers a wrong md5 for a checksum-mismatch upload while storing the right bytes', async () => {
      const d = (await http(api('deposit/depositions'), { method: 'POST', json: {} })).body;
      await http(`${service.url}/_faults`, { method: 'POST', json: { checksumMismatch: 1 } });
      const wrong = await http(`${d.links.bucket}/a.txt`, { method: 'PUT', data: 'abc' });
      assert.notEqual(wrong.body.checksum, 'md5:900150983cd24fb0d6963f7d28e17f72');
      const files = (await http(api(`deposit/depositions/${d.id}/files`))).body;
      assert.equal(files[0].checksum, '900150983cd24fb0d6963f7d28e17f72');
      const right = await http(`${d.links.bucket}/a.txt`, { method: 'PUT', data: 'abc' });
      assert.equal(right.body.checksum, 'md5:900150983cd24fb0d6963f7d28e17f72');
    });

    it('drops an upload mid-way and leaves no file, not even a temp file', async () => {
      const d = (await http(api('deposit/depositions'), { method: 'POST', json: {} })).body;
      const failedBefore: number = (await http(`${service.url}/_stats`)).body.uploadsFailed;
      await http(`${service.url}/_faults`, { method: 'POST', json: { uploadResets: 1, uploadResetAfterBytes: 100_000 } });
      await assert.rejects(http(`${d.links.bucket}/big.bin`, { method: 'PUT', data: Buffer.alloc(1_000_000, 7) }));
      // The service notices the cut as the client does, and counts it once its temp file is gone.
      for (let i = 0; i < 100 && (await http(`${service.url}/_stats`)).body.uploadsFailed === failedBefore; i++) await sleep(20);
      assert.deepEqual((await http(api(`deposit/depositions/${d.id}/files`))).body, []);
      const bucketDir = path.join(dataDir, 'buckets', new URL(d.links.bucket).pathname.split('/').at(-1)!);
      assert.deepEqual(fs.existsSync(bucketDir) ? fs.readdirSync(bucketDir) : [], []);
      const stats = (await http(`${service.url}/_stats`)).body;
      assert.equal(stats.uploads[d.id], undefined);
    });
  });

  it('refuses a second service on the same data folder', async () => {
    await assert.rejects(startDepositService({ port: 0, dataDir, token: TOKEN }), /in use by another reference service/);
  });

  it('reads its options from the command line and the environment; the token only from the environment', () => {
    const opts = parseDepositServiceArgs(['--data-dir', '/tmp/x'], { REFERENCE_DEPOSIT_SERVICE_TOKEN: 't' });
    assert.deepEqual(opts, { port: DEFAULT_PORT, dataDir: '/tmp/x', token: 't' });
    assert.equal(parseDepositServiceArgs(['--data-dir', 'd'], { REFERENCE_DEPOSIT_SERVICE_PORT: '0', REFERENCE_DEPOSIT_SERVICE_TOKEN: 't' }).port, 0);
    assert.throws(
      () => parseDepositServiceArgs(['--data-dir', 'd'], {}),
      (e: Error) => e instanceof UsageError && /REFERENCE_DEPOSIT_SERVICE_TOKEN/.test(e.message),
    );
    assert.throws(() => parseDepositServiceArgs(['--token', 't', '--data-dir', 'd'], {}), UsageError);
    assert.throws(() => parseDepositServiceArgs(['--port', 'x', '--data-dir', 'd'], { REFERENCE_DEPOSIT_SERVICE_TOKEN: 't' }), /--port/);
  });
});
