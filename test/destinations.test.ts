// The delivery destinations, each against the real thing: a folder, a real S3 API server
// (Versity Gateway) and the reference receiver over HTTP. What a caller relies on: present()
// before and after, send + verify, a second delivery recognised as already there, compression,
// a corrupted copy caught with the three values named, refusals and outages told apart, and a
// 30 MB file streamed rather than held in memory.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { GetObjectCommand, ListMultipartUploadsCommand, ListPartsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { destinationConfigSchema, destinationListSchema } from '../common/destinations';
import {
  DeliveryMismatch,
  DestinationError,
  DestinationRefused,
  DestinationUnavailable,
  isDelivered,
  openDestination,
  type Destination,
  type DestinationConfigInput,
  type DestinationFile,
} from '../destinations';
import { startReceiver, type RunningReceiver } from '../reference-receiver/server';
import { startTestS3, type TestS3 } from './support/s3-server';

const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const TOKEN = 'destinations-test-token';
const ENV = { TEST_RECEIVER_TOKEN: TOKEN };

function fileOf(name: string, bytes: Buffer): DestinationFile {
  return { name, size: bytes.length, sha256: sha256(bytes) };
}

/** A stream of `bytes` in small chunks, as a file read would give them. */
const opener = (bytes: Buffer) => () =>
  Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })(),
  );

/** Compressible text, like FITS headers or CSV. */
const textBytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => `row ${i}, ra=${(i * 0.37).toFixed(2)}, dec=-29.${i % 97}\n`).join(''));

interface Kind {
  kind: 'folder' | 's3' | 'http';
  config(compress: boolean): DestinationConfigInput;
  /** The stored bytes, read behind the destination's back. */
  stored(name: string): Promise<Buffer>;
  /** Makes the destination's copy of `name` differ from what was sent, before verify() asks. */
  corrupt(name: string, dest: Destination, file: DestinationFile, bytes: Buffer): Promise<void>;
  /** Bytes of a send still under way that the destination already holds. */
  receivedSoFar(name: string): Promise<number>;
}

/** The partial files a send under way writes beside its final name (storage/digest.ts). */
function partialBytes(folder: string): number {
  if (!fs.existsSync(folder)) return 0;
  return fs
    .readdirSync(folder)
    .filter((n) => n.startsWith('.custody-partial-'))
    .reduce((sum, n) => sum + fs.statSync(path.join(folder, n)).size, 0);
}

let seq = 0;

describe('delivery destinations', function () {
  this.timeout(120_000);
  let tmp: string;
  let s3: TestS3;
  let receiver: RunningReceiver;
  let receiverData: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-destinations-'));
    s3 = await startTestS3();
    receiverData = path.join(tmp, 'receiver');
    receiver = await startReceiver({ port: 0, dataDir: receiverData, token: TOKEN });
  });
  after(async () => {
    await receiver.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const kinds: Kind[] = [
    {
      kind: 'folder',
      config: (compress) => ({ kind: 'folder', name: 'mirror-folder', path: path.join(tmp, 'folder'), compress }),
      stored: async (name) => fs.readFileSync(path.join(tmp, 'folder', name)),
      corrupt: async (name) => {
        const file = path.join(tmp, 'folder', name);
        const b = fs.readFileSync(file);
        b[b.length >> 1] ^= 0xff;
        fs.writeFileSync(file, b);
      },
      receivedSoFar: async (name) => partialBytes(path.dirname(path.join(tmp, 'folder', name))),
    },
    {
      kind: 's3',
      config: (compress) => ({
        kind: 's3',
        name: 'mirror-s3',
        location: `s3://${bucket}/deliveries`,
        endpoint: s3.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        partSize: 5 * MiB,
        compress,
      }),
      stored: async (name) => {
        const out = await s3.client().send(new GetObjectCommand({ Bucket: bucket, Key: `deliveries/${name}` }));
        return Buffer.from(await out.Body!.transformToByteArray());
      },
      // Another writer replaces the object: what S3 holds is no longer what custody sent.
      corrupt: async (name) => {
        await s3.client().send(new PutObjectCommand({ Bucket: bucket, Key: `deliveries/${name}`, Body: Buffer.from('someone else wrote this') }));
      },
      // The parts of the multipart upload under way that the server has taken.
      receivedSoFar: async (name) => {
        const c = s3.client();
        const uploads = await c.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: `deliveries/${name}` }));
        let sum = 0;
        for (const u of uploads.Uploads ?? []) {
          const parts = await c.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
          sum += (parts.Parts ?? []).reduce((n, p) => n + (p.Size ?? 0), 0);
        }
        return sum;
      },
    },
    {
      kind: 'http',
      config: (compress) => ({ kind: 'http', name: 'mirror-http', url: receiver.url, tokenEnv: 'TEST_RECEIVER_TOKEN', compress }),
      stored: async (name) => fs.readFileSync(path.join(receiverData, 'files', name)),
      // The receiver stores the next upload with a byte flipped, and send() is run again to land it.
      corrupt: async (_name, dest, file, bytes) => {
        await fetch(`${receiver.url}/_faults`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ corruptUploads: 1 }) });
        await dest.send(file, opener(bytes));
      },
      receivedSoFar: async (name) => partialBytes(path.dirname(path.join(receiverData, 'files', name))),
    },
  ];
  let bucket = '';
  before(async () => {
    bucket = await s3.bucket('destinations');
  });

  for (const k of kinds) {
    describe(`${k.kind} destination`, () => {
      const open = (compress: boolean) => openDestination(k.config(compress), { env: ENV });

      it('is absent before, present after send and verify, and recognised as delivered the next time', async () => {
        const dest = open(false);
        assert.equal(dest.name, `mirror-${k.kind}`);
        assert.ok(!dest.location.includes(TOKEN));
        const bytes = crypto.randomBytes(100_000);
        const file = fileOf(`obs/${++seq}/frame.fits`, bytes);
        assert.equal(await dest.present(file), undefined);
        let progress = 0;
        const sent = await dest.send(file, opener(bytes), (n) => (progress = n));
        assert.equal(progress, bytes.length);
        assert.deepEqual(sent, { name: file.name, size: file.size, sha256: file.sha256, compressed: false });
        assert.deepEqual(await dest.verify(file, sent), { name: file.name, size: file.size, sha256: file.sha256 });
        const present = await dest.present(file);
        assert.deepEqual(present, { name: file.name, size: file.size, sha256: file.sha256 });
        assert.ok((await k.stored(file.name)).equals(bytes));
        // A second delivery asks first, and the caller skips: a fresh instance, as after a restart.
        assert.ok(isDelivered(file, await open(false).present(file)));
        const changed = fileOf(file.name, Buffer.concat([bytes, Buffer.from('more')]));
        assert.ok(!isDelivered(changed, await dest.present(changed)), 'a changed file is not taken for delivered');
      });

      it('compresses on the way: stored as .gz, smaller, verified, decompressing to the original, and still recognised', async () => {
        const dest = open(true);
        const bytes = textBytes(20_000);
        const file = fileOf(`obs/${++seq}/table.csv`, bytes);
        assert.equal(await dest.present(file), undefined);
        const sent = await dest.send(file, opener(bytes));
        assert.equal(sent.name, `${file.name}.gz`);
        assert.equal(sent.compressed, true);
        assert.ok(sent.size < bytes.length / 3, `${sent.size} bytes of gzip for ${bytes.length}`);
        assert.deepEqual(await dest.verify(file, sent), { name: sent.name, size: file.size, sha256: file.sha256 });
        const stored = await k.stored(sent.name);
        assert.equal(sha256(stored), sent.sha256);
        assert.ok(zlib.gunzipSync(stored).equals(bytes));
        const present = await dest.present(file);
        assert.deepEqual(present, { name: sent.name, size: file.size, sha256: file.sha256 });
        assert.ok(isDelivered(file, present));
        // A destination that does not compress holds nothing under the plain name.
        assert.equal(await open(false).present(file), undefined);
      });

      for (const compress of [false, true]) {
        it(`verify catches a corrupted copy${compress ? ' (compressed)' : ''} and names expected, sent and received`, async () => {
          const dest = open(compress);
          const bytes = textBytes(5_000);
          const file = fileOf(`obs/${++seq}/spectrum.dat`, bytes);
          const sent = await dest.send(file, opener(bytes));
          await k.corrupt(sent.name, dest, file, bytes);
          const err = await dest.verify(file, sent).then(
            () => assert.fail('verify passed a corrupted copy'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof DeliveryMismatch, String(err));
          assert.equal(err.retryable, false);
          assert.equal(err.destination, dest.name);
          assert.match(
            err.message,
            new RegExp(`^mirror-${k.kind} \\(.+\\): ${sent.name} was not delivered intact: the destination holds other bytes than were sent`),
          );
          assert.match(err.message, new RegExp(`expected ${sent.name}, ${compress ? 'the gzip of ' : ''}${file.size} bytes`));
          assert.ok(err.message.includes(`sent ${sent.name}, ${sent.size} bytes, sha256 ${sent.sha256}`), err.message);
          assert.match(err.message, new RegExp(`received ${sent.name.replace(/\./g, '\\.')}, \\d+ bytes, sha256 (?!${sent.sha256})[0-9a-f]{64}$`));
          // A receiver keeps the original's digest it was told beside a compressed upload: only verify() right after sending can catch that one.
          if (!(k.kind === 'http' && compress)) assert.ok(!isDelivered(file, await dest.present(file)), 'a corrupted copy is not taken for delivered');
          // Sending again repairs it.
          const again = await dest.send(file, opener(bytes));
          await dest.verify(file, again);
        });
      }

      it('refuses names with ".." or an absolute path before touching the destination', async () => {
        const dest = open(false);
        for (const name of ['../outside.txt', 'a/../../outside.txt', '/etc/passwd', 'a//b', 'C:/x']) {
          const file = { name, size: 1, sha256: sha256(Buffer.from('x')) };
          for (const call of [
            () => dest.present(file),
            () => dest.send(file, opener(Buffer.from('x'))),
            () => dest.verify(file, { ...file, compressed: false }),
          ])
            await assert.rejects(call(), (e: unknown) => e instanceof DestinationRefused && e.message.startsWith(`mirror-${k.kind}: `) && !e.retryable);
        }
        assert.ok(!fs.existsSync(path.join(tmp, 'outside.txt')));
      });

      it('refuses to deliver a copy of the file that does not read as the file (and leaves nothing claiming it)', async () => {
        const dest = open(false);
        const bytes = crypto.randomBytes(10_000);
        const file = { ...fileOf(`obs/${++seq}/changed.bin`, bytes), sha256: sha256(Buffer.from('what custody recorded')) };
        await assert.rejects(
          dest.send(file, opener(bytes)),
          (e: unknown) => e instanceof DeliveryMismatch && /custody's copy read as 10000 bytes/.test(e.message),
        );
        assert.ok(!isDelivered(file, await dest.present(file)));
      });

      for (const compress of [false, true]) {
        it(`leaves nothing under the name when custody's copy fails mid-send, and throws that error as it is${compress ? ' (compressed)' : ''}`, async () => {
          const dest = open(compress);
          const file = { name: `obs/${++seq}/cut.bin`, size: 3 * MiB, sha256: sha256(Buffer.alloc(0)) };
          const failing = () =>
            Readable.from(
              (async function* () {
                yield crypto.randomBytes(MiB);
                throw new Error('the disk under custody went away');
              })(),
            );
          await assert.rejects(
            dest.send(file, failing),
            (e: unknown) => !(e instanceof DestinationError) && /the disk under custody went away/.test(String(e)),
          );
          assert.equal(await dest.present(file), undefined);
        });
      }

      it('streams a 30 MB file: the destination has most of it before the last byte is read', async function () {
        const dest = open(false);
        const chunk = crypto.randomBytes(MiB);
        const count = 30;
        const name = `obs/${++seq}/cube.fits`;
        let arrivedEarly = -1;
        const chunks = async function* (watch: boolean) {
          for (let i = 0; i < count; i++) {
            // A sender that buffered would not have sent a byte yet.
            if (watch && i === count - 1) arrivedEarly = await k.receivedSoFar(name);
            const c = Buffer.from(chunk);
            c.writeUInt32BE(i, 0);
            yield c;
          }
        };
        const hash = crypto.createHash('sha256');
        for await (const c of chunks(false)) hash.update(c as Buffer);
        const file = { name, size: count * MiB, sha256: hash.digest('hex') };
        let reports = 0;
        const sent = await dest.send(
          file,
          () => Readable.from(chunks(true)),
          () => reports++,
        );
        await dest.verify(file, sent);
        assert.ok(reports >= count, `progress reported ${reports} times`);
        assert.ok(arrivedEarly >= 10 * MiB, `${arrivedEarly} bytes had arrived when the last MiB was read`);
        assert.ok(isDelivered(file, await dest.present(file)));
      });
    });
  }

  describe('http destination failures', () => {
    const config = { kind: 'http', name: 'mirror-http', url: '', tokenEnv: 'TEST_RECEIVER_TOKEN' } as const;

    it('is unavailable while the receiver is down, and delivers once it is back on the same port and folder', async () => {
      const dest = openDestination({ ...config, url: receiver.url }, { env: ENV });
      const bytes = Buffer.from('sent after the outage');
      const file = fileOf(`obs/${++seq}/late.txt`, bytes);
      const port = Number(new URL(receiver.url).port);
      await receiver.close();
      try {
        for (const call of [() => dest.present(file), () => dest.send(file, opener(bytes))])
          await assert.rejects(
            call(),
            (e: unknown) => e instanceof DestinationUnavailable && e.retryable && /mirror-http .*cannot reach it: (ECONNREFUSED|ECONNRESET)/.test(e.message),
          );
      } finally {
        receiver = await startReceiver({ port, dataDir: receiverData, token: TOKEN });
      }
      const sent = await dest.send(file, opener(bytes));
      await dest.verify(file, sent);
    });

    it('is unavailable on a 5xx answer', async () => {
      const dest = openDestination({ ...config, url: receiver.url }, { env: ENV });
      await fetch(`${receiver.url}/_faults`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ unavailable: 2 }) });
      const bytes = Buffer.from('x');
      const file = fileOf(`obs/${++seq}/x.txt`, bytes);
      await assert.rejects(
        dest.send(file, opener(bytes)),
        (e: unknown) => e instanceof DestinationUnavailable && /503: the receiver is unavailable/.test(e.message),
      );
      await assert.rejects(dest.present(file), DestinationUnavailable);
      await dest.verify(file, await dest.send(file, opener(bytes)));
    });

    it('is unavailable when the answer is lost or stalls', async () => {
      const dest = openDestination({ ...config, url: receiver.url, timeoutMs: 300 }, { env: ENV });
      const bytes = Buffer.from('y');
      const file = fileOf(`obs/${++seq}/y.txt`, bytes);
      await fetch(`${receiver.url}/_faults`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ resetAfter: 1 }) });
      await assert.rejects(dest.send(file, opener(bytes)), DestinationUnavailable);
      await fetch(`${receiver.url}/_faults`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ delayMs: 2000, delayed: 1 }),
      });
      await assert.rejects(dest.present(file), (e: unknown) => e instanceof DestinationUnavailable && /no progress within 300 ms/.test(e.message));
    });

    it('is refused with a wrong token, naming the destination and never the token', async () => {
      const dest = openDestination({ ...config, url: receiver.url }, { env: { TEST_RECEIVER_TOKEN: 'wrong-token' } });
      const bytes = crypto.randomBytes(4 * MiB);
      const file = fileOf(`obs/${++seq}/z.bin`, bytes);
      for (const call of [() => dest.present(file), () => dest.send(file, opener(bytes))])
        await assert.rejects(
          call(),
          (e: unknown) =>
            e instanceof DestinationRefused && !e.retryable && e.status === 401 && e.message.startsWith('mirror-http (') && !e.message.includes('wrong-token'),
        );
      assert.throws(
        () => openDestination({ ...config, url: receiver.url }, { env: {} }),
        /mirror-http: the environment variable TEST_RECEIVER_TOKEN \(its tokenEnv\) is not set/,
      );
    });
  });

  describe('s3 destination failures', () => {
    it('is refused with wrong credentials, and unavailable when the server cannot be reached', async () => {
      const secret = process.env.AWS_SECRET_ACCESS_KEY;
      const file = fileOf('a.txt', Buffer.from('a'));
      process.env.AWS_SECRET_ACCESS_KEY = 'not-the-secret';
      try {
        const dest = openDestination({
          kind: 's3',
          name: 'mirror-s3',
          location: `s3://${bucket}/x`,
          endpoint: s3.endpoint,
          forcePathStyle: true,
          region: 'us-east-1',
        });
        await assert.rejects(
          dest.send(file, opener(Buffer.from('a'))),
          (e: unknown) => e instanceof DestinationRefused && e.status === 403 && e.message.startsWith('mirror-s3 (s3://'),
        );
      } finally {
        process.env.AWS_SECRET_ACCESS_KEY = secret;
      }
      const down = openDestination({
        kind: 's3',
        name: 'mirror-s3',
        location: `s3://${bucket}/x`,
        endpoint: 'http://127.0.0.1:9',
        forcePathStyle: true,
        region: 'us-east-1',
      });
      await assert.rejects(down.present(file), (e: unknown) => e instanceof DestinationUnavailable && e.retryable);
    });
  });

  describe('folder destination links', () => {
    it('refuses a name that a symbolic link under the folder would take outside it', async () => {
      const root = path.join(tmp, 'linked');
      const outside = path.join(tmp, 'outside');
      fs.mkdirSync(root, { recursive: true });
      fs.mkdirSync(outside, { recursive: true });
      fs.symlinkSync(outside, path.join(root, 'escape'));
      fs.writeFileSync(path.join(outside, 'secret.txt'), 'not yours');
      const dest = openDestination({ kind: 'folder', name: 'mirror-folder', path: root });
      const bytes = Buffer.from('x');
      for (const name of ['escape/new/file.txt', 'escape/secret.txt']) {
        const file = fileOf(name, bytes);
        await assert.rejects(dest.send(file, opener(bytes)), (e: unknown) => e instanceof DestinationRefused && /leads outside the folder/.test(e.message));
        await assert.rejects(dest.present(file), DestinationRefused);
      }
      assert.deepEqual(fs.readdirSync(outside), ['secret.txt']);
      // A link that stays inside is followed.
      fs.mkdirSync(path.join(root, 'real'));
      fs.symlinkSync(path.join(root, 'real'), path.join(root, 'alias'));
      const file = fileOf('alias/ok.txt', bytes);
      await dest.verify(file, await dest.send(file, opener(bytes)));
      assert.ok(fs.existsSync(path.join(root, 'real', 'ok.txt')));
    });
  });

  describe('config', () => {
    it('parses each kind, defaults compress to false, and names a bad value', () => {
      assert.deepEqual(destinationConfigSchema.parse({ kind: 'folder', name: 'nas', path: '/mnt/nas' }), {
        kind: 'folder',
        name: 'nas',
        path: '/mnt/nas',
        compress: false,
      });
      assert.equal(destinationConfigSchema.parse({ kind: 's3', name: 'eu', location: 's3://mirror-eu/custody', compress: true }).compress, true);
      const issue = (v: unknown) => {
        const r = destinationConfigSchema.safeParse(v);
        assert.ok(!r.success);
        return `${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`;
      };
      assert.match(issue({ kind: 's3', name: 'eu', location: 's3://Bad_Bucket/x' }), /^location: "Bad_Bucket" is not a valid bucket name/);
      assert.match(issue({ kind: 'http', name: 'a', url: 'https://user:pw@example.org/' }), /^url: must not carry credentials/);
      assert.match(issue({ kind: 'http', name: 'a', url: 'https://example.org/', token: 'secret' }), /token/);
      assert.match(issue({ kind: 'ftp', name: 'a' }), /^kind: /);
      const twice = destinationListSchema.safeParse([
        { kind: 'folder', name: 'a', path: '/a' },
        { kind: 'folder', name: 'a', path: '/b' },
      ]);
      assert.ok(!twice.success && twice.error.issues[0].message === 'destination "a" is configured twice');
    });
  });
});
