// Where custody keeps bytes: a source collection, working files between stages, SIPs handed
// to the service, archived reports. One small interface, chosen by URL: a plain path or
// file://… is a folder, s3://bucket/prefix is S3 (or any S3 API server).
import type { Readable } from 'node:stream';

export interface StoredObject {
  /** Relative to the storage's root, '/' separators. */
  key: string;
  size: number;
  modifiedAt: string;
  /** The server's ETag, unquoted, where the storage has one (S3): it changes whenever the bytes do. */
  etag?: string;
}

export interface PutOptions {
  size: number;
  /** custody's whole-object SHA-256 (hex), known before the bytes move. */
  sha256: string;
  onProgress?: (bytes: number) => void;
}

export interface GetOptions {
  /** Expected SHA-256 (hex); without it the stored checksum is used where the storage keeps one. */
  sha256?: string;
  onProgress?: (bytes: number) => void;
}

export interface Storage {
  /** The root, as a URL with nothing secret in it: safe for logs and histories. */
  readonly location: string;
  /** Every object under `prefix` (recursive), in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /**
   * The prefixes one level below `prefix` ('' or ending in '/') that hold at least one object, each
   * once and ending in '/' (S3's CommonPrefixes with the '/' delimiter), in key order, page by page:
   * the objects below them are not walked, and nothing grows with how many there are.
   */
  listPrefixes(prefix: string): AsyncIterable<string>;
  head(key: string): Promise<StoredObject | undefined>;
  /** Streams an object, or the bytes from `start` to `end` inclusive. */
  read(key: string, range?: { start: number; end: number }): Promise<Readable>;
  /**
   * Streams `open()` to `key`, hashing as the bytes move, and verifies what was stored against
   * `sha256` before returning. Nothing is left under `key` when verification fails. When `key`
   * already holds an object with that size and checksum, nothing is sent (`skipped`).
   */
  put(key: string, open: () => Readable | Promise<Readable>, opts: PutOptions): Promise<{ skipped: boolean }>;
  /** `put` from a local file: a folder storage copies it through one reused buffer. */
  putFile(key: string, file: string, opts: PutOptions): Promise<{ skipped: boolean }>;
  /** Streams `key` into a local file (through a partial file renamed into place), verified. */
  getFile(key: string, file: string, opts?: GetOptions): Promise<{ size: number; sha256: string }>;
  /** The object's SHA-256 (hex): from the storage's own full-object checksum where it has one, else by reading it. */
  sha256Of(key: string): Promise<string>;
  /** Removes `key`, or everything under it when it ends with '/'. Missing is not an error. */
  remove(keyOrPrefix: string): Promise<void>;
  /** A location string for one object (for the ledger and the operator). */
  urlOf(key: string): string;
}

/** Thrown when stored bytes do not match their checksum; retrying reads or writes them again. */
export class ChecksumMismatch extends Error {
  override readonly name = 'ChecksumMismatch';
}

/**
 * Key order: the byte order of the keys' UTF-8, in which S3 lists them. JavaScript's `<` compares
 * UTF-16 code units instead, which puts a character above U+FFFF (a surrogate pair, 0xD800–0xDFFF)
 * before one in U+E000–U+FFFF; UTF-8's byte order is code point order, restored here by moving
 * the surrogates above the rest of the code units.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return inCodePointOrder(x) - inCodePointOrder(y);
  }
  return a.length - b.length;
}

const inCodePointOrder = (unit: number): number => (unit < 0xd800 ? unit : unit < 0xe000 ? unit + 0x2000 : unit - 0x800);

/** Joins key parts with single '/' separators. */
export function joinKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s !== '')
    .join('/');
}
