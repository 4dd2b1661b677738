// Builds a SIP: one tar holding a BagIt bag (RFC 8493) whose payload is the object's files and
// its METS document, in one streaming pass. Each payload file is read once, in slots of a
// shared buffer; the same bytes are hashed on worker threads (hash-pool.ts) and written to the
// tar, whose own sha256 is computed as it is written. Memory is the slot pool, whatever the size.
//
// Tar order: bagit.txt, the payload, data/mets.xml, then bag-info.txt and the manifests, which
// need the payload's checksums. BagIt does not care about order inside the tar, and a reader
// that streams the tar still meets bagit.txt first.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { PermanentError } from '../common/errors';
import { pack as createPack, type Header } from 'tar-stream';
import type { ObjectMetadata, SourceFile } from '../common/object-metadata';
import type { ChecksumAlgorithm, PackagedFile, SipBuildResult } from '../common/sip';
import { BAGIT_TXT, bagInfo, manifest } from './bag-files';
import { HashPool, type HashStream, type Slot } from './hash-pool';
import { identifyFormat } from './identify-format';
import { buildMets } from './mets';
import { resolvePayloadFile } from './payload-paths';

export interface BuildSipOptions {
  /** e.g. 'obj-001.a1.3f2c9e1a'; the bag's top-level folder name in the tar. */
  sipId: string;
  objectId: string;
  /** Folder holding the object's payload files. */
  sourceDir: string;
  files: SourceFile[];
  metadata: ObjectMetadata;
  algorithms: ChecksumAlgorithm[];
  sourceOrganization: string;
  /** Named in the PREMIS agent and bag-info's Bag-Software-Agent. */
  agent: { name: string; version: string };
  /** Where to write the .tar (written beside it under a temporary name, then renamed). */
  outputPath: string;
  /** Bagging-Date and PREMIS event date: passed in so the same input gives the same bytes. */
  now: Date;
  /** Called after every chunk written; the activity heartbeats from it. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /**
   * fsync the tar before renaming it into place (default true). Only the benchmark turns it off,
   * to compare page-cache throughput with `tar cf`.
   */
  fsync?: boolean;
}

// The METS goes in the payload root (data/mets.xml), not beside the bag as a tag file: the
// national preservation service takes the METS from the payload root, and there it is covered by
// the payload manifests and Payload-Oxum like any other file it must preserve. It cannot list its
// own checksum, so its fixity lives only in the manifests.
const METS_PATH = 'mets.xml';
const FILE_MODE = 0o644;
const HASH_ON_THREADS_ABOVE = 4 << 20;
const DIR_MODE = 0o755;

export async function buildSip(opts: BuildSipOptions): Promise<SipBuildResult> {
  checkOptions(opts);
  const { sipId, now } = opts;
  const algorithms = [...new Set(opts.algorithms)];
  const realSourceDir = await fs.realpath(opts.sourceDir).catch((e: NodeJS.ErrnoException) => {
    throw new Error(`sourceDir ${opts.sourceDir} cannot be read: ${e.message}`);
  });
  // Every path is checked before a byte is written: an unsafe listing leaves no output behind.
  const files = [...opts.files].sort((a, b) => compare(a.path, b.path));
  const realPaths = await Promise.all(files.map((f) => resolvePayloadFile(realSourceDir, f.path)));
  checkNoConflicts(files);
  const bytesTotal = files.reduce((n, f) => n + f.size, 0);

  const tmpPath = `${opts.outputPath}.${process.pid}.partial`;
  const out = await fs.open(tmpPath, 'w');
  // 16 slots of 1 MiB measured fastest on the benchmark (bench/sip-bench.ts); smaller slots cost
  // more messages per byte, fewer slots stall the reader behind the slower hasher. Starting the
  // hash threads takes ~50 ms, more than hashing a few MiB here: a small object has none.
  const pool = new HashPool({ slotSize: 1 << 20, slotCount: 16, workers: bytesTotal <= HASH_ON_THREADS_ABOVE ? 0 : undefined });
  let ok = false;
  try {
    const plan = pool.plan(algorithms, ['sha256']);
    const tarHash = pool.open('sha256', plan.extra[0]);
    const tar = new TarWriter(out, pool, tarHash, (done) => opts.onProgress?.(Math.min(done, bytesTotal), bytesTotal));
    // Fixed owner, mode and mtime: the same input gives the same tar bytes.
    const header = (name: string, h: Partial<Header>) => ({ name: `${sipId}/${name}`, mode: FILE_MODE, mtime: now, uname: '', gname: '', ...h });
    const entry = (name: string, h: Partial<Header>) => tar.pack.entry(header(name, h));
    const smallFile = (name: string, data: Buffer) => tar.pack.entry(header(name, { size: data.length }), data);
    const dirsDone = new Set<string>();
    const directory = (dir: string) => {
      for (let i = 0, parts = dir.split('/'); i < parts.length; i++) {
        const d = parts.slice(0, i + 1).join('/');
        if (!dirsDone.has(d)) {
          dirsDone.add(d);
          entry(`${d}/`, { type: 'directory', mode: DIR_MODE });
        }
      }
    };
    tar.pack.entry({ ...header('', { type: 'directory', mode: DIR_MODE }) });
    smallFile('bagit.txt', BAGIT_TXT);
    directory('data');

    const packaged: Array<Promise<PackagedFile>> = [];
    for (let i = 0; i < files.length; i++) {
      const file = files[i];
      const slash = file.path.lastIndexOf('/');
      if (slash > 0) directory(`data/${file.path.slice(0, slash)}`);
      const sink = entry(`data/${file.path}`, { size: file.size });
      const streams = algorithms.map((alg) => pool.open(alg, plan.payload.get(alg)!));
      const format = await copyFile(realPaths[i], file, pool, streams, tar, (chunk) => sink.write(chunk));
      sink.end(null);
      packaged.push(
        Promise.all(streams.map((s) => pool.digest(s))).then((hex) => ({
          path: file.path,
          size: file.size,
          checksums: Object.fromEntries(algorithms.map((alg, k) => [alg, hex[k]])),
          ...format,
        })),
      );
    }
    const payload = await Promise.all(packaged);

    const mets = buildMets({ ...opts, algorithms, files: payload });
    smallFile(`data/${METS_PATH}`, mets);
    const metsFile: PackagedFile = {
      path: METS_PATH,
      size: mets.length,
      checksums: Object.fromEntries(algorithms.map((alg) => [alg, digest(alg, mets)])),
      mimeType: 'application/xml',
      formatName: 'METS',
    };
    const all = [...payload, metsFile];
    const payloadBytes = bytesTotal + mets.length;

    const tagFiles: Array<[string, Buffer]> = [['bagit.txt', BAGIT_TXT]];
    const addTagFile = (name: string, data: Buffer) => {
      smallFile(name, data);
      tagFiles.push([name, data]);
    };
    addTagFile(
      'bag-info.txt',
      bagInfo({
        sourceOrganization: opts.sourceOrganization,
        externalIdentifier: opts.objectId,
        externalDescription: opts.metadata.title,
        internalSenderIdentifier: sipId,
        baggingDate: now,
        payloadBytes,
        payloadFiles: all.length,
        softwareAgent: `${opts.agent.name} ${opts.agent.version}`,
      }),
    );
    for (const alg of algorithms) {
      addTagFile(`manifest-${alg}.txt`, manifest(all.map((f) => ({ path: `data/${f.path}`, checksum: f.checksums[alg]! }))));
    }
    for (const alg of algorithms) {
      const tagManifest = manifest(tagFiles.map(([name, data]) => ({ path: name, checksum: digest(alg, data) })));
      smallFile(`tagmanifest-${alg}.txt`, tagManifest);
    }

    const tarSize = await tar.finish();
    const tarSha256 = await pool.digest(tarHash);
    // The tar must be on disk before the caller records it as built (a crash after that
    // point must not leave a truncated tar behind a "done" marker).
    if (opts.fsync !== false) await out.sync();
    await out.close();
    await fs.rename(tmpPath, opts.outputPath);
    ok = true;
    return {
      sipId,
      tarPath: opts.outputPath,
      tarSize,
      tarSha256,
      payloadBytes,
      payloadFiles: all.length,
      files: all,
    };
  } finally {
    await pool.close();
    if (!ok) {
      await out.close().catch(() => undefined);
      await fs.rm(tmpPath, { force: true });
    }
  }
}

/**
 * Copies one payload file into its tar entry slot by slot; the first slot also identifies the
 * format, so nothing is read twice.
 */
async function copyFile(realPath: string, file: SourceFile, pool: HashPool, streams: HashStream[], tar: TarWriter, write: (chunk: Buffer) => void) {
  const input = await fs.open(realPath, 'r');
  try {
    const { size } = await input.stat();
    if (size !== file.size) {
      throw new PermanentError(
        `payload file ${JSON.stringify(file.path)} is ${size} bytes but the listing says ${file.size}: it changed after download`,
        'PayloadSizeMismatch',
      );
    }
    let format = identifyFormat(new Uint8Array(0), file.path);
    for (let pos = 0; pos < file.size;) {
      const slot = await pool.acquire();
      let n: number;
      try {
        ({ bytesRead: n } = await input.read(slot.buffer, 0, Math.min(pool.slotSize, file.size - pos), pos));
        if (n === 0) throw new Error(`payload file ${JSON.stringify(file.path)} ended at ${pos} bytes, before its listed ${file.size}`);
      } catch (e) {
        pool.release(slot);
        throw e;
      }
      if (pos === 0) format = identifyFormat(slot.buffer.subarray(0, n), file.path);
      pool.updateSlot(streams, slot, n);
      write(tar.track(slot, n));
      pos += n;
    }
    return format;
  } finally {
    await input.close();
  }
}

/**
 * Takes tar-stream's output (headers, the very slot buffers written into entries, padding) and
 * writes it to the file in order, feeding the tar's sha256 and releasing slots once written.
 * Small pieces queued together go out in one writev, so headers cost no extra round trip.
 */
class TarWriter {
  readonly pack = createPack();
  private readonly queue: Buffer[] = [];
  private readonly slotOf = new Map<Buffer, Slot>();
  private written = 0;
  private payloadWritten = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private readonly done: Promise<number>;

  constructor(
    private readonly out: fs.FileHandle,
    private readonly pool: HashPool,
    private readonly hash: HashStream,
    private readonly onProgress: (payloadBytes: number) => void,
  ) {
    this.pack.on('data', (chunk) => {
      this.queue.push(chunk as Buffer);
      this.poke();
    });
    this.pack.on('end', () => {
      this.ended = true;
      this.poke();
    });
    this.pack.on('error', (e: Error) => {
      this.error ??= e;
      this.poke();
    });
    this.done = this.run();
    // finish() reports the failure; this only keeps an early one from being "unhandled".
    this.done.catch(() => undefined);
  }

  /** The chunk to write into an entry for the first n bytes of a slot, remembered as that slot. */
  track(slot: Slot, n: number): Buffer {
    const chunk = slot.buffer.subarray(0, n);
    this.slotOf.set(chunk, slot);
    return chunk;
  }

  /** Ends the tar and resolves with its size once every byte is written. */
  async finish(): Promise<number> {
    this.pack.finalize();
    return this.done;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async run(): Promise<number> {
    for (;;) {
      if (this.error) throw this.error;
      if (this.queue.length === 0) {
        if (this.ended) return this.written;
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const batch = this.queue.splice(0, this.queue.length);
      for (const chunk of batch) {
        const slot = this.slotOf.get(chunk);
        if (slot) this.pool.updateSlot([this.hash], slot, chunk.length);
        else this.pool.updateBytes([this.hash], chunk);
      }
      let n = 0;
      try {
        while (n < batch.reduce((s, b) => s + b.length, 0)) {
          const { bytesWritten } = await this.out.writev(unwritten(batch, n));
          n += bytesWritten;
        }
      } finally {
        for (const chunk of batch) {
          const slot = this.slotOf.get(chunk);
          if (!slot) continue;
          this.slotOf.delete(chunk);
          this.pool.release(slot);
          this.payloadWritten += chunk.length;
        }
      }
      this.written += n;
      this.onProgress(this.payloadWritten);
    }
  }
}

/** The part of a batch not yet written after a short writev. */
function unwritten(batch: Buffer[], skip: number): Buffer[] {
  if (skip === 0) return batch;
  const rest: Buffer[] = [];
  for (const b of batch) {
    if (skip >= b.length) skip -= b.length;
    else {
      rest.push(skip ? b.subarray(skip) : b);
      skip = 0;
    }
  }
  return rest;
}

function digest(alg: ChecksumAlgorithm, data: Buffer): string {
  return crypto.createHash(alg).update(data).digest('hex');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkOptions(opts: BuildSipOptions): void {
  const bad = (what: string) => new PermanentError(`buildSip: ${what}`, 'InvalidSipOptions');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.sipId)) throw bad(`sipId ${JSON.stringify(opts.sipId)} must be letters, digits, '.', '_' or '-'`);
  if (opts.algorithms.length === 0) throw bad('algorithms is empty: a bag needs at least one manifest');
  for (const alg of opts.algorithms) if (!['md5', 'sha256', 'sha512'].includes(alg)) throw bad(`unknown algorithm ${JSON.stringify(alg)}`);
  for (const f of opts.files) {
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw bad(`file ${JSON.stringify(f.path)} has an invalid size ${f.size}`);
  }
  if (Number.isNaN(opts.now.getTime())) throw bad('now is an invalid date');
}

function checkNoConflicts(files: SourceFile[]): void {
  const conflict = (what: string) => new PermanentError(what, 'PayloadPathConflict');
  for (let i = 1; i < files.length; i++) {
    if (files[i].path === files[i - 1].path) throw conflict(`payload file ${JSON.stringify(files[i].path)} is listed twice`);
  }
  if (files.some((f) => f.path === METS_PATH)) {
    throw conflict(`payload file ${JSON.stringify(METS_PATH)} collides with the SIP's METS document at data/${METS_PATH}`);
  }
  // A file and a folder of the same name cannot both exist in a tar that extracts cleanly.
  const paths = new Set(files.map((f) => f.path));
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (paths.has(dir)) throw conflict(`payload path ${JSON.stringify(dir)} is both a file and a folder`);
    }
  }
}
