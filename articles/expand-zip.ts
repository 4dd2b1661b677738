// Safe expansion of an article package. A zip comes from outside (a publisher's production
// system, an upload), so every entry is judged from the central directory before anything is
// written, and the sizes the directory declares are enforced again while streaming because
// they can lie. Files are written only below the target folder, never over anything, never
// as links, and never with the modes the zip carries.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import yauzl from 'yauzl';

export interface ExpandLimits {
  /** Entries of any kind in the central directory (checked before reading them). */
  maxEntries: number;
  /** Files written (directories and skipped entries do not count). */
  maxFiles: number;
  /** Uncompressed bytes written in all, by the declared sizes and again while streaming. */
  maxTotalBytes: number;
  /** Declared uncompressed ÷ compressed size of one entry… */
  maxCompressionRatio: number;
  /** …for entries at least this large: small text files compress far better than any limit worth setting. */
  ratioMinBytes: number;
}

// An eLife package holds the XML, a PDF and up to a few hundred figures, videos and source-data
// files; the largest run to a few GB with videos. The limits leave room for that and stop bombs.
export const DEFAULT_EXPAND_LIMITS: Readonly<ExpandLimits> = Object.freeze({
  maxEntries: 10_000,
  maxFiles: 2_000,
  maxTotalBytes: 20 * 1024 ** 3,
  maxCompressionRatio: 100,
  ratioMinBytes: 1024 * 1024,
});

export interface ExpandOptions extends Partial<ExpandLimits> {
  /** Called as bytes are written (for activity heartbeats). */
  onProgress?: (progress: { files: number; bytes: number }) => void;
  /** Stops the expansion between chunks; what was written is removed. */
  signal?: AbortSignal;
}

export interface ExpandedFile {
  /** Relative to the target, `/`-separated, NFC. */
  path: string;
  size: number;
  sha256: string;
}

export type SkipReason = 'directory' | 'macos-resource-fork' | 'macos-folder-settings';

export interface SkippedEntry {
  /** The entry name as the zip has it. */
  entry: string;
  reason: SkipReason;
}

export interface ExpandResult {
  target: string;
  files: ExpandedFile[];
  skipped: SkippedEntry[];
  totalBytes: number;
}

export type ZipRefusalKind =
  | 'not-a-zip'
  | 'corrupt'
  | 'target-not-empty'
  | 'too-many-entries'
  | 'too-many-files'
  | 'too-large'
  | 'compression-ratio'
  | 'size-mismatch'
  | 'overlapping-entries'
  | 'absolute-path'
  | 'path-traversal'
  | 'bad-name'
  | 'duplicate'
  | 'path-conflict'
  | 'symlink'
  | 'special-file'
  | 'encrypted'
  | 'unsupported-compression';

export interface ZipRefusal {
  kind: ZipRefusalKind;
  /** The entry name as the zip has it (control characters escaped); absent for the package as a whole. */
  entry?: string;
  message: string;
}

export class ZipRefused extends Error {
  override readonly name = 'ZipRefused';
  /** The kind of the first refusal; `refusals` has them all. */
  readonly kind: ZipRefusalKind;
  constructor(
    readonly zip: string,
    readonly refusals: ZipRefusal[],
  ) {
    const lines = refusals.map((r) => `  - ${r.entry !== undefined ? `entry ${r.entry}: ` : ''}${r.kind}: ${r.message}`);
    super(`Zip ${zip} refused (${refusals.length} problem${refusals.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.kind = refusals[0].kind;
  }
}

interface PlannedFile {
  entry: yauzl.Entry;
  shown: string;
  path: string;
}

interface Plan {
  files: PlannedFile[];
  skipped: SkippedEntry[];
  declaredBytes: number;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const FLAG_ENCRYPTED = 0x1;
const FLAG_STRONG_ENCRYPTION = 0x40;
// Most file systems stop at 255 bytes a name; finding it here beats ENAMETOOLONG half-way through.
const MAX_SEGMENT_BYTES = 255;

/** Expands `zipPath` into `target`, which must not exist or be an empty folder. */
export async function expandZip(zipPath: string, target: string, options: ExpandOptions = {}): Promise<ExpandResult> {
  const limits: ExpandLimits = { ...DEFAULT_EXPAND_LIMITS, ...definedOnly(options) };
  const zip = await openZip(zipPath);
  try {
    if (zip.entryCount > limits.maxEntries) {
      throw new ZipRefused(zipPath, [
        { kind: 'too-many-entries', message: `the central directory lists ${zip.entryCount} entries; the limit is ${limits.maxEntries}` },
      ]);
    }
    const plan = await planEntries(zipPath, zip, limits);
    const createdTarget = await prepareTarget(zipPath, target);
    const root = await fs.promises.realpath(target);
    try {
      const files = await writeFiles(zipPath, zip, plan, root, limits, options);
      return { target: root, files, skipped: plan.skipped, totalBytes: files.reduce((sum, f) => sum + f.size, 0) };
    } catch (err) {
      // The target was empty when we started, so everything in it is ours to take back.
      await emptyFolder(root, createdTarget);
      throw err;
    }
  } finally {
    zip.close();
  }
}

function definedOnly(options: ExpandOptions): Partial<ExpandLimits> {
  const out: Partial<ExpandLimits> = {};
  for (const key of Object.keys(DEFAULT_EXPAND_LIMITS) as (keyof ExpandLimits)[]) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false keeps yauzl from rejecting the whole zip at the first bad name, so
    // every bad name can be listed; the names are decoded and judged in planEntries.
    // validateEntrySizes: false because the sizes are checked here, with refusals of our own kinds.
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false }, (err, zip) => {
      if (err) {
        const kind: ZipRefusalKind = /end of central directory record signature not found/i.test(err.message) ? 'not-a-zip' : 'corrupt';
        reject(new ZipRefused(zipPath, [{ kind, message: err.message }]));
      } else resolve(zip);
    });
  });
}

function readAllEntries(zipPath: string, zip: yauzl.ZipFile): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', (err: Error) => {
      const kind: ZipRefusalKind = /strong encryption/.test(err.message) ? 'encrypted' : 'corrupt';
      reject(new ZipRefused(zipPath, [{ kind, entry: `#${entries.length + 1}`, message: err.message }]));
    });
    zip.readEntry();
  });
}

/** Judges every entry from the central directory; throws one refusal listing every bad entry. */
async function planEntries(zipPath: string, zip: yauzl.ZipFile, limits: ExpandLimits): Promise<Plan> {
  const entries = await readAllEntries(zipPath, zip);
  const refusals: ZipRefusal[] = [];
  const files: PlannedFile[] = [];
  const skipped: SkippedEntry[] = [];
  const filePaths = new Map<string, string>();
  const directories = new Map<string, string>();
  let declaredBytes = 0;

  for (const entry of entries) {
    const raw = entryName(entry);
    const shown = showName(raw);
    const refuse = (kind: ZipRefusalKind, message: string) => refusals.push({ kind, entry: shown, message });
    const before = refusals.length;

    const normalised = judgeName(raw, refuse);
    const mode = entry.externalFileAttributes >>> 16;
    const type = mode & S_IFMT;
    // The unix mode sits in the high half of the external attributes whatever the host byte
    // says; DOS-made zips leave it 0, so a link or device type there is meant.
    if (type === S_IFLNK) refuse('symlink', 'a symbolic link (unix mode in the external attributes)');
    else if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) refuse('special-file', `not a regular file (unix mode ${mode.toString(8)})`);
    if (entry.generalPurposeBitFlag & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION)) refuse('encrypted', 'encrypted');
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      refuse('unsupported-compression', `compression method ${entry.compressionMethod} (only stored and deflate are read)`);
    }
    if (refusals.length > before || normalised === undefined) continue;

    const isDirectory = raw.endsWith('/') || raw.endsWith('\\') || normalised === '' || type === S_IFDIR;
    if (isDirectory) {
      skipped.push({ entry: shown, reason: 'directory' });
      if (normalised !== '') noteDirectory(normalised, shown, directories, filePaths, refuse);
      continue;
    }
    const segments = normalised.split('/');
    if (segments[0] === '__MACOSX') {
      skipped.push({ entry: shown, reason: 'macos-resource-fork' });
      continue;
    }
    if (segments[segments.length - 1] === '.DS_Store') {
      skipped.push({ entry: shown, reason: 'macos-folder-settings' });
      continue;
    }

    if (entry.compressionMethod === 0 && entry.compressedSize !== entry.uncompressedSize) {
      refuse('size-mismatch', `stored without compression, yet declares ${entry.compressedSize} bytes compressed and ${entry.uncompressedSize} uncompressed`);
    }
    if (entry.uncompressedSize >= limits.ratioMinBytes) {
      const ratio = entry.uncompressedSize / Math.max(entry.compressedSize, 1);
      if (ratio > limits.maxCompressionRatio) {
        refuse(
          'compression-ratio',
          `expands ${entry.compressedSize} bytes to ${entry.uncompressedSize} (ratio ${Math.round(ratio)}, limit ${limits.maxCompressionRatio})`,
        );
      }
    }
    const first = filePaths.get(normalised);
    if (first !== undefined) {
      refuse('duplicate', `names the same file as entry ${first} (${JSON.stringify(normalised)} after normalising)`);
      continue;
    }
    const asDirectory = directories.get(normalised);
    if (asDirectory !== undefined) {
      refuse('path-conflict', `is a file where entry ${asDirectory} needs a folder`);
      continue;
    }
    filePaths.set(normalised, shown);
    for (let i = 1; i < segments.length; i++) noteDirectory(segments.slice(0, i).join('/'), shown, directories, filePaths, refuse);
    declaredBytes += entry.uncompressedSize;
    files.push({ entry, shown, path: normalised });
  }

  refusals.push(...overlaps(entries));
  if (files.length > limits.maxFiles) {
    refusals.push({ kind: 'too-many-files', message: `${files.length} files to write; the limit is ${limits.maxFiles}` });
  }
  if (declaredBytes > limits.maxTotalBytes) {
    refusals.push({ kind: 'too-large', message: `the entries declare ${declaredBytes} bytes uncompressed; the limit is ${limits.maxTotalBytes}` });
  }
  if (refusals.length > 0) throw new ZipRefused(zipPath, refusals);
  return { files, skipped, declaredBytes };
}

/**
 * Entries whose data overlap: the "better zip bomb" points many central directory entries at
 * one highly compressed kernel, so each entry looks modest and together they expand to terabytes.
 * An entry's data runs at least from its local header (30 bytes plus the name) through its
 * compressed size; no honest zip has another entry begin inside that.
 */
function overlaps(entries: yauzl.Entry[]): ZipRefusal[] {
  const spans = entries
    .map((entry) => ({
      entry,
      start: entry.relativeOffsetOfLocalHeader,
      end: entry.relativeOffsetOfLocalHeader + 30 + entry.fileNameLength + entry.compressedSize,
    }))
    .sort((a, b) => a.start - b.start);
  const refusals: ZipRefusal[] = [];
  for (let i = 1; i < spans.length; i++) {
    const before = spans[i - 1];
    if (spans[i].start < before.end) {
      refusals.push({
        kind: 'overlapping-entries',
        entry: showName(entryName(spans[i].entry)),
        message: `its data begin inside those of entry ${showName(entryName(before.entry))} (a zip bomb of overlapping entries, or a corrupt directory)`,
      });
    }
  }
  return refusals;
}

function entryName(entry: yauzl.Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, true);
}

function noteDirectory(
  dir: string,
  shown: string,
  directories: Map<string, string>,
  filePaths: Map<string, string>,
  refuse: (kind: ZipRefusalKind, message: string) => void,
) {
  const file = filePaths.get(dir);
  if (file !== undefined) refuse('path-conflict', `needs a folder ${JSON.stringify(dir)} where entry ${file} is a file`);
  else if (!directories.has(dir)) directories.set(dir, shown);
}

/**
 * The rules for a name: no absolute path (`/x`, `C:x`, `\\server\x`), no `..` segment (a
 * backslash counts as a separator here, since that is how Windows tools read it), no backslash
 * or control character otherwise, no segment longer than the file system takes. `./` prefixes,
 * `.` segments and doubled slashes are dropped, and the name is put in Unicode NFC, so that two
 * spellings of one path are found to be duplicates. Returns the normalised path ('' for the root).
 */
function judgeName(raw: string, refuse: (kind: ZipRefusalKind, message: string) => void): string | undefined {
  if (raw === '') {
    refuse('bad-name', 'empty name');
    return undefined;
  }
  if (/^[\\/]/.test(raw) || /^[A-Za-z]:/.test(raw)) {
    refuse('absolute-path', 'an absolute path (leading slash, backslash or drive letter)');
    return undefined;
  }
  if (raw.split(/[\\/]/).includes('..')) {
    refuse('path-traversal', "a '..' segment (would climb out of the target folder)");
    return undefined;
  }
  let bad = false;
  if (raw.includes('\\')) {
    refuse('bad-name', 'a backslash in the name (a separator on Windows, a character elsewhere)');
    bad = true;
  }
  if (/[\u0000-\u001f\u007f]/.test(raw)) {
    refuse('bad-name', 'control characters in the name');
    bad = true;
  }
  if (raw.includes('\ufffd')) {
    refuse('bad-name', 'the name is not valid UTF-8');
    bad = true;
  }
  const segments = raw
    .normalize('NFC')
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.');
  const long = segments.find((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES);
  if (long !== undefined) {
    refuse('bad-name', `a name segment of ${Buffer.byteLength(long)} bytes (limit ${MAX_SEGMENT_BYTES})`);
    bad = true;
  }
  return bad ? undefined : segments.join('/');
}

function showName(raw: string): string {
  return JSON.stringify(raw).replace(/[\u007f]/g, '\\u007f');
}

async function prepareTarget(zipPath: string, target: string): Promise<boolean> {
  const stat = await fs.promises.stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!stat) {
    await fs.promises.mkdir(target, { recursive: true });
    return true;
  }
  // A non-empty target could hold a symlink that a later entry would be written through.
  if (!stat.isDirectory() || (await fs.promises.readdir(target)).length > 0) {
    throw new ZipRefused(zipPath, [{ kind: 'target-not-empty', message: `target ${target} is not an empty folder; expand into a fresh one` }]);
  }
  return false;
}

async function emptyFolder(root: string, removeRoot: boolean): Promise<void> {
  if (removeRoot) {
    await fs.promises.rm(root, { recursive: true, force: true });
    return;
  }
  for (const name of await fs.promises.readdir(root)) await fs.promises.rm(path.join(root, name), { recursive: true, force: true });
}

async function writeFiles(
  zipPath: string,
  zip: yauzl.ZipFile,
  plan: Plan,
  root: string,
  limits: ExpandLimits,
  options: ExpandOptions,
): Promise<ExpandedFile[]> {
  const written: ExpandedFile[] = [];
  let totalBytes = 0;
  for (const file of plan.files) {
    options.signal?.throwIfAborted();
    const destination = path.resolve(root, ...file.path.split('/'));
    // judgeName already rules escapes out; this keeps a future change to it from writing outside.
    if (!destination.startsWith(root + path.sep))
      throw new ZipRefused(zipPath, [{ kind: 'path-traversal', entry: file.shown, message: 'resolves outside the target' }]);
    await fs.promises.mkdir(path.dirname(destination), { recursive: true });

    const refuse = (kind: ZipRefusalKind, message: string) => new ZipRefused(zipPath, [{ kind, entry: file.shown, message }]);
    const guard = new EntryGuard(file.entry.uncompressedSize, limits.maxTotalBytes - totalBytes, refuse, options, () => ({
      files: written.length,
      bytes: totalBytes,
    }));
    let source: NodeJS.ReadableStream;
    try {
      source = await zip.openReadStreamPromise(file.entry);
    } catch (err) {
      throw refuse('corrupt', (err as Error).message);
    }
    // 'wx' never replaces or follows anything already there: a second spelling of one name on a
    // case-insensitive file system fails here instead of overwriting the first.
    const sink = fs.createWriteStream(destination, { flags: 'wx', mode: 0o644 });
    try {
      await pipeline(source, guard, sink, { signal: options.signal });
    } catch (err) {
      if (err instanceof ZipRefused) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EEXIST') throw refuse('duplicate', 'a file of that name was already written (names equal on this file system)');
      // Our own file system's failures (a full disk) and cancellation are not the package's fault.
      if (e.syscall !== undefined || e.name === 'AbortError' || options.signal?.aborted) throw err;
      throw refuse('corrupt', e.message);
    }
    if (guard.bytes !== file.entry.uncompressedSize) {
      throw refuse('size-mismatch', `declares ${file.entry.uncompressedSize} bytes uncompressed but holds ${guard.bytes}`);
    }
    if (guard.crc !== file.entry.crc32) {
      throw refuse('corrupt', `CRC-32 ${hex(guard.crc)} does not match the declared ${hex(file.entry.crc32)}`);
    }
    totalBytes += guard.bytes;
    written.push({ path: file.path, size: guard.bytes, sha256: guard.sha256() });
  }
  options.onProgress?.({ files: written.length, bytes: totalBytes });
  return written;
}

const hex = (n: number) => n.toString(16).padStart(8, '0');

/** Counts, hashes and checks one entry's bytes as they stream through. */
class EntryGuard extends Transform {
  bytes = 0;
  crc = 0;
  private readonly hash = createHash('sha256');
  constructor(
    private readonly declared: number,
    private readonly budget: number,
    private readonly refuse: (kind: ZipRefusalKind, message: string) => ZipRefused,
    private readonly options: ExpandOptions,
    private readonly progress: () => { files: number; bytes: number },
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    // The declared size bounds what the inflater may produce: a directory that lies about it
    // is caught at the first byte past the declaration, not after the disk is full.
    if (this.bytes > this.declared) {
      callback(this.refuse('size-mismatch', `declares ${this.declared} bytes uncompressed but holds more (at least ${this.bytes})`));
      return;
    }
    if (this.bytes > this.budget) {
      callback(this.refuse('too-large', 'more uncompressed bytes than the total limit allows'));
      return;
    }
    this.hash.update(chunk);
    this.crc = zlib.crc32(chunk, this.crc);
    const { files, bytes } = this.progress();
    this.options.onProgress?.({ files, bytes: bytes + this.bytes });
    callback(null, chunk);
  }
  sha256(): string {
    return this.hash.digest('hex');
  }
}
