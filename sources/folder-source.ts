// The default source: a folder tree with one folder per object, object.json beside the
// object's files (at any depth). Everything a retry cannot fix is a PermanentError naming
// the object; a missing or unreadable root is left retryable because a disk that is not
// mounted yet comes back.
import type { Dirent, Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { Readable } from 'node:stream';
import { fileChunks, hashFile, writeFileVerified } from '../storage/digest';
import { escapeBytes, isValidUtf8 } from '../sip/payload-paths';
import type { ObjectMetadata, SourceFile } from '../common/object-metadata';
import { MAX_METADATA_BYTES, METADATA_FILE, parseMetadata } from './object-json';
import type { DescribedObject, DownloadedFile, InspectedObject, InvalidSourceObject, ObjectSource, SourceObjectSummary } from './object-source';

interface LocatedFile extends SourceFile {
  /** Absolute path to read from (through in-object symlinks as found). */
  abs: string;
}

const fail = (objectId: string, problem: string, type: string): PermanentError => new PermanentError(`object "${objectId}": ${problem}`, type);

function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel);
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT' || (e as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}

async function readMetadata(objectId: string, dir: string): Promise<ObjectMetadata | string> {
  const file = path.join(dir, METADATA_FILE);
  let st: Stats;
  try {
    st = await fsp.lstat(file);
  } catch (e) {
    if (isNotFound(e)) return `${METADATA_FILE} is missing`;
    throw e;
  }
  if (!st.isFile()) return `${METADATA_FILE} is not a regular file`;
  if (st.size > MAX_METADATA_BYTES) return `${METADATA_FILE} is ${st.size} bytes, more than metadata can be`;
  return parseMetadata(await fsp.readFile(file, 'utf8'), objectId);
}

async function statOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(file);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** Writes text to a file unless it already holds exactly that, replacing it atomically. */
async function writeIfChanged(file: string, text: string): Promise<void> {
  try {
    if ((await fsp.readFile(file, 'utf8')) === text) return;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await writeFileVerified(Readable.from([Buffer.from(text, 'utf8')]), file, () => undefined);
}

/**
 * A directory's entries with their names checked as bytes: Node would hand a name that is not
 * valid UTF-8 back with U+FFFD in it, naming a file that does not exist.
 */
async function readNames(dir: string): Promise<Array<{ name: string; dirent: Dirent<Buffer> } | { invalid: string }>> {
  const entries = await fsp.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  return entries.map((dirent) => (isValidUtf8(dirent.name) ? { name: dirent.name.toString('utf8'), dirent } : { invalid: escapeBytes(dirent.name) }));
}

/** SHA-256 of a file read up to one byte past `size`, so a file that yields more is seen, and nothing reads without end. */
const hashUpTo = (file: string, size: number): Promise<{ sha256: string; bytes: number }> => hashFile(file, { start: 0, end: size });

/**
 * The first bytes of a file listed with `size` bytes, and whether it yields more than that: one
 * byte past a small file's size is read, because a pseudo file (/proc) lists 0 bytes but yields some.
 */
export async function readHead(file: string, size: number, headBytes: number): Promise<{ head: Buffer; yieldsMore: boolean; mtimeMs: number }> {
  const handle = await fsp.open(file, 'r');
  try {
    const { mtimeMs } = await handle.stat();
    const buf = Buffer.alloc(Math.min(headBytes, size) + 1);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    return { head: buf.subarray(0, Math.min(bytesRead, headBytes, size)), yieldsMore: bytesRead > size, mtimeMs };
  } finally {
    await handle.close();
  }
}

// How many object.json files are read at once while listing: enough to keep the disk and
// libuv's thread pool busy, few enough that a listing holds little.
const LIST_READ_AHEAD = 16;

/** A root folder entry as the listing keeps it until it is read: its name and what kind of entry it is. */
type RootEntry = { name: string; dir: boolean; link: boolean } | { invalid: string };

class FolderSource implements ObjectSource {
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  async list(): Promise<Array<SourceObjectSummary | InvalidSourceObject>> {
    const out: Array<SourceObjectSummary | InvalidSourceObject> = [];
    for await (const o of this.listEach()) out.push(o);
    return out;
  }

  async *listEach(): AsyncGenerator<SourceObjectSummary | InvalidSourceObject> {
    let entries: Awaited<ReturnType<typeof readNames>>;
    try {
      entries = await readNames(this.root);
    } catch (e) {
      throw new Error(`source folder "${this.root}" cannot be read: ${(e as Error).message}`, { cause: e });
    }
    // The names alone are held, as strings (a folder's listing comes whole anyway, and id order
    // needs them all); each object.json is read a few ahead of the consumer, because one read at
    // a time waits on the disk for each.
    const names: RootEntry[] = entries.map((e) => ('invalid' in e ? e : { name: e.name, dir: e.dirent.isDirectory(), link: e.dirent.isSymbolicLink() }));
    entries = [];
    const key = (e: RootEntry) => ('invalid' in e ? e.invalid : e.name);
    names.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const ahead: Array<Promise<SourceObjectSummary | InvalidSourceObject | undefined>> = [];
    let next = 0;
    while (next < names.length || ahead.length) {
      while (next < names.length && ahead.length < LIST_READ_AHEAD) ahead.push(this.summarize(names[next++]));
      const got = await ahead.shift()!;
      if (got) yield got;
    }
  }

  /** One root entry as listed: an object, an object that cannot be described, or nothing (not an object). */
  private async summarize(entry: RootEntry): Promise<SourceObjectSummary | InvalidSourceObject | undefined> {
    if ('invalid' in entry) return { id: entry.invalid, error: `folder name is not valid UTF-8: ${entry.invalid}` };
    // Hidden folders (.git, .Trash) are not objects; loose files at the root are not either.
    if (entry.name.startsWith('.')) return undefined;
    const dir = path.join(this.root, entry.name);
    const isDir = entry.dir || (entry.link && (await statOrUndefined(dir))?.isDirectory());
    if (!isDir) return undefined;
    const metadata = await readMetadata(entry.name, dir);
    return typeof metadata === 'string' ? { id: entry.name, error: metadata } : { id: metadata.id, modifiedAt: metadata.modifiedAt, title: metadata.title };
  }

  async describe(objectId: string): Promise<DescribedObject> {
    const { metadata, files } = await this.locate(objectId);
    return { metadata, files: files.map(({ path: p, size }) => ({ path: p, size })) };
  }

  async inspect(objectId: string, headBytes: number): Promise<InspectedObject> {
    const { metadata, files } = await this.locate(objectId);
    let newest = (await fsp.stat(path.join(this.root, objectId, METADATA_FILE))).mtimeMs;
    const heads = new Map<string, Buffer>();
    for (const f of files) {
      const { head, yieldsMore, mtimeMs } = await readHead(f.abs, f.size, headBytes);
      if (yieldsMore)
        throw fail(objectId, `"${f.path}" yields more bytes than the ${f.size} its size says: a pseudo file, or one still being written`, 'SourceFileChanged');
      newest = Math.max(newest, mtimeMs);
      heads.set(f.path, head);
    }
    return {
      metadata,
      files: files.map(({ path: p, size }) => ({ path: p, size })),
      lastChangedAt: new Date(newest).toISOString(),
      heads,
    };
  }

  async download(
    objectId: string,
    destDir: string,
    onProgress?: (done: number, total: number) => void,
  ): Promise<{ metadata: ObjectMetadata; files: DownloadedFile[] }> {
    const { metadata, files } = await this.locate(objectId);
    const total = files.reduce((n, f) => n + f.size, 0);
    let done = 0;
    const report = (): void => onProgress?.(done, total);
    report();
    const dest = path.resolve(destDir);
    await fsp.mkdir(dest, { recursive: true });
    const downloaded: DownloadedFile[] = [];
    for (const file of files) {
      const target = path.join(dest, ...file.path.split('/'));
      // locate() built these paths from directory entries, so this only guards against a bug there.
      if (!isInside(dest, target)) throw fail(objectId, `file "${file.path}" would be written outside "${dest}"`, 'UnsafePath');
      const before = done;
      const sha256 =
        (await this.alreadyThere(file, target)) ??
        (await copyVerified(objectId, file, target, (n) => {
          done = before + n;
          report();
        }));
      done = before + file.size;
      report();
      downloaded.push({ path: file.path, size: file.size, sha256 });
    }
    await writeIfChanged(path.join(dest, METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
    return { metadata, files: downloaded };
  }

  /** The SHA-256 of a copy already at `target` with the source file's bytes, or undefined. */
  private async alreadyThere(file: LocatedFile, target: string): Promise<string | undefined> {
    const existing = await statOrUndefined(target);
    if (!existing?.isFile() || existing.size !== file.size) return undefined;
    const [a, b] = await Promise.all([hashUpTo(file.abs, file.size), hashUpTo(target, file.size)]);
    return a.sha256 === b.sha256 && a.bytes === file.size ? a.sha256 : undefined;
  }

  /** Validates the object and lists its payload files, refusing any path that leaves its folder. */
  private async locate(objectId: string): Promise<{ metadata: ObjectMetadata; files: LocatedFile[] }> {
    // list() names a folder whose name is not valid UTF-8 by its bytes, escaped (\xNN).
    if (/\\x[0-9a-f]{2}/.test(objectId)) throw fail(objectId, `folder name is not valid UTF-8: ${objectId} (rename the folder)`, 'InvalidFileName');
    if (objectId === '' || objectId === '.' || objectId === '..' || /[/\\\0]/.test(objectId)) {
      throw fail(objectId, 'is not a plain folder name, so it cannot name a folder in the source', 'UnsafePath');
    }
    const dir = path.join(this.root, objectId);
    let realDir: string;
    try {
      realDir = await fsp.realpath(dir);
      if (!(await fsp.stat(realDir)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    } catch (e) {
      if (isNotFound(e)) throw fail(objectId, `no folder "${dir}" in the source`, 'ObjectNotFound');
      throw e;
    }
    // A symlinked object folder may point elsewhere in the source, not anywhere on this machine.
    const realRoot = await fsp.realpath(this.root);
    if (!isInside(realRoot, realDir)) throw fail(objectId, `its folder "${dir}" is a symlink that leaves the source folder (to "${realDir}")`, 'UnsafePath');
    const metadata = await readMetadata(objectId, realDir);
    if (typeof metadata === 'string') throw fail(objectId, metadata, 'InvalidObjectMetadata');

    const files: LocatedFile[] = [];
    const visited = new Set<string>([realDir]);
    const visit = async (absDir: string, relDir: string): Promise<void> => {
      const entries = await readNames(absDir);
      const invalid = entries.find((e) => 'invalid' in e);
      if (invalid) throw fail(objectId, `file name is not valid UTF-8: ${relDir ? `${relDir}/` : ''}${invalid.invalid}`, 'InvalidFileName');
      const named = entries.flatMap((e) => ('invalid' in e ? [] : [{ name: e.name, entry: e.dirent }]));
      for (const { name, entry } of named.sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const rel = relDir ? `${relDir}/${name}` : name;
        if (rel === METADATA_FILE) continue;
        const abs = path.join(absDir, name);
        let st: Stats;
        if (entry.isSymbolicLink()) {
          let real: string;
          try {
            real = await fsp.realpath(abs);
          } catch {
            throw fail(objectId, `"${rel}" is a symlink to nothing`, 'UnsafePath');
          }
          if (!isInside(realDir, real)) throw fail(objectId, `"${rel}" is a symlink that leaves the object's folder (to "${real}")`, 'UnsafePath');
          st = await fsp.stat(real);
          if (st.isDirectory()) {
            if (visited.has(real)) throw fail(objectId, `"${rel}" is a symlink that loops back to a folder already listed`, 'UnsafePath');
            visited.add(real);
          }
        } else {
          st = await fsp.lstat(abs);
        }
        if (st.isDirectory()) {
          await visit(abs, rel);
        } else if (st.isFile()) {
          files.push({ path: rel, size: st.size, abs });
        } else {
          throw fail(objectId, `"${rel}" is neither a file nor a folder`, 'UnsupportedFileType');
        }
      }
    };
    await visit(realDir, '');
    if (files.length === 0) throw fail(objectId, 'has no payload files beside object.json', 'EmptyObject');
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { metadata, files };
  }
}

/** Copies through a partial file that is renamed into place only once its size is right,
 *  so a half-written file never looks done. Returns the copy's SHA-256, computed on the way. */
async function copyVerified(objectId: string, file: LocatedFile, to: string, onBytes: (n: number) => void): Promise<string> {
  const { sha256 } = await writeFileVerified(
    // Never more than one byte past the listed size: a file that keeps yielding bytes stops here.
    fileChunks(file.abs, { start: 0, end: file.size }),
    to,
    ({ bytes }) => {
      if (bytes !== file.size)
        throw fail(
          objectId,
          `"${file.path}" changed size while being read (${bytes > file.size ? `more than ${file.size}` : bytes} bytes read, listed as ${file.size}): a pseudo file, or one still being written`,
          'SourceFileChanged',
        );
    },
    onBytes,
  );
  return sha256;
}

export function folderSource(rootDir: string): ObjectSource {
  return new FolderSource(rootDir);
}
