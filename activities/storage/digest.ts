// SHA-256 computed while bytes move: the one digest custody keeps for every file it stores.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/** Streams a file through SHA-256 (hex). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
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
 * Files still being written are named `.custody-partial-<hash of the final name>-<random>` in
 * the final file's folder: a fixed, short name, so a final name of up to 255 bytes never
 * makes its temporary name too long for the file system, and hidden, so listings and the
 * preservation service's scanner pass it by. The hash lets a retry find what a killed attempt
 * left for the same file.
 */
export const PARTIAL_PREFIX = '.custody-partial-';

export const isPartialName = (name: string): boolean => name.startsWith(PARTIAL_PREFIX);

/** The start of every partial file's name for `file` (the same for every attempt). */
export function partialPrefixFor(file: string): string {
  const hash = crypto.createHash('sha256').update(path.basename(file)).digest('hex').slice(0, 16);
  return path.join(path.dirname(file), `${PARTIAL_PREFIX}${hash}-`);
}

/** Removes partial files of `file` that an earlier, killed attempt left behind. */
async function removeLeftPartials(file: string): Promise<void> {
  const prefix = path.basename(partialPrefixFor(file));
  const dir = path.dirname(file);
  for (const name of await fsp.readdir(dir)) {
    // A partial another live writer is still filling makes that writer's rename fail, and it retries.
    if (name.startsWith(prefix)) await fsp.rm(path.join(dir, name), { force: true });
  }
}

/**
 * Streams `source` into `file` through a partial file, hashing as the bytes move. The partial is
 * renamed into place only once `check` accepts what arrived (it throws otherwise; it may also
 * fsync or re-read the partial file it is given), so a file
 * under its final name is always whole; nothing is left behind on failure, and what a killed
 * attempt left for the same file is removed first.
 */
export async function writeFileVerified(
  source: Readable,
  file: string,
  check: (got: { sha256: string; bytes: number }, partial: string) => void | Promise<void>,
  onProgress?: (bytes: number) => void,
): Promise<{ sha256: string; bytes: number }> {
  const partial = `${partialPrefixFor(file)}${crypto.randomBytes(4).toString('hex')}`;
  await fsp.mkdir(path.dirname(file), { recursive: true });
  await removeLeftPartials(file);
  try {
    const moving = digesting(onProgress);
    await pipeline(source, moving, fs.createWriteStream(partial));
    const got = moving.digest();
    await check(got, partial);
    await fsp.rename(partial, file);
    return got;
  } finally {
    await fsp.rm(partial, { force: true });
  }
}

export const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
export const base64ToHex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');
