// The source kept in S3 (one prefix per object, object.json beside the files), on a real S3 API server.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { REPO_ROOT } from '../config/config';
import { isInvalidSourceObject, openSource, folderSource, storageSource, type ObjectSource } from '../sources';
import { MAX_METADATA_BYTES } from '../sources/object-json';
import { FileStorage, openStorage, type Storage } from '../storage';
import { S3Storage, s3Client } from '../storage/s3-storage';
import { putBytes } from '../storage/small-objects';
import { startTestS3, uploadExamples, type TestS3 } from './support/s3-server';

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

const metadataOf = (id: string) => Buffer.from(JSON.stringify({ id, title: `Object ${id}`, modifiedAt: '2026-01-01T00:00:00Z' }));

async function collect(source: ObjectSource) {
  const out = [];
  for await (const o of source.listEach()) out.push(o);
  return out;
}

describe('storage source listing', function () {
  this.timeout(120_000);
  let s3: TestS3;
  let local: string;

  before(async () => {
    s3 = await startTestS3();
    local = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-s3-listing-'));
  });
  after(() => fs.rmSync(local, { recursive: true, force: true }));

  it('streams a bucket of 2,500 objects: the first comes after one listing page, and each page holds a thousand objects, not their keys', async () => {
    const bucket = await s3.bucket('many');
    // Written where the gateway keeps the bucket: 5,000 keys in a second rather than 5,000 PUTs.
    const ids = Array.from({ length: 2500 }, (_, i) => `obj-${String(i).padStart(5, '0')}`);
    for (const id of ids) {
      fs.mkdirSync(path.join(s3.dir, bucket, 'src', id), { recursive: true });
      fs.writeFileSync(path.join(s3.dir, bucket, 'src', id, 'object.json'), metadataOf(id));
      fs.writeFileSync(path.join(s3.dir, bucket, 'src', id, 'note.txt'), id);
    }
    const client = s3Client(s3.options);
    let pages = 0;
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'ListObjectsV2Command') pages++;
        return next(args);
      },
      { step: 'initialize' },
    );
    const source = storageSource(new S3Storage(client, bucket, 'src'));
    const listed: string[] = [];
    let pagesAtFirst = 0;
    for await (const o of source.listEach()) {
      if (listed.length === 0) pagesAtFirst = pages;
      assert.ok(!isInvalidSourceObject(o), `${o.id}: ${isInvalidSourceObject(o) ? o.error : ''}`);
      listed.push(o.id);
    }
    assert.deepEqual(listed, ids);
    assert.equal(pagesAtFirst, 1, 'the first object was given before the rest of the bucket was listed');
    assert.equal(pages, 3, 'one listing page per thousand objects: the keys below each object are not walked');
    client.destroy();
  });

  for (const kind of ['s3', 'file'] as const) {
    const open = async (label: string): Promise<{ storage: Storage; source: ObjectSource }> => {
      const storage =
        kind === 's3' ? openStorage(`s3://${await s3.bucket(label)}/src`, s3.options) : new FileStorage(fs.mkdtempSync(path.join(local, `${label}-`)));
      return { storage, source: storageSource(storage) };
    };

    it(`lists in key order on ${kind} storage: "obj-1" before "obj", U+E000 before a character above U+FFFF`, async () => {
      const { storage, source } = await open('order');
      const names = ['obj', 'obj-1', 'obj.2', 'obj_3', 'x\u{1F600}', 'x\uE000', 'x\uFFFD', 'xz'];
      for (const id of names) await putBytes(storage, `${id}/object.json`, metadataOf(id));
      // The bytes of "id/": '-' and '.' sort below '/', and UTF-8 sorts by code point, not by UTF-16 unit.
      const expected = ['obj-1', 'obj.2', 'obj', 'obj_3', 'xz', 'x\uE000', 'x\uFFFD', 'x\u{1F600}'];
      const listed = await collect(source);
      assert.deepEqual(
        listed.map((o) => o.id),
        expected,
      );
      assert.deepEqual(await source.list(), listed);
      // Names that cannot be object ids are listed (to be refused), with what is wrong.
      const emoji = listed.find((o) => o.id === 'x\u{1F600}');
      assert.ok(emoji && isInvalidSourceObject(emoji) && /object\.json is invalid: id: may contain only letters/.test(emoji.error), JSON.stringify(emoji));
    });

    it(`on ${kind} storage ignores loose root keys and hidden prefixes, and lists a missing, too large or invalid object.json with its problem`, async () => {
      const { storage, source } = await open('hostile');
      await putBytes(storage, 'README.txt', Buffer.from('not an object'));
      await putBytes(storage, '.trash/object.json', metadataOf('.trash'));
      await putBytes(storage, 'good-1/object.json', metadataOf('good-1'));
      await putBytes(storage, 'good-1/scan.tif', Buffer.from('tiff'));
      await putBytes(storage, 'no-meta-1/scan.tif', Buffer.from('tiff'));
      await putBytes(storage, 'deep-1/a/b/object.json', metadataOf('deep-1'));
      await putBytes(storage, 'huge-1/object.json', Buffer.alloc(MAX_METADATA_BYTES + 1, 0x20));
      await putBytes(storage, 'wrong-1/object.json', metadataOf('other-1'));
      // A folder cannot hold this key (FileStorage refuses it); a bucket can.
      if (kind === 's3') {
        await putBytes(storage, 'sneaky-1/object.json', metadataOf('sneaky-1'));
        await putBytes(storage, 'sneaky-1/..\\x', Buffer.from('x'));
      }
      assert.deepEqual(await collect(source), [
        { id: 'deep-1', error: 'object.json is missing' },
        { id: 'good-1', title: 'Object good-1', modifiedAt: '2026-01-01T00:00:00Z' },
        { id: 'huge-1', error: `object.json is ${MAX_METADATA_BYTES + 1} bytes, more than metadata can be` },
        { id: 'no-meta-1', error: 'object.json is missing' },
        // Listed as any other: what its keys are is found when it is described or downloaded (UnsafePath).
        ...(kind === 's3' ? [{ id: 'sneaky-1', title: 'Object sneaky-1', modifiedAt: '2026-01-01T00:00:00Z' }] : []),
        { id: 'wrong-1', error: 'object.json has id "other-1" but its folder is named "wrong-1"' },
      ]);
      if (kind === 's3')
        await assert.rejects(source.describe('sneaky-1'), failureType('UnsafePath', /key "sneaky-1\/\.\.\\x" cannot be a file inside the object/));
    });
  }
});
