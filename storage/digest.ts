// SHA-256 computed while bytes move: the one digest custody keeps for every file it stores.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';

const CHUNK_BYTES = 256 * 1024;

/**
 * A local file's bytes from `start` to `end` inclusive (to its end when `end` is not given), read
 * into one buffer that every chunk reuses: each chunk is valid only until the next is asked for,
 * so only a consumer that is done with a chunk by then may use this (hashing, an awaited write).
 * A stream allocates a fresh buffer per chunk instead, and V8 frees those only once some 64 MiB of
 * them have piled up: that pile was most of a package worker's peak memory.
 */
export async function* fileChunks(file: string, range: { start?: number; end?: number } = {}): AsyncGenerator<Uint8Array> {
  const handle = await fsp.open(file, 'r');
  try {
    let position = range.start ?? 0;
    const last = range.end ?? Infinity;
    const expected = Math.min(last + 1 - position, (await handle.stat()).size - position);
    // A pseudo file (/proc) lists 0 bytes and yields some: never a buffer under 64 KiB.
    const buffer = Buffer.allocUnsafeSlow(Math.min(CHUNK_BYTES, Math.max(64 * 1024, expected)));
    while (position <= last) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, last + 1 - position), position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** SHA-256 (hex) and length of a local file's bytes (see `fileChunks` for the range). */
export async function hashFile(file: string, range?: { start?: number; end?: number }): Promise<{ sha256: string; bytes: number }> {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  for await (const chunk of fileChunks(file, range)) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** A file's SHA-256 (hex). */
export async function sha256OfFile(file: string): Promise<string> {
  return (await hashFile(file)).sha256;
}

/** A pass-through that hashes and counts what flows through it and reports progress. */
export function digesting(onProgress?: (bytes: number) => void): Transform & { digest(): { sha256: string; bytes: number } } {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      onProgress?.(bytes);
      done(null, chunk);
    },
  });
  let result: { sha256: string; bytes: number } | undefined;
  return Object.assign(t, {
    digest: () => (result ??= { sha256: hash.digest('hex'), bytes }),
  });
}

/**
 * A file still being written is named `.custody-partial-<hash of its final name>` in the final
 * file's folder: short, so a final name of up to 255 bytes never makes its temporary name too
 * long for the file system; hidden, so listings and the preservation service's scanner pass it
 * by; and the same for every attempt, so a retry replaces what a killed attempt left instead of
 * leaving one more.
 */
export const PARTIAL_PREFIX = '.custody-partial-';

export const isPartialName = (name: string): boolean => name.startsWith(PARTIAL_PREFIX);

/** The partial file every attempt at writing `file` uses. */
export function partialPathFor(file: string): string {
  const hash = crypto.createHash('sha256').update(path.basename(file)).digest('hex').slice(0, 16);
  return path.join(path.dirname(file), `${PARTIAL_PREFIX}${hash}`);
}

const inodeOf = (file: string) =>
  fsp.stat(file).then(
    (st) => st.ino,
    () => undefined,
  );

/**
 * Writes `source` into `file` through a partial file, hashing as the bytes move. Each chunk is
 * written before the next is asked for, so `source` may be `fileChunks`. The partial is
 * renamed into place only once `check` accepts what arrived (it throws otherwise; it may also
 * fsync or re-read the partial file it is given), so a file
 * under its final name is always whole; nothing is left behind on failure, and what a killed
 * attempt left for the same file is replaced.
 */
export async function writeFileVerified(
  source: AsyncIterable<Uint8Array>,
  file: string,
  check: (got: { sha256: string; bytes: number }, partial: string) => void | Promise<void>,
  onProgress?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const partial = partialPathFor(file);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  // A killed attempt's partial goes. A stalled attempt still writing one loses it: its own
  // rename below sees that the partial is no longer its file, and fails.
  await fsp.rm(partial, { force: true });
  const handle = await fsp.open(partial, 'wx');
  const { ino } = await handle.stat();
  const ours = async () => (await inodeOf(partial)) === ino;
  try {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    for await (const chunk of source) {
      hash.update(chunk);
      for (let written = 0; written < chunk.length;) written += (await handle.write(chunk, written)).bytesWritten;
      bytes += chunk.length;
      onProgress?.(bytes);
    }
    const got = { sha256: hash.digest('hex'), bytes };
    await check(got, partial);
    if (!(await ours())) throw new Error(`${file}: another attempt replaced this one's partial file; it is written again`);
    await fsp.rename(partial, file);
    return got;
  } finally {
    await handle.close().catch(() => undefined);
    if (await ours()) await fsp.rm(partial, { force: true });
  }
}

export const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
export const base64ToHex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
