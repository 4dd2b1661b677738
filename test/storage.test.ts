// The storage contract, run against a folder and against a real S3 API server (Versity Gateway).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { ChecksumMismatch, FileStorage, openStorage, parseStorageUrl, type Storage } from '../storage';
import { startTestS3, type TestS3 } from './support/s3-server';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** A stream of `buf` in small chunks, counting how often it was opened. */
function opener(buf: Buffer) {
  const o = { opened: 0, open: () => (o.opened++, Readable.from(chunks(buf))) };
  return o;
}
function* chunks(buf: Buffer, size = 256 * 1024) {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function keys(storage: Storage, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list(prefix)) out.push(o.key);
  return out;
}

describe('storage locations', () => {
  it('takes a path, a file URL or s3://bucket/prefix, and names the location and the problem otherwise', () => {
    assert.deepEqual(parseStorageUrl('/srv/custody/work'), { kind: 'file', path: '/srv/custody/work' });
    assert.deepEqual(parseStorageUrl('file:///srv/custody/work'), { kind: 'file', path: '/srv/custody/work' });
    assert.deepEqual(parseStorageUrl('s3://archive-work/custody/'), { kind: 's3', bucket: 'archive-work', prefix: 'custody' });
    assert.deepEqual(parseStorageUrl('s3://archive-work'), { kind: 's3', bucket: 'archive-work', prefix: '' });
    assert.throws(() => parseStorageUrl('s3://Archive_Work/x'), /"s3:\/\/Archive_Work\/x": "Archive_Work" is not a valid bucket name/);
    assert.throws(() => parseStorageUrl('s3://archive/a/../b'), /the prefix has an empty, "\." or "\.\." segment/);
    assert.throws(() => parseStorageUrl('gs://archive/x'), /"gs:\/\/archive\/x": only file:\/\/ and s3:\/\/ are supported/);
  });
});

for (const kind of ['file', 's3'] as const) {
  describe(`${kind} storage`, function () {
    this.timeout(120_000);
    let storage: Storage;
    let s3: TestS3 | undefined;
    let root: string;
    let local: string;

    before(async () => {
      local = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-storage-'));
      if (kind === 'file') {
        root = path.join(local, 'store');
        storage = openStorage(`file://${root}`, { forcePathStyle: false });
      } else {
        s3 = await startTestS3();
        const bucket = await s3.bucket('storage');
        root = path.join(s3.dir, bucket, 'custody');
        // A small part size so that a 12 MiB object goes up in several parts.
        storage = openStorage(`s3://${bucket}/custody`, { ...s3.options, partSize: 5 * MiB });
      }
    });
    after(() => fs.rmSync(local, { recursive: true, force: true }));

    it('round-trips a small and a multi-part object byte for byte, verified by SHA-256', async () => {
      for (const [key, size] of [
        ['obj-1/payload/small.txt', 1000],
        ['obj-1/big.tar', 12 * MiB + 17],
      ] as const) {
        const bytes = crypto.randomBytes(size);
        const src = opener(bytes);
        assert.deepEqual(await storage.put(key, src.open, { size, sha256: sha256(bytes) }), { skipped: false });
        assert.equal((await storage.head(key))?.size, size);
        assert.equal(await storage.sha256Of(key), sha256(bytes));
        const file = path.join(local, 'got', key);
        assert.deepEqual(await storage.getFile(key, file), { size, sha256: sha256(bytes) });
        assert.ok(fs.readFileSync(file).equals(bytes));
        // What the server keeps on its disk is the same bytes.
        assert.ok(fs.readFileSync(path.join(root, key)).equals(bytes));
      }
      assert.deepEqual(await keys(storage, 'obj-1/'), ['obj-1/big.tar', 'obj-1/payload/small.txt']);
    });

    it('skips a retried upload of an object already there with the same checksum, and replaces one that differs', async () => {
      const bytes = crypto.randomBytes(6 * MiB);
      const first = opener(bytes);
      await storage.put('retry/sip.tar', first.open, { size: bytes.length, sha256: sha256(bytes) });
      const again = opener(bytes);
      assert.deepEqual(await storage.put('retry/sip.tar', again.open, { size: bytes.length, sha256: sha256(bytes) }), { skipped: true });
      assert.equal(again.opened, 0, 'nothing is read or sent for a skipped upload');
      const other = Buffer.from(bytes);
      other[100] ^= 1;
      assert.deepEqual(await storage.put('retry/sip.tar', opener(other).open, { size: other.length, sha256: sha256(other) }), { skipped: false });
      assert.equal(await storage.sha256Of('retry/sip.tar'), sha256(other));
    });

    it('stores a local file (putFile) across chunk boundaries byte for byte, skips it unchanged, and refuses a wrong checksum leaving nothing', async () => {
      // Sizes around the copy buffer (256 KiB): one byte, one byte short, exactly, one byte over, several.
      for (const size of [0, 1, 256 * 1024 - 1, 256 * 1024, 256 * 1024 + 1, 3 * MiB + 5]) {
        const bytes = crypto.randomBytes(size);
        const file = path.join(local, 'put-file', `${size}.bin`);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, bytes);
        const key = `put-file/${size}.bin`;
        assert.deepEqual(await storage.putFile(key, file, { size, sha256: sha256(bytes) }), { skipped: false });
        const back = path.join(local, 'put-file-back', `${size}.bin`);
        assert.deepEqual(await storage.getFile(key, back), { size, sha256: sha256(bytes) });
        assert.ok(fs.readFileSync(back).equals(bytes), `${size} bytes come back as they went`);
        assert.deepEqual(await storage.putFile(key, file, { size, sha256: sha256(bytes) }), { skipped: true });
      }
      const file = path.join(local, 'put-file', 'wrong.bin');
      fs.writeFileSync(file, crypto.randomBytes(300 * 1024));
      await assert.rejects(storage.putFile('put-file/wrong.bin', file, { size: 300 * 1024, sha256: sha256(Buffer.from('other')) }), (e: Error) => {
        assert.ok(e instanceof ChecksumMismatch || e.name === 'BadDigest', `${e.name}: ${e.message}`);
        return true;
      });
      assert.equal(await storage.head('put-file/wrong.bin'), undefined);
      await assert.rejects(
        storage.putFile('put-file/missing.bin', path.join(local, 'no-such-file'), { size: 1, sha256: sha256(Buffer.from('x')) }),
        /no-such-file/,
      );
      assert.equal(await storage.head('put-file/missing.bin'), undefined);
    });

    it('refuses bytes that do not match the expected checksum and leaves nothing under the key', async () => {
      for (const size of [4096, 7 * MiB]) {
        const bytes = crypto.randomBytes(size);
        const wrong = sha256(Buffer.from('something else'));
        await assert.rejects(storage.put(`bad/${size}.bin`, opener(bytes).open, { size, sha256: wrong }), (e: Error) => {
          // The S3 server refuses a single PUT itself (BadDigest); custody catches the rest.
          assert.ok(e instanceof ChecksumMismatch || e.name === 'BadDigest', `${e.name}: ${e.message}`);
          return true;
        });
        assert.equal(await storage.head(`bad/${size}.bin`), undefined);
      }
    });

    it('fails a put whose source fails mid-way, in one request or in parts, and leaves nothing under the key', async () => {
      for (const size of [3 * MiB, 12 * MiB]) {
        const failing = () =>
          Readable.from(
            (async function* () {
              yield crypto.randomBytes(MiB);
              yield crypto.randomBytes(MiB);
              throw new Error('the source went away');
            })(),
          );
        // Once an uncaught exception that ended the process, or a request waiting for ever.
        await assert.rejects(storage.put(`cut/${size}.bin`, failing, { size, sha256: sha256(Buffer.alloc(0)) }));
        assert.equal(await storage.head(`cut/${size}.bin`), undefined);
      }
    });

    it('detects an object changed behind its back when reading it with the expected checksum', async () => {
      const bytes = crypto.randomBytes(3000);
      await storage.put('rot/file.bin', opener(bytes).open, { size: bytes.length, sha256: sha256(bytes) });
      const onDisk = path.join(root, 'rot', 'file.bin');
      const rotten = Buffer.from(bytes);
      rotten[10] ^= 0xff;
      fs.writeFileSync(onDisk, rotten);
      const file = path.join(local, 'rot.bin');
      await assert.rejects(storage.getFile('rot/file.bin', file, { sha256: sha256(bytes) }), ChecksumMismatch);
      assert.equal(fs.existsSync(file), false, 'no partial or wrong file is left behind');
    });

    it('reads a byte range, lists nothing for an unknown prefix and removes a whole prefix', async () => {
      const bytes = Buffer.from('0123456789abcdef');
      await storage.put('range/x.txt', opener(bytes).open, { size: bytes.length, sha256: sha256(bytes) });
      const part: Buffer[] = [];
      for await (const c of await storage.read('range/x.txt', { start: 2, end: 5 })) part.push(c as Buffer);
      assert.equal(Buffer.concat(part).toString(), '2345');
      assert.deepEqual(await keys(storage, 'no-such-prefix/'), []);
      assert.equal(await storage.head('range/missing.txt'), undefined);
      await storage.remove('obj-1/');
      assert.deepEqual(await keys(storage, 'obj-1/'), []);
      assert.deepEqual(await keys(storage, 'range/'), ['range/x.txt']);
    });

    it('lists keys and the prefixes one level down in key order (UTF-8 bytes, as S3 does), a prefix once however many keys it holds', async () => {
      for (const key of ['tree/a/x', 'tree/a/sub/z', 'tree/a-b/y', 'tree/loose.txt', 'tree/\u{1F600}/e', 'tree/\uE000/p']) {
        await storage.put(key, opener(Buffer.from(key)).open, { size: Buffer.byteLength(key), sha256: sha256(Buffer.from(key)) });
      }
      // A folder with nothing in it holds no key (the gateway, on its own disk, would list it as an S3 "directory").
      if (kind === 'file') fs.mkdirSync(path.join(root, 'tree', 'empty', 'deeper'), { recursive: true });
      assert.deepEqual(await keys(storage, 'tree/'), ['tree/a-b/y', 'tree/a/sub/z', 'tree/a/x', 'tree/loose.txt', 'tree/\uE000/p', 'tree/\u{1F600}/e']);
      const prefixes: string[] = [];
      for await (const p of storage.listPrefixes('tree/')) prefixes.push(p);
      assert.deepEqual(prefixes, ['tree/a-b/', 'tree/a/', 'tree/\uE000/', 'tree/\u{1F600}/']);
      const none: string[] = [];
      for await (const p of storage.listPrefixes('no-such-prefix/')) none.push(p);
      assert.deepEqual(none, []);
    });

    it('stores and fetches a key whose last name is 250 bytes, leaving no partial file (item 9)', async () => {
      const key = `long/${'ü'.repeat(123)}.txt`;
      assert.equal(Buffer.byteLength(key.slice('long/'.length)), 250);
      const bytes = Buffer.from('a long name');
      await storage.put(key, opener(bytes).open, { size: bytes.length, sha256: sha256(bytes) });
      assert.deepEqual(await keys(storage, 'long/'), [key]);
      const file = path.join(local, 'long', key.slice('long/'.length));
      assert.deepEqual(await storage.getFile(key, file), { size: bytes.length, sha256: sha256(bytes) });
      assert.deepEqual(fs.readdirSync(path.dirname(file)), [path.basename(file)]);
    });

    if (kind === 'file') {
      it('refuses a key that would lead out of its folder', () => {
        assert.throws(() => (storage as FileStorage).pathOf('../outside.txt'), /unsafe payload path "\.\.\/outside\.txt": it contains '\.\.'/);
      });
    }
  });
}
