// The default source: a folder tree with one folder per object, object.json beside the
// object's files (at any depth). Everything a retry cannot fix is a non-retryable
// ApplicationFailure naming the object; a missing or unreadable root is left retryable
// because a disk that is not mounted yet comes back.
import { createReadStream, type Dirent, type Stats } from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { PARTIAL_SUFFIX, sha256OfFile, writeFileVerified } from '../storage/digest';
import type { ObjectMetadata, SourceFile } from '../../common/object-metadata';
import { MAX_METADATA_BYTES, METADATA_FILE, parseMetadata } from './object-json';
import type { DescribedObject, DownloadedFile, InspectedObject, InvalidSourceObject, ObjectSource, SourceObjectSummary } from './object-source';


interface LocatedFile extends SourceFile {
  /** Absolute path to read from (through in-object symlinks as found). */
  abs: string;
}

const fail = (objectId: string, problem: string, type: string): ApplicationFailure =>
  ApplicationFailure.nonRetryable(`object "${objectId}": ${problem}`, type);

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
  const partial = file + PARTIAL_SUFFIX;
  await fsp.writeFile(partial, text);
  await fsp.rename(partial, file);
}

class FolderSource implements ObjectSource {
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = path.resolve(rootDir);
  }

  async list(): Promise<Array<SourceObjectSummary | InvalidSourceObject>> {
    let entries: Dirent[];
    try {
      entries = await fsp.readdir(this.root, { withFileTypes: true });
    } catch (e) {
      throw new Error(`source folder "${this.root}" cannot be read: ${(e as Error).message}`, { cause: e });
    }
    const out: Array<SourceObjectSummary | InvalidSourceObject> = [];
    for (const entry of entries) {
      // Hidden folders (.git, .Trash) are not objects; loose files at the root are not either.
      if (entry.name.startsWith('.')) continue;
      const dir = path.join(this.root, entry.name);
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await statOrUndefined(dir))?.isDirectory());
      if (!isDir) continue;
      const metadata = await readMetadata(entry.name, dir);
      out.push(
        typeof metadata === 'string'
          ? { id: entry.name, error: metadata }
          : { id: metadata.id, modifiedAt: metadata.modifiedAt, title: metadata.title },
      );
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
      const handle = await fsp.open(f.abs, 'r');
      try {
        newest = Math.max(newest, (await handle.stat()).mtimeMs);
        const buf = Buffer.alloc(Math.min(headBytes, f.size));
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        heads.set(f.path, buf.subarray(0, bytesRead));
      } finally {
        await handle.close();
      }
    }
    return {
      metadata,
      files: files.map(({ path: p, size }) => ({ path: p, size })),
      lastChangedAt: new Date(newest).toISOString(),
      heads,
    };
  }

  async download(objectId: string, destDir: string, onProgress?: (done: number, total: number) => void): Promise<{ metadata: ObjectMetadata; files: DownloadedFile[] }> {
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
    const [a, b] = await Promise.all([sha256OfFile(file.abs), sha256OfFile(target)]);
    return a === b ? a : undefined;
  }

  /** Validates the object and lists its payload files, refusing any path that leaves its folder. */
  private async locate(objectId: string): Promise<{ metadata: ObjectMetadata; files: LocatedFile[] }> {
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
    const metadata = await readMetadata(objectId, realDir);
    if (typeof metadata === 'string') throw fail(objectId, metadata, 'InvalidObjectMetadata');

    const files: LocatedFile[] = [];
    const visited = new Set<string>([realDir]);
    const visit = async (absDir: string, relDir: string): Promise<void> => {
      const entries = (await fsp.readdir(absDir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const entry of entries) {
        const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
        if (rel === METADATA_FILE) continue;
        const abs = path.join(absDir, entry.name);
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
    createReadStream(file.abs),
    to,
    ({ bytes }) => {
      // The source changed under us: retryable, a later attempt sees its new state.
      if (bytes !== file.size) throw new Error(`object "${objectId}": "${file.path}" changed while being copied (${bytes} bytes read, ${file.size} expected)`);
    },
    onBytes,
  );
  return sha256;
}

export function folderSource(rootDir: string): ObjectSource {
  return new FolderSource(rootDir);
}
