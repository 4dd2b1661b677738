// Storage in a local (or mounted) folder. Writes go to a partial file that is fsynced,
// re-read against its checksum and only then renamed into place, so a reader never sees
// half an object and a crash leaves nothing under the final name.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { checkPathText } from '../sip/payload-paths';
import { fileChunks, isPartialName, sha256OfFile, writeFileVerified } from './digest';
import { ChecksumMismatch, compareKeys, type GetOptions, type PutOptions, type Storage, type StoredObject } from './storage';

const isMissing = (e: unknown) => ['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException)?.code ?? '');

/** An entry's name as its keys begin: a folder's with the '/' that follows it in each key below it. */
const keyName = (e: fs.Dirent): string => (e.isDirectory() ? `${e.name}/` : e.name);

/** Whether list() would find any object below `dir`. */
/** A folder's entries; none when it does not exist (as a prefix with no keys). */
async function entriesOf(dir: string): Promise<fs.Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

async function holdsFile(dir: string): Promise<boolean> {
  const entries = await entriesOf(dir);
  if (entries.some((e) => e.isFile() && !isPartialName(e.name))) return true;
  for (const e of entries) if (e.isDirectory() && !isPartialName(e.name) && (await holdsFile(path.join(dir, e.name)))) return true;
  return false;
}

export class FileStorage implements Storage {
  readonly root: string;
  readonly location: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  /** The local path of a key; keys are checked so that none leads out of the root. */
  pathOf(key: string): string {
    const trimmed = key.replace(/\/$/, '');
    if (trimmed === '') return this.root;
    checkPathText(trimmed);
    return path.join(this.root, ...trimmed.split('/'));
  }

  urlOf(key: string): string {
    return this.pathOf(key);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const base = this.pathOf(prefix);
    const walk = async function* (dir: string, rel: string): AsyncIterable<StoredObject> {
      const entries = await entriesOf(dir);
      // In S3's order: a folder's keys continue its name with '/', so "a-b" (a '-') comes before "a/…".
      entries.sort((a, b) => compareKeys(keyName(a), keyName(b)));
      for (const e of entries) {
        if (isPartialName(e.name)) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        const abs = path.join(dir, e.name);
        if (e.isDirectory()) yield* walk(abs, key);
        else if (e.isFile()) {
          const st = await fsp.stat(abs);
          yield { key, size: st.size, modifiedAt: st.mtime.toISOString() };
        }
      }
    };
    yield* walk(base, prefix.replace(/\/$/, ''));
  }

  async *listPrefixes(prefix: string): AsyncIterable<string> {
    const dir = this.pathOf(prefix);
    const base = prefix.replace(/\/$/, '');
    const folders = (await entriesOf(dir))
      .filter((e) => e.isDirectory() && !isPartialName(e.name))
      .map(keyName)
      .sort(compareKeys);
    // A folder with no file anywhere below it holds no key, so S3 would list no prefix for it.
    for (const name of folders) if (await holdsFile(path.join(dir, name))) yield base ? `${base}/${name}` : name;
  }

  async head(key: string): Promise<StoredObject | undefined> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      return st.isFile() ? { key, size: st.size, modifiedAt: st.mtime.toISOString() } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async read(key: string, range?: { start: number; end: number }): Promise<Readable> {
    const file = this.pathOf(key);
    // Open first, so a missing object is an error here rather than in the middle of a pipeline.
    const handle = await fsp.open(file, 'r');
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async put(key: string, open: () => Readable | Promise<Readable>, opts: PutOptions): Promise<{ skipped: boolean }> {
    return this.store(key, open, opts);
  }

  async putFile(key: string, file: string, opts: PutOptions): Promise<{ skipped: boolean }> {
    return this.store(key, () => fileChunks(file), opts);
  }

  private async store(
    key: string,
    open: () => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>,
    opts: PutOptions,
  ): Promise<{ skipped: boolean }> {
    const target = this.pathOf(key);
    const existing = await this.head(key);
    if (existing?.size === opts.size && (await sha256OfFile(target)) === opts.sha256) return { skipped: true };
    await writeFileVerified(
      await open(),
      target,
      async (sent, partial) => {
        if (sent.sha256 !== opts.sha256 || sent.bytes !== opts.size)
          throw new ChecksumMismatch(
            `${key}: the bytes sent (${sent.bytes} bytes, sha256 ${sent.sha256}) are not the expected ${opts.size} bytes with sha256 ${opts.sha256}`,
          );
        const handle = await fsp.open(partial, 'r');
        await handle.sync();
        await handle.close();
        const stored = await sha256OfFile(partial);
        if (stored !== opts.sha256) throw new ChecksumMismatch(`${key}: stored as sha256 ${stored}, not the ${opts.sha256} that was sent`);
      },
      opts.onProgress,
    );
    return { skipped: false };
  }

  async getFile(key: string, file: string, opts: GetOptions = {}): Promise<{ size: number; sha256: string }> {
    const got = await writeFileVerified(
      fileChunks(this.pathOf(key)),
      file,
      ({ sha256 }) => {
        if (opts.sha256 && sha256 !== opts.sha256) throw new ChecksumMismatch(`${this.pathOf(key)} has sha256 ${sha256}, not the expected ${opts.sha256}`);
      },
      opts.onProgress,
    );
    return { size: got.bytes, sha256: got.sha256 };
  }

  async sha256Of(key: string): Promise<string> {
    return sha256OfFile(this.pathOf(key));
  }

  async remove(keyOrPrefix: string): Promise<void> {
    const target = this.pathOf(keyOrPrefix);
    await fsp.rm(target, { recursive: keyOrPrefix.endsWith('/') || keyOrPrefix === '', force: true });
    // Folders left empty go too, as keys under a prefix would in S3; one still in use stays.
    for (let dir = path.dirname(target); dir.startsWith(this.root + path.sep); dir = path.dirname(dir)) {
      if (
        !(await fsp.rmdir(dir).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }
}
