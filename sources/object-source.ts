// What the download stage needs from any source of objects: the folder tree today,
// S3 or an HTTP catalog later.
import type { ObjectMetadata, SourceFile } from '../common/object-metadata';

export interface SourceObjectSummary {
  id: string;
  modifiedAt: string;
  title: string;
}

/** An object the source holds but cannot describe; listed so that it is never silently dropped. */
export interface InvalidSourceObject {
  id: string;
  error: string;
}

export interface DescribedObject {
  metadata: ObjectMetadata;
  /** Payload files sorted by path; object.json itself is not among them. */
  files: SourceFile[];
}

/** A payload file as downloaded, with the SHA-256 computed while it was copied. */
export type DownloadedFile = SourceFile & { sha256: string };

export interface ObjectSource {
  /**
   * Every object in the source, in the source's listing order (below). Objects with invalid
   * object.json are still listed with an `error` field, never silently dropped.
   *
   * The order is the one the source's medium lists in, so that a listing can stream: the same at
   * every listing, but not one order for all sources, and nothing downstream may rely on more
   * (enqueue reports in it; the harvest sorts by its own (change time, id) and keeps its cursor in that).
   * - folder source: by id, as JavaScript compares strings (UTF-16 code units);
   * - storage source (S3): key order, the byte order of each id's UTF-8 followed by '/', as a
   *   bucket lists prefixes (`aws s3 ls`). For valid ids it differs from the folder's only where
   *   an id is continued by '-' or '.' (below '/'): `obj-1` and `obj.2` come before `obj`. Among
   *   names that are no valid id (listed to be refused), one with a character above U+FFFF also
   *   comes after one with a character in U+E000–U+FFFF at the same place (code point order).
   */
  list(): Promise<Array<SourceObjectSummary | InvalidSourceObject>>;
  /** What list() returns, in the same order, one object at a time: a large source is not held whole. */
  listEach(): AsyncIterable<SourceObjectSummary | InvalidSourceObject>;
  /** Validated metadata + payload file list (relative paths, '/' separators, sizes; object.json itself excluded). */
  describe(objectId: string): Promise<DescribedObject>;
  /** Stream every payload file into destDir (same relative paths), verifying sizes; writes destDir/object.json too.
   *  Idempotent: a file already there with the same size and sha256 as the source is not copied again. Calls
   *  onProgress(bytesDone, bytesTotal) often (the activity heartbeats from it). Returns what describe() returns,
   *  with each file's SHA-256. */
  download(
    objectId: string,
    destDir: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ metadata: ObjectMetadata; files: DownloadedFile[] }>;
  /** describe() plus what the checks before any work need: when the object last changed, and each file's first bytes. */
  inspect(objectId: string, headBytes: number): Promise<InspectedObject>;
}

export interface InspectedObject extends DescribedObject {
  /** Newest modification time of object.json and the payload files (ISO). */
  lastChangedAt: string;
  /** The first bytes of each payload file, by path (for format identification). */
  heads: Map<string, Buffer>;
}

export function isInvalidSourceObject(o: SourceObjectSummary | InvalidSourceObject): o is InvalidSourceObject {
  return 'error' in o;
}
