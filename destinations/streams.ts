// The bytes of one delivery on their way: custody's copy hashed as it is read (so a copy that
// changed is caught), gzip-compressed when the destination compresses, and the bytes that leave
// hashed again. One pass, nothing held in memory beyond the streams' buffers.
import { PassThrough, Writable, pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import zlib from 'node:zlib';
import { digesting } from '../storage/digest';

export interface Digest {
  bytes: number;
  sha256: string;
}

export interface Outgoing {
  /** What goes to the destination. */
  body: Readable;
  /** Once `body` has ended: what was read from custody's copy, and what left (the gzip when compressed). */
  digests(): { source: Digest; sent: Digest };
  /** The error custody's copy failed with, if it did: custody's problem, thrown as it is rather than blamed on the destination. */
  sourceError(): Error | undefined;
}

/** Opens custody's copy and lays the hashing (and compressing) streams after it. `onProgress` counts bytes read from custody's copy. */
export async function outgoing(open: () => Promise<Readable> | Readable, compress: boolean, onProgress?: (bytes: number) => void): Promise<Outgoing> {
  const source = await open();
  let sourceError: Error | undefined;
  source.once('error', (e) => (sourceError = e));
  const read = digesting(onProgress);
  if (!compress) {
    // pipeline() destroys every stream on an error anywhere, so the destination's side sees it.
    const body = pipeline(source, read, () => undefined);
    return { body, digests: () => ({ source: read.digest(), sent: read.digest() }), sourceError: () => sourceError };
  }
  const sent = digesting();
  const body = pipeline(source, read, zlib.createGzip(), sent, () => undefined);
  return { body, digests: () => ({ source: read.digest(), sent: sent.digest() }), sourceError: () => sourceError };
}

/** The digest of stored bytes and, when they are gzip, of what they decompress to (undefined when they are not valid gzip). */
export async function digestsOf(stored: Readable, gunzip: boolean): Promise<{ stored: Digest; original?: Digest }> {
  const storedDigest = digesting();
  if (!gunzip) {
    await pipelineAsync(stored, storedDigest, new PassThrough().resume());
    return { stored: storedDigest.digest() };
  }
  // The stored bytes are hashed whatever the gunzip makes of them: bytes that are not gzip still
  // have a digest to report. So the gunzip is fed beside the stream, not in it.
  const gz = zlib.createGunzip();
  const original = digesting();
  const unzipped = pipelineAsync(gz, original, new PassThrough().resume()).then(
    () => true,
    () => false,
  );
  const feed = new Writable({
    write(chunk: Buffer, _enc, done) {
      if (gz.destroyed || gz.writableEnded || gz.write(chunk)) return done();
      let called = false;
      const go = () => {
        if (called) return;
        called = true;
        gz.off('drain', go);
        gz.off('close', go);
        done();
      };
      gz.once('drain', go);
      gz.once('close', go);
    },
    final(done) {
      if (!gz.destroyed) gz.end();
      done();
    },
  });
  await pipelineAsync(stored, storedDigest, feed);
  const ok = await unzipped;
  return { stored: storedDigest.digest(), ...(ok ? { original: original.digest() } : {}) };
}
