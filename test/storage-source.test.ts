// The source kept in S3 (one prefix per object, object.json beside the files), on a real S3 API server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { REPO_ROOT } from '../config/config';
import { openSource, folderSource, type ObjectSource } from '../sources';
import { openStorage, type Storage } from '../storage';
import { putBytes } from '../storage/small-objects';
import { startTestS3, uploadExamples } from './support/s3-server';

const failureType = (type: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof PermanentError, String(e));
  assert.equal(e.type, type);
  assert.equal(e.nonRetryable, true);
  assert.match(e.message, pattern);
  return true;
};

describe('S3 source', function () {
  this.timeout(60_000);
  let storage: Storage;
  let source: ObjectSource;
  let local: string;
  const examples = folderSource(path.join(REPO_ROOT, 'examples', 'collection'));

  before(async () => {
    const s3 = await startTestS3();
    const bucket = await s3.bucket('source');
    storage = openStorage(`s3://${bucket}/collection`, s3.options);
    source = openSource(`s3://${bucket}/collection`, s3.options);
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-s3-source-'));
    await uploadExamples(storage, ['mus-0001', 'mus-0004']);
    await putBytes(storage, 'broken-1/object.json', Buffer.from('{"id": "broken-1"'));
    await putBytes(storage, 'broken-1/scan.txt', Buffer.from('text'));
    await putBytes(storage, 'empty-1/object.json', Buffer.from(JSON.stringify({ id: 'empty-1', title: 'Nothing', modifiedAt: '2026-01-01T00:00:00Z' })));
    await putBytes(storage, 'sneaky-1/object.json', Buffer.from(JSON.stringify({ id: 'sneaky-1', title: 'Sneaky', modifiedAt: '2026-01-01T00:00:00Z' })));
    await putBytes(storage, 'sneaky-1/..\\..\\etc\\cron.d\\job', Buffer.from('* * * * * root true'));
  });
  after(() => fs.rmSync(local, { recursive: true, force: true }));

  it('lists every object, the invalid ones with their problem, none dropped', async () => {
    const listed = await source.list();
    assert.deepEqual(
      listed.map((o) => o.id),
      ['broken-1', 'empty-1', 'mus-0001', 'mus-0004', 'sneaky-1'],
    );
    const broken = listed.find((o) => o.id === 'broken-1');
    assert.ok(broken && 'error' in broken && /object\.json is not valid JSON/.test(broken.error));
  });

  it('describes and downloads an object exactly as the folder source does', async () => {
    for (const id of ['mus-0001', 'mus-0004']) {
      assert.deepEqual(await source.describe(id), await examples.describe(id));
      const progress: number[] = [];
      const dest = path.join(local, id);
      const got = await source.download(id, dest, (done) => progress.push(done));
      for (const f of got.files) {
        const original = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'collection', id, ...f.path.split('/')));
        assert.equal(
          crypto
            .createHash('sha256')
            .update(fs.readFileSync(path.join(dest, ...f.path.split('/'))))
            .digest('hex'),
          crypto.createHash('sha256').update(original).digest('hex'),
        );
        assert.equal(f.sha256, crypto.createHash('sha256').update(original).digest('hex'), `${f.path}: the SHA-256 computed while reading`);
      }
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dest, 'object.json'), 'utf8')), got.metadata);
      assert.equal(
        progress.at(-1),
        got.files.reduce((n, f) => n + f.size, 0),
      );
    }
  });

  it('inspects an object: first bytes of each file and when it last changed', async () => {
    const inspected = await source.inspect('mus-0001', 8);
    const first = inspected.files[0];
    const original = fs.readFileSync(path.join(REPO_ROOT, 'examples', 'collection', 'mus-0001', ...first.path.split('/')));
    assert.ok(inspected.heads.get(first.path)?.equals(original.subarray(0, 8)));
    assert.ok(Date.now() - Date.parse(inspected.lastChangedAt) < 60_000, inspected.lastChangedAt);
  });

  it('freezes what no retry fixes: a missing object, bad metadata, no files, a key that leaves the object', async () => {
    await assert.rejects(source.describe('mus-9999'), failureType('ObjectNotFound', /no prefix "mus-9999\/"/));
    await assert.rejects(source.describe('broken-1'), failureType('InvalidObjectMetadata', /object\.json is not valid JSON/));
    await assert.rejects(source.describe('empty-1'), failureType('EmptyObject', /no payload files/));
    await assert.rejects(
      source.download('sneaky-1', path.join(local, 'sneaky')),
      failureType('UnsafePath', /key "sneaky-1\/\.\.\\\.\.\\etc\\cron\.d\\job" cannot be a file inside the object: .*it contains '\\'/),
    );
    assert.equal(fs.existsSync(path.join(local, 'sneaky')), false);
  });
});
