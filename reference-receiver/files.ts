// The receiver's files: each under its name in `<data>/files/`, written through a partial file
// renamed into place, with a record of its size and digest (and, for a compressed file, those of
// the file before compression as the sender said) in `<data>/info/<name>.json`. The record is
// trusted only while the file's size and modification time are those it was written with; a
// file changed behind the receiver's back is hashed again, so file_info always says what is there.
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { sha256OfFile, writeFileVerified } from '../storage/digest';

export interface FileInfo {
  name: string;
  size: number;
  sha256: string;
  /** The file before compression, as the sender declared it (X-Original-Sha256, X-Original-Size). */
  original?: { size: number; sha256: string };
}

interface InfoRecord extends FileInfo {
  mtimeMs: number;
}

/** The body did not match the digest the sender declared. */
export class BodyMismatch extends Error {}

const isMissing = (e: unknown) => ['ENOENT', 'ENOTDIR', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '');

export class ReceivedFiles {
  private readonly filesDir: string;
  private readonly infoDir: string;

  constructor(dataDir: string) {
    this.filesDir = path.join(dataDir, 'files');
    this.infoDir = path.join(dataDir, 'info');
    fs.mkdirSync(this.filesDir, { recursive: true });
    fs.mkdirSync(this.infoDir, { recursive: true });
  }

  /** `name` has been checked (common/destinations.ts destinationPathProblem): it stays under the folder. */
  private fileOf(name: string): string {
    return path.join(this.filesDir, ...name.split('/'));
  }

  private infoOf(name: string): string {
    return `${path.join(this.infoDir, ...name.split('/'))}.json`;
  }

  /**
   * Stores the body under `name`, replacing what was there. With `contentSha256` a body that does
   * not match is refused (BodyMismatch) and nothing changes. `corrupt` (the fault switch) flips a
   * byte after the check, as a failing disk would: the record then tells the truth about it.
   */
  async put(name: string, body: Readable, opts: { contentSha256?: string; original?: FileInfo['original']; corrupt?: boolean }): Promise<FileInfo> {
    const file = this.fileOf(name);
    const got = await writeFileVerified(body, file, async (received, partial) => {
      if (opts.contentSha256 !== undefined && received.sha256 !== opts.contentSha256)
        throw new BodyMismatch(`the body (${received.bytes} bytes, sha256 ${received.sha256}) does not match X-Content-Sha256 ${opts.contentSha256}`);
      if (opts.corrupt) await corrupt(partial, received.bytes);
    });
    const st = await fsp.stat(file);
    const info: FileInfo = {
      name,
      size: st.size,
      sha256: opts.corrupt ? await sha256OfFile(file) : got.sha256,
      ...(opts.original ? { original: opts.original } : {}),
    };
    await writeAtomically(this.infoOf(name), JSON.stringify({ ...info, mtimeMs: st.mtimeMs } satisfies InfoRecord));
    return info;
  }

  async info(name: string): Promise<FileInfo | undefined> {
    let st: fs.Stats;
    try {
      st = await fsp.stat(this.fileOf(name));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
    if (!st.isFile()) return undefined;
    let record: InfoRecord | undefined;
    try {
      record = JSON.parse(await fsp.readFile(this.infoOf(name), 'utf8')) as InfoRecord;
    } catch (e) {
      if (!isMissing(e) && !(e instanceof SyntaxError)) throw e;
    }
    if (record && record.size === st.size && record.mtimeMs === st.mtimeMs) {
      return { name: record.name, size: record.size, sha256: record.sha256, ...(record.original ? { original: record.original } : {}) };
    }
    // Changed since it was received (or received before a crash wrote its record): what it holds now, no claim about an original.
    return { name, size: st.size, sha256: await sha256OfFile(this.fileOf(name)) };
  }

  /** True when there was a file. */
  async remove(name: string): Promise<boolean> {
    await fsp.rm(this.infoOf(name), { force: true });
    try {
      await fsp.rm(this.fileOf(name));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw e;
    }
  }
}

async function corrupt(file: string, size: number): Promise<void> {
  const handle = await fsp.open(file, 'r+');
  try {
    const at = Math.floor(size / 2);
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, at);
    byte[0] ^= 0xff;
    await handle.write(byte, 0, 1, at);
  } finally {
    await handle.close();
  }
}

async function writeAtomically(file: string, text: string): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
  await fsp.writeFile(tmp, text);
  await fsp.rename(tmp, file);
}
