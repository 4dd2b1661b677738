// A source kept in a storage such as an S3 bucket: one prefix per object, object.json beside
// its files. Keys are names custody does not control: one that would lead out of the object's
// folder when downloaded (`..`, empty segments, backslashes) freezes the object as UnsafePath.
import type { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { PermanentError } from '../common/errors';
import type { ObjectMetadata } from '../common/object-metadata';
import { checkPathText } from '../sip/payload-paths';
import type { Storage, StoredObject } from '../storage';
import { putJson } from '../storage/small-objects';
import { FileStorage } from '../storage/file-storage';
import { MAX_METADATA_BYTES, METADATA_FILE, parseMetadata } from './object-json';
import type { DescribedObject, DownloadedFile, InspectedObject, InvalidSourceObject, ObjectSource, SourceObjectSummary } from './object-source';

const fail = (objectId: string, problem: string, type: string): PermanentError => new PermanentError(`object "${objectId}": ${problem}`, type);

interface Located {
  metadata: ObjectMetadata;
  files: Array<{ path: string; size: number; key: string; modifiedAt: string }>;
  metadataModifiedAt: string;
}

// How many object.json files are read at once while listing: a GET is a round trip (tens of ms
// on S3), so enough in flight to list thousands a second, under the SDK's 50 sockets; each
// object.json is small (at most MAX_METADATA_BYTES), so a listing still holds little.
const LIST_READ_AHEAD = 48;

class TooLarge extends Error {}

/** A stream's bytes as UTF-8, or TooLarge as soon as it yields more than `max`. */
async function readAtMost(stream: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length;
    if (bytes > max) {
      stream.destroy();
      throw new TooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

class StorageSource implements ObjectSource {
  constructor(private readonly storage: Storage) {}

  private async readMetadata(objectId: string, entry: StoredObject | undefined): Promise<ObjectMetadata | string> {
    if (!entry) return `${METADATA_FILE} is missing`;
    if (entry.size > MAX_METADATA_BYTES) return `${METADATA_FILE} is ${entry.size} bytes, more than metadata can be`;
    return parseMetadata((await buffer(await this.storage.read(entry.key))).toString('utf8'), objectId);
  }

  async list(): Promise<Array<SourceObjectSummary | InvalidSourceObject>> {
    const out: Array<SourceObjectSummary | InvalidSourceObject> = [];
    for await (const o of this.listEach()) out.push(o);
    return out;
  }

  async *listEach(): AsyncGenerator<SourceObjectSummary | InvalidSourceObject> {
    // Each first segment of a key is an object: the bucket lists those prefixes a page at a time,
    // without walking the keys below them, in key order. object.json files are read LIST_READ_AHEAD
    // ahead of the consumer, because one at a time waits a round trip for each.
    const ahead: Array<Promise<SourceObjectSummary | InvalidSourceObject>> = [];
    try {
      for await (const prefix of this.storage.listPrefixes('')) {
        const id = prefix.slice(0, -1);
        if (id.startsWith('.')) continue; // .git, .Trash: not objects (loose keys at the root are not listed as prefixes)
        const summary = this.summarize(id);
        // Settled out of turn is not unhandled: its turn rethrows it.
        summary.catch(() => undefined);
        ahead.push(summary);
        if (ahead.length >= LIST_READ_AHEAD) yield await ahead.shift()!;
      }
      while (ahead.length) yield await ahead.shift()!;
    } finally {
      // A consumer that stops early (or a failure) leaves no read running unobserved.
      await Promise.allSettled(ahead);
    }
  }

  /** What list() says of one object: its object.json read in one request (a HEAD only when it is missing or too large). */
  private async summarize(id: string): Promise<SourceObjectSummary | InvalidSourceObject> {
    // A key that begins with '/' makes an empty first segment: listed (never dropped), but no object can have that name.
    if (id === '') return { id, error: 'keys begin with "/", so their object has an empty name' };
    const key = `${id}/${METADATA_FILE}`;
    let text: string;
    try {
      text = await readAtMost(await this.storage.read(key), MAX_METADATA_BYTES);
    } catch (e) {
      const entry = await this.storage.head(key);
      if (entry && !(e instanceof TooLarge)) throw e;
      return { id, error: entry ? `${METADATA_FILE} is ${entry.size} bytes, more than metadata can be` : `${METADATA_FILE} is missing` };
    }
    const metadata = parseMetadata(text, id);
    return typeof metadata === 'string' ? { id, error: metadata } : { id: metadata.id, modifiedAt: metadata.modifiedAt, title: metadata.title };
  }

  private async locate(objectId: string): Promise<Located> {
    if (objectId === '' || objectId === '.' || objectId === '..' || /[/\\\0]/.test(objectId)) {
      throw fail(objectId, 'is not a plain name, so it cannot name a prefix in the source', 'UnsafePath');
    }
    let metadataEntry: StoredObject | undefined;
    let seen = false;
    const files: Located['files'] = [];
    for await (const o of this.storage.list(`${objectId}/`)) {
      seen = true;
      const rel = o.key.slice(objectId.length + 1);
      if (rel === METADATA_FILE) {
        metadataEntry = o;
        continue;
      }
      // A zero-byte key ending in '/' is a folder marker some tools write, not a file.
      if (rel.endsWith('/') && o.size === 0) continue;
      try {
        checkPathText(rel);
      } catch (e) {
        throw fail(objectId, `key "${o.key}" cannot be a file inside the object: ${(e as Error).message}`, 'UnsafePath');
      }
      files.push({ path: rel, size: o.size, key: o.key, modifiedAt: o.modifiedAt });
    }
    if (!seen) throw fail(objectId, `no prefix "${objectId}/" in the source ${this.storage.location}`, 'ObjectNotFound');
    const metadata = await this.readMetadata(objectId, metadataEntry);
    if (typeof metadata === 'string') throw fail(objectId, metadata, 'InvalidObjectMetadata');
    if (files.length === 0) throw fail(objectId, 'has no payload files beside object.json', 'EmptyObject');
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { metadata, files, metadataModifiedAt: metadataEntry!.modifiedAt };
  }

  async describe(objectId: string): Promise<DescribedObject> {
    const { metadata, files } = await this.locate(objectId);
    return { metadata, files: files.map(({ path: p, size }) => ({ path: p, size })) };
  }

  async inspect(objectId: string, headBytes: number): Promise<InspectedObject> {
    const { metadata, files, metadataModifiedAt } = await this.locate(objectId);
    const heads = new Map<string, Buffer>();
    let newest = Date.parse(metadataModifiedAt);
    for (const f of files) {
      newest = Math.max(newest, Date.parse(f.modifiedAt));
      heads.set(f.path, f.size === 0 ? Buffer.alloc(0) : await buffer(await this.storage.read(f.key, { start: 0, end: Math.min(headBytes, f.size) - 1 })));
    }
    return { metadata, files: files.map(({ path: p, size }) => ({ path: p, size })), lastChangedAt: new Date(newest).toISOString(), heads };
  }

  async download(
    objectId: string,
    destDir: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ metadata: ObjectMetadata; files: DownloadedFile[] }> {
    const { metadata, files } = await this.locate(objectId);
    const total = files.reduce((n, f) => n + f.size, 0);
    let done = 0;
    onProgress?.(done, total);
    const dest = new FileStorage(destDir);
    const downloaded: DownloadedFile[] = [];
    for (const f of files) {
      // pathOf refuses a path that leads out of destDir, whatever locate() let through.
      const target = dest.pathOf(f.path);
      const got = await this.storage.getFile(f.key, target, { onProgress: (bytes) => onProgress?.(done + bytes, total) });
      if (got.size !== f.size) throw new Error(`${this.storage.urlOf(f.key)} changed while it was read: ${got.size} bytes, listed as ${f.size}`);
      done += f.size;
      onProgress?.(done, total);
      downloaded.push({ path: f.path, size: f.size, sha256: got.sha256 });
    }
    await putJson(dest, METADATA_FILE, metadata);
    return { metadata, files: downloaded };
  }
}

export function storageSource(storage: Storage): ObjectSource {
  return new StorageSource(storage);
}
