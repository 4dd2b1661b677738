// Zips for the articles tests: built with yazl, then edited byte by byte where yazl refuses to
// write what a hostile package holds (a `../` name, a symlink's mode, the encrypted flag, sizes
// that lie). The edits touch the central directory and the local header alike, as a forger would.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';

export const ELIFE_FIXTURE = path.resolve(__dirname, '../../../shared/fixtures/elife/elife-00353-vor-v1-20121213000000.zip');

export interface ZipEntrySpec {
  name: string;
  data?: Buffer | string;
  directory?: boolean;
  mode?: number;
  compress?: boolean;
}

const MTIME = new Date('2024-01-02T03:04:05Z');

export function buildZip(entries: ZipEntrySpec[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.directory) zip.addEmptyDirectory(e.name, { mtime: MTIME });
    else {
      const data = typeof e.data === 'string' ? Buffer.from(e.data) : (e.data ?? Buffer.alloc(0));
      zip.addBuffer(data, e.name, { mtime: MTIME, compress: e.compress ?? true, ...(e.mode !== undefined ? { mode: e.mode } : {}) });
    }
  }
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

export interface RawEntry {
  index: number;
  name: string;
  /** Offset of the central directory header. */
  central: number;
  /** Offset of the local file header. */
  local: number;
}

export function rawEntries(zip: Buffer): RawEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: RawEntry[] = [];
  for (let index = 0; index < count; index++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`no central directory header at ${at}`);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    entries.push({ index, name: zip.subarray(at + 46, at + 46 + nameLength).toString('utf8'), central: at, local: zip.readUInt32LE(at + 42) });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

export interface EntryPatch {
  /** Same byte length as the old name: the headers keep their lengths. */
  name?: string | Buffer;
  orFlags?: number;
  clearFlags?: number;
  externalAttributes?: number;
  uncompressedSize?: number;
  compressedSize?: number;
  crc32?: number;
  compressionMethod?: number;
  /** Central directory only: where the entry's local header (and so its data) is said to be. */
  localHeaderOffset?: number;
}

/** A copy of `zip` with the entry named `name` edited in both its headers. */
export function patchEntry(zip: Buffer, name: string, patch: EntryPatch): Buffer {
  const out = Buffer.from(zip);
  const entry = rawEntries(out).find((e) => e.name === name);
  if (!entry) throw new Error(`no entry ${name}`);
  const { central: c, local: l } = entry;
  if (patch.name !== undefined) {
    const bytes = typeof patch.name === 'string' ? Buffer.from(patch.name) : patch.name;
    if (bytes.length !== out.readUInt16LE(c + 28)) throw new Error(`new name ${JSON.stringify(patch.name)} must be as long as ${JSON.stringify(name)}`);
    bytes.copy(out, c + 46);
    bytes.copy(out, l + 30);
  }
  if (patch.orFlags !== undefined || patch.clearFlags !== undefined) {
    for (const at of [c + 8, l + 6]) out.writeUInt16LE((out.readUInt16LE(at) | (patch.orFlags ?? 0)) & ~(patch.clearFlags ?? 0) & 0xffff, at);
  }
  if (patch.compressionMethod !== undefined) {
    out.writeUInt16LE(patch.compressionMethod, c + 10);
    out.writeUInt16LE(patch.compressionMethod, l + 8);
  }
  if (patch.localHeaderOffset !== undefined) out.writeUInt32LE(patch.localHeaderOffset, c + 42);
  if (patch.externalAttributes !== undefined) out.writeUInt32LE(patch.externalAttributes >>> 0, c + 38);
  if (patch.crc32 !== undefined) {
    out.writeUInt32LE(patch.crc32 >>> 0, c + 16);
    out.writeUInt32LE(patch.crc32 >>> 0, l + 14);
  }
  if (patch.compressedSize !== undefined) {
    out.writeUInt32LE(patch.compressedSize, c + 20);
    out.writeUInt32LE(patch.compressedSize, l + 18);
  }
  if (patch.uncompressedSize !== undefined) {
    out.writeUInt32LE(patch.uncompressedSize, c + 24);
    out.writeUInt32LE(patch.uncompressedSize, l + 22);
  }
  return out;
}

export function declaredSizes(zip: Buffer, name: string): { compressed: number; uncompressed: number } {
  const entry = rawEntries(zip).find((e) => e.name === name);
  if (!entry) throw new Error(`no entry ${name}`);
  return { compressed: zip.readUInt32LE(entry.central + 20), uncompressed: zip.readUInt32LE(entry.central + 24) };
}

/** A fresh folder for one test; the expansion target is a folder inside it, so anything written beside the target shows. */
export function sandbox(prefix = 'custody-articles-'): { root: string; target: string; zip: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  sandboxes.push(root);
  return { root, target: path.join(root, 'out'), zip: path.join(root, 'in', 'package.zip') };
}

export function writeZip(file: string, bytes: Buffer): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
  return file;
}

const sandboxes: string[] = [];

/** Removes every sandbox made so far (an `after` hook of each test file). */
export function removeSandboxes(): void {
  for (const root of sandboxes.splice(0)) fs.rmSync(root, { recursive: true, force: true });
}

/** Every path below `dir` (files, folders, links), relative, sorted. */
export function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }) as string[]).map((p) => p.split(path.sep).join('/')).sort();
}
