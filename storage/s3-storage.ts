// Storage in an S3 bucket under a prefix, through the AWS SDK v3. Credentials come from the
// SDK's standard chain (environment, profile, instance role), never from custody's config,
// workflow inputs or logs. Checksums are custody's: the SDK's default CRC32 on every request
// is switched off (WHEN_REQUIRED) because S3-compatible servers differ in what they accept;
// custody sends SHA-256 where the API verifies it and keeps the whole-object digest itself.
import fs from 'node:fs';
import { PassThrough, pipeline as streamPipeline, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { base64ToHex, digesting, hexToBase64, writeFileVerified } from './digest';
import { ChecksumMismatch, joinKey, type GetOptions, type PutOptions, type Storage, type StoredObject } from './storage';

export interface S3Options {
  /** An S3 API server other than AWS (else the SDK's chain: AWS_ENDPOINT_URL_S3, profile). */
  endpoint?: string;
  /** Else the SDK's chain (AWS_REGION, profile). */
  region?: string;
  /** Path-style addressing (bucket in the path), which most S3-compatible servers need. */
  forcePathStyle: boolean;
  /** Objects up to this size go in one PUT the server verifies against its SHA-256; larger ones in parts. */
  partSize?: number;
}

/** custody's whole-object SHA-256, kept as user metadata: multipart uploads only carry composite checksums. */
const SHA256_META = 'custody-sha256';
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

const isNotFound = (e: unknown) => e instanceof S3ServiceException && (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata.httpStatusCode === 404);

/** S3 sends the ETag in double quotes (`"9b2cf…"`, or `"…-3"` for a multipart upload). */
const etagOf = (etag: string | undefined): { etag?: string } => (etag ? { etag: etag.replace(/^"|"$/g, '') } : {});

export function s3Client(opts: S3Options): S3Client {
  return new S3Client({
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.region ? { region: opts.region } : {}),
    forcePathStyle: opts.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export class S3Storage implements Storage {
  readonly location: string;
  private readonly partSize: number;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
    partSize = DEFAULT_PART_SIZE,
  ) {
    this.location = `s3://${bucket}/${prefix}`;
    this.partSize = Math.max(partSize, 5 * 1024 * 1024); // S3's smallest part
  }

  private full(key: string): string {
    return joinKey(this.prefix, key) + (key.endsWith('/') ? '/' : '');
  }

  urlOf(key: string): string {
    return `s3://${this.bucket}/${this.full(key)}`;
  }

  /** ListObjectsV2 page by page under `prefix`; keys and prefixes come back relative to the storage's root. */
  private async *pages(prefix: string, delimiter?: string): AsyncIterable<{ objects: StoredObject[]; prefixes: string[] }> {
    const full = prefix === '' ? (this.prefix ? `${joinKey(this.prefix)}/` : '') : this.full(prefix);
    const strip = this.prefix ? joinKey(this.prefix).length + 1 : 0;
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, Delimiter: delimiter, ContinuationToken: token }));
      yield {
        objects: (page.Contents ?? []).flatMap((o) =>
          o.Key ? [{ key: o.Key.slice(strip), size: o.Size ?? 0, modifiedAt: (o.LastModified ?? new Date(0)).toISOString(), ...etagOf(o.ETag) }] : [],
        ),
        prefixes: (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix.slice(strip)] : [])),
      };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const page of this.pages(prefix)) yield* page.objects;
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    for await (const page of this.pages(prefix, '/')) yield* page.prefixes;
  }

  private async headRaw(key: string): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.full(key), ChecksumMode: 'ENABLED' }));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const h = await this.headRaw(key);
    return h && { key, size: h.ContentLength ?? 0, modifiedAt: (h.LastModified ?? new Date(0)).toISOString(), ...etagOf(h.ETag) };
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const out = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.full(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
    );
    return out.Body as Readable;
  }

  /** The server's full-object SHA-256 when it keeps one; a composite (multipart) checksum is no whole-object digest. */
  private static fullObjectSha256(h: HeadObjectCommandOutput): string | undefined {
    if (!h.ChecksumSHA256 || h.ChecksumType === 'COMPOSITE' || h.ChecksumSHA256.includes('-')) return undefined;
    return base64ToHex(h.ChecksumSHA256);
  }

  async sha256Of(key: string): Promise<string> {
    return this.digestOf(key, await this.headRaw(key));
  }

  /** sha256Of for an object whose HEAD is already in hand. */
  private async digestOf(key: string, h: HeadObjectCommandOutput | undefined): Promise<string> {
    const known = h && S3Storage.fullObjectSha256(h);
    if (known) return known;
    const moving = digesting();
    await pipeline(await this.read(key), moving, new PassThrough().resume());
    return moving.digest().sha256;
  }

  async putFile(key: string, file: string, opts: PutOptions): Promise<{ skipped: boolean }> {
    // A file that cannot be read is named here: once the upload has begun, the SDK reports only "Request aborted".
    await fs.promises.access(file, fs.constants.R_OK);
    return this.put(key, () => fs.createReadStream(file), opts);
  }

  async put(key: string, open: () => Readable | Promise<Readable>, opts: PutOptions): Promise<{ skipped: boolean }> {
    const existing = await this.headRaw(key);
    if (existing?.ContentLength === opts.size && (await this.digestOf(key, existing)) === opts.sha256) return { skipped: true };
    const moving = digesting(opts.onProgress);
    // A source that fails mid-way must end the request: the SDK pipe()s a body into it, which
    // passes on no error, and would wait for the rest of the bytes for ever. pipeline() also keeps
    // listening on both streams, so the failure is not an uncaught exception that ends the process.
    const aborting = new AbortController();
    const body = streamPipeline(await open(), moving, (e) => e && aborting.abort(e));
    const Key = this.full(key);
    const Metadata = { [SHA256_META]: opts.sha256 };
    try {
      if (opts.size <= this.partSize) {
        // One request: the server itself refuses bytes that do not match the SHA-256 (BadDigest).
        await this.client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: opts.size, ChecksumSHA256: hexToBase64(opts.sha256), Metadata }),
          { abortSignal: aborting.signal },
        );
      } else {
        // Parts: each part carries its own SHA-256 for the server to check; the whole is re-read below.
        await new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body: body, ChecksumAlgorithm: 'SHA256', Metadata },
          partSize: this.partSize,
          queueSize: 2,
          leavePartsOnError: false,
        }).done();
      }
      const sent = moving.digest();
      if (sent.sha256 !== opts.sha256 || sent.bytes !== opts.size)
        throw new ChecksumMismatch(
          `${this.urlOf(key)}: the bytes sent (${sent.bytes} bytes, sha256 ${sent.sha256}) are not the expected ${opts.size} bytes with sha256 ${opts.sha256}`,
        );
      const stored = await this.sha256Of(key);
      if (stored !== opts.sha256) throw new ChecksumMismatch(`${this.urlOf(key)}: stored as sha256 ${stored}, not the ${opts.sha256} that was sent`);
      return { skipped: false };
    } catch (e) {
      if (e instanceof ChecksumMismatch) await this.remove(key);
      throw e;
    }
  }

  /** An object's size and user metadata (x-amz-meta-*, named without that prefix), or undefined when there is none. */
  async metadataOf(key: string): Promise<{ size: number; metadata: Record<string, string> } | undefined> {
    const h = await this.headRaw(key);
    return h && { size: h.ContentLength ?? 0, metadata: h.Metadata ?? {} };
  }

  /**
   * Streams bytes whose size and digest are not known before they move (gzip made on the way)
   * to `key`, in parts when they outgrow one, with user metadata; returns what was sent. Unlike
   * put() it checks nothing against an expected digest: the caller compares what it sent with
   * what sha256Of() then reads.
   */
  async putStream(key: string, source: Readable, opts: { metadata?: Record<string, string> } = {}): Promise<{ size: number; sha256: string }> {
    const moving = digesting();
    await new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: this.full(key),
        Body: streamPipeline(source, moving, () => undefined),
        ChecksumAlgorithm: 'SHA256',
        Metadata: opts.metadata,
      },
      partSize: this.partSize,
      queueSize: 2,
      leavePartsOnError: false,
    }).done();
    const sent = moving.digest();
    return { size: sent.bytes, sha256: sent.sha256 };
  }

  async getFile(key: string, file: string, opts: GetOptions = {}): Promise<{ size: number; sha256: string }> {
    const h = await this.headRaw(key);
    if (!h) throw new Error(`${this.urlOf(key)} does not exist`);
    const expected = opts.sha256 ?? S3Storage.fullObjectSha256(h) ?? h.Metadata?.[SHA256_META];
    const got = await writeFileVerified(
      await this.read(key),
      file,
      ({ sha256 }) => {
        if (expected && sha256 !== expected) throw new ChecksumMismatch(`${this.urlOf(key)} read as sha256 ${sha256}, not the expected ${expected}`);
      },
      opts.onProgress,
    );
    return { size: got.bytes, sha256: got.sha256 };
  }

  async remove(keyOrPrefix: string): Promise<void> {
    if (!keyOrPrefix.endsWith('/') && keyOrPrefix !== '') {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.full(keyOrPrefix) }));
      return;
    }
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.full(k) })), Quiet: true } }));
      batch = [];
    };
    for await (const o of this.list(keyOrPrefix)) {
      batch.push(o.key);
      if (batch.length === 1000) await flush();
    }
    await flush();
  }
}
