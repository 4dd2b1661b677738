// Checksums computed on worker threads, so hashing runs on the second core while the main
// thread's I/O (reads and tar writes in libuv's pool) runs on the first. Chunks live in a
// SharedArrayBuffer split into slots: the reader fills a slot once and every hasher and the tar
// writer read that same memory, so no chunk is copied to reach a thread, and memory stays at
// slotCount × slotSize however large the object is.
//
// The worker is a string of plain JavaScript run with `eval: true`, not a file: a Worker given a
// .ts file does not load TypeScript on its own, and a sibling .js file would have to be found
// on disk (and copied by any build). An eval worker needs neither, so it loads the same way
// under tsx, mocha, a Temporal worker process or compiled JavaScript. `execArgv: []` keeps the
// parent's loader flags (tsx's --require/--import) out of it: it needs only node:crypto.
import crypto from 'node:crypto';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ChecksumAlgorithm } from '../common/sip';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const crypto = require('node:crypto');
const { sab, slotSize } = workerData;
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'open') {
    hashes.set(m.id, crypto.createHash(m.alg));
  } else if (m.op === 'slot') {
    const view = new Uint8Array(sab, m.slot * slotSize, m.len);
    for (const id of m.ids) hashes.get(id).update(view);
    parentPort.postMessage({ op: 'released', slot: m.slot });
  } else if (m.op === 'bytes') {
    for (const id of m.ids) hashes.get(id).update(m.data);
  } else if (m.op === 'close') {
    const h = hashes.get(m.id);
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex') });
  }
});
`;

type HashAlgorithm = ChecksumAlgorithm;

/** Relative CPU cost per byte (measured with Node's OpenSSL on x86-64 with SHA extensions). */
const COST: Record<HashAlgorithm, number> = { sha256: 1, sha512: 2.2, md5: 2.3 };

type WorkerMessage = { op: 'released'; slot: number } | { op: 'digest'; id: number; hex: string };

/** A running checksum whose bytes are hashed on one of the pool's workers. */
export interface HashStream {
  readonly id: number;
  readonly worker: number;
}

export interface Slot {
  readonly index: number;
  /** The slot's whole memory; fill it, then pass the filled length to the pool. */
  readonly buffer: Buffer;
}

export class HashPool {
  readonly slotSize: number;
  private readonly sab: SharedArrayBuffer;
  private readonly workers: Worker[];
  /** With no workers (a small object: starting threads would cost more than its hashing), the hashes run here. */
  private readonly inline = new Map<number, crypto.Hash>();
  private readonly slots: Slot[];
  private readonly refs: number[];
  private readonly free: number[];
  private readonly slotWaiters: Array<(slot: Slot) => void> = [];
  private readonly digests = new Map<number, { resolve: (hex: string) => void }>();
  private nextId = 1;
  private failure: Error | undefined;
  private readonly failureWaiters = new Set<(e: Error) => void>();

  constructor({ slotSize = 1 << 20, slotCount = 16, workers = defaultWorkerCount() } = {}) {
    this.slotSize = slotSize;
    this.sab = new SharedArrayBuffer(slotSize * slotCount);
    this.slots = Array.from({ length: slotCount }, (_, index) => ({
      index,
      buffer: Buffer.from(this.sab, index * slotSize, slotSize),
    }));
    this.refs = new Array<number>(slotCount).fill(0);
    this.free = this.slots.map((s) => s.index).reverse();
    this.workers = Array.from({ length: workers }, () => {
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { sab: this.sab, slotSize } });
      w.on('message', (m: WorkerMessage) => this.onMessage(m));
      w.on('error', (e) => this.fail(e));
      w.on('exit', (code) => {
        if (code !== 0) this.fail(new Error(`hash worker exited with code ${code}`));
      });
      return w;
    });
  }

  /**
   * Spreads checksum jobs over the workers so each carries about the same CPU cost; `extra`
   * jobs (e.g. the tar's own sha256) are placed together with them.
   */
  plan(algorithms: HashAlgorithm[], extra: HashAlgorithm[] = []): { payload: Map<HashAlgorithm, number>; extra: number[] } {
    const load = new Array<number>(Math.max(1, this.workers.length)).fill(0);
    const jobs = [...algorithms.map((alg) => ({ alg, kind: 'payload' as const, i: 0 })), ...extra.map((alg, i) => ({ alg, kind: 'extra' as const, i }))].sort(
      (a, b) => COST[b.alg] - COST[a.alg],
    );
    const payload = new Map<HashAlgorithm, number>();
    const extraWorkers = new Array<number>(extra.length).fill(0);
    for (const job of jobs) {
      const w = load.indexOf(Math.min(...load));
      load[w] += COST[job.alg];
      if (job.kind === 'payload') payload.set(job.alg, w);
      else extraWorkers[job.i] = w;
    }
    return { payload, extra: extraWorkers };
  }

  open(alg: HashAlgorithm, worker: number): HashStream {
    const id = this.nextId++;
    if (this.workers.length === 0) this.inline.set(id, crypto.createHash(alg));
    else this.workers[worker].postMessage({ op: 'open', id, alg });
    return { id, worker };
  }

  /** Waits for a free slot (this is the back-pressure that bounds memory). */
  async acquire(): Promise<Slot> {
    this.throwIfFailed();
    const index = this.free.pop();
    if (index !== undefined) {
      this.refs[index] = 1;
      return this.slots[index];
    }
    return new Promise<Slot>((resolve, reject) => {
      const onFail = (e: Error) => reject(e);
      this.failureWaiters.add(onFail);
      this.slotWaiters.push((slot) => {
        this.failureWaiters.delete(onFail);
        resolve(slot);
      });
    });
  }

  /** Takes one more reference on a slot; it is reused only once every holder released it. */
  retain(slot: Slot): void {
    this.refs[slot.index]++;
  }

  release(slot: Slot | number): void {
    const index = typeof slot === 'number' ? slot : slot.index;
    if (--this.refs[index] > 0) return;
    const waiter = this.slotWaiters.shift();
    if (waiter) {
      this.refs[index] = 1;
      waiter(this.slots[index]);
    } else {
      this.free.push(index);
    }
  }

  /** Hashes the first `length` bytes of a slot into the streams; the slot is retained until each worker is done. */
  updateSlot(streams: HashStream[], slot: Slot, length: number): void {
    if (this.workers.length === 0) return this.updateBytes(streams, slot.buffer.subarray(0, length));
    for (const [worker, ids] of byWorker(streams)) {
      this.retain(slot);
      this.workers[worker].postMessage({ op: 'slot', ids, slot: slot.index, len: length });
    }
  }

  /** Hashes a small buffer (a tar header, a tag file); it is copied to the worker. */
  updateBytes(streams: HashStream[], data: Uint8Array): void {
    if (this.workers.length === 0) {
      for (const s of streams) this.inline.get(s.id)!.update(data);
      return;
    }
    for (const [worker, ids] of byWorker(streams)) this.workers[worker].postMessage({ op: 'bytes', ids, data });
  }

  digest(stream: HashStream): Promise<string> {
    this.throwIfFailed();
    const hash = this.inline.get(stream.id);
    if (hash) {
      this.inline.delete(stream.id);
      return Promise.resolve(hash.digest('hex'));
    }
    return new Promise<string>((resolve, reject) => {
      const onFail = (e: Error) => reject(e);
      this.failureWaiters.add(onFail);
      this.digests.set(stream.id, {
        resolve: (hex) => {
          this.failureWaiters.delete(onFail);
          resolve(hex);
        },
      });
      this.workers[stream.worker].postMessage({ op: 'close', id: stream.id });
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('hash pool closed');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private onMessage(m: WorkerMessage): void {
    if (m.op === 'released') {
      this.release(m.slot);
    } else {
      const pending = this.digests.get(m.id);
      this.digests.delete(m.id);
      pending?.resolve(m.hex);
    }
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    for (const reject of this.failureWaiters) reject(e);
    this.failureWaiters.clear();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }
}

function byWorker(streams: HashStream[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const s of streams) {
    const ids = out.get(s.worker);
    if (ids) ids.push(s.id);
    else out.set(s.worker, [s.id]);
  }
  return out;
}

/** Two hashing threads on a 2-core machine; more cores allow one thread per checksum. */
function defaultWorkerCount(): number {
  return Math.max(1, Math.min(3, os.availableParallelism()));
}
