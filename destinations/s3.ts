// An S3 destination (AWS or any S3 API server), through custody's own S3 storage: the same
// client settings, credentials from the SDK's standard chain, verified single PUTs and parts.
// A plain copy is put by S3Storage.put (the server checks its SHA-256 while receiving); a
// compressed one, whose digest is known only once it is made, streams up with putStream. Each
// object carries custody's digest of the uncompressed file as user metadata, so present() is
// one HEAD request; verify() reads what the server holds (or takes its full-object checksum).
import type { Readable } from 'node:stream';
import { S3ServiceException } from '@aws-sdk/client-s3';
import type { DestinationFile, Present, SendResult } from '../common/destinations';
import { ChecksumMismatch } from '../storage';
import { S3Storage } from '../storage/s3-storage';
import { checkReceived, checkSource, storedName, type Destination } from './destination';
import { DestinationError, DestinationRefused, DestinationUnavailable } from './errors';
import { digestsOf, outgoing, type Outgoing } from './streams';

/** S3Storage.put's own metadata: the digest of the stored bytes, here the file itself. */
const STORED_SHA256 = 'custody-sha256';
/** On a compressed object: the digest and size of the file before gzip, for present(). */
export const ORIGINAL_SHA256 = 'custody-original-sha256';
export const ORIGINAL_SIZE = 'custody-original-size';

const RETRYABLE_STATUS = new Set([408, 425, 429]);
const NETWORK_NAMES = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'TimeoutException']);

export class S3Destination implements Destination {
  constructor(
    readonly name: string,
    private readonly storage: S3Storage,
    readonly compress: boolean,
  ) {}

  get location(): string {
    return this.storage.location;
  }

  async present(file: DestinationFile): Promise<Present | undefined> {
    const stored = storedName(this.name, file, this.compress);
    try {
      const head = await this.storage.metadataOf(stored);
      if (!head) return undefined;
      const meta = head.metadata;
      if (!this.compress) return { name: stored, size: head.size, sha256: meta[STORED_SHA256] ?? (await this.storage.sha256Of(stored)) };
      const size = Number(meta[ORIGINAL_SIZE]);
      if (meta[ORIGINAL_SHA256] && Number.isInteger(size)) return { name: stored, size, sha256: meta[ORIGINAL_SHA256] };
      // Put there by something else than custody: decompress it to know what it holds.
      const d = await digestsOf(await this.storage.read(stored), true);
      const described = d.original ?? d.stored;
      return { name: stored, size: described.bytes, sha256: described.sha256 };
    } catch (e) {
      throw this.failure(e, `looking up ${stored}`);
    }
  }

  async send(file: DestinationFile, open: () => Promise<Readable> | Readable, onProgress?: (bytes: number) => void): Promise<SendResult> {
    const stored = storedName(this.name, file, this.compress);
    let out: Outgoing | undefined;
    const checkRead = (sent: { size: number; sha256: string }) => {
      const { source } = out!.digests();
      checkSource(this, file, source, { name: stored, size: sent.size, sha256: sent.sha256 });
    };
    try {
      if (!this.compress) {
        // put() skips an object that already holds these bytes, and never calls open() then.
        await this.storage.put(
          stored,
          async () => {
            out = await outgoing(open, false, onProgress);
            return out.body;
          },
          { size: file.size, sha256: file.sha256 },
        );
        if (out) checkRead(file);
        return { name: stored, size: file.size, sha256: file.sha256, compressed: false };
      }
      out = await outgoing(open, true, onProgress);
      const sent = await this.storage.putStream(stored, out.body, { metadata: { [ORIGINAL_SHA256]: file.sha256, [ORIGINAL_SIZE]: String(file.size) } });
      try {
        checkRead(sent);
      } catch (e) {
        // Its metadata would claim the file: present() must not find it.
        await this.storage.remove(stored);
        throw e;
      }
      return { name: stored, size: sent.size, sha256: sent.sha256, compressed: true };
    } catch (e) {
      // The server refuses a body that does not match the SHA-256 it was promised: say whose bytes were wrong.
      const sourceError = out?.sourceError();
      if (sourceError) throw sourceError;
      if (out?.body.readableEnded && !(e instanceof DestinationError)) checkRead({ size: out.digests().sent.bytes, sha256: out.digests().sent.sha256 });
      throw this.failure(e, `sending ${stored}`);
    }
  }

  async verify(file: DestinationFile, sent: SendResult): Promise<Present> {
    const stored = storedName(this.name, file, this.compress);
    let received: { name: string; size: number; sha256: string } | undefined;
    try {
      const head = await this.storage.head(stored);
      if (head) received = { name: stored, size: head.size, sha256: await this.storage.sha256Of(stored) };
    } catch (e) {
      throw this.failure(e, `checking ${stored}`);
    }
    return checkReceived(this, file, sent, received);
  }

  private failure(e: unknown, doing: string): unknown {
    if (e instanceof DestinationError) return e;
    const message = (why: string) => `${this.name} (${this.location}): ${doing}: ${why}`;
    if (e instanceof ChecksumMismatch) return new DestinationUnavailable(message(e.message), this.name, { cause: e });
    if (e instanceof S3ServiceException) {
      const status = e.$metadata.httpStatusCode;
      const why = `${status ?? ''} ${e.name}: ${e.message}`.trim();
      if (status === undefined || status >= 500 || RETRYABLE_STATUS.has(status)) return new DestinationUnavailable(message(why), this.name, { cause: e });
      return new DestinationRefused(message(why), this.name, status, { cause: e });
    }
    const err = e as Error & { code?: string };
    if (err.name === 'CredentialsProviderError') return new DestinationRefused(message(`no credentials: ${err.message}`), this.name, undefined, { cause: e });
    if (typeof err.code === 'string' || NETWORK_NAMES.has(err.name))
      return new DestinationUnavailable(message(`cannot reach it: ${err.code ?? err.name}: ${err.message}`), this.name, { cause: e });
    return e;
  }
}
