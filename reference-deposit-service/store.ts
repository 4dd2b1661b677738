// The deposit service's memory: one JSON file per deposition under `<dataDir>/depositions`,
// replaced atomically (temp file, fsync, rename, fsync of the folder) so a crash leaves the old
// or the new state, never half of one; each file's bytes live under `<dataDir>/buckets/<bucket>/`
// named by the file's id, so a filename never becomes a path. Changes to one deposition run one
// at a time per concept (every version of one dataset), so a new version and a publish of its
// sibling never interleave.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { KeyedQueue } from '../reference-service/keyed-queue';

const storedFileSchema = z.object({
  id: z.string(),
  key: z.string(),
  size: z.number().int().min(0),
  md5: z.string(),
  mimetype: z.string(),
  created: z.string(),
});
export type StoredFile = z.infer<typeof storedFileSchema>;

const storedDepositionSchema = z.object({
  id: z.number().int().positive(),
  conceptrecid: z.number().int().positive(),
  bucket: z.string(),
  created: z.string(),
  modified: z.string(),
  state: z.enum(['unsubmitted', 'done']),
  metadata: z.record(z.string(), z.unknown()),
  files: z.array(storedFileSchema),
  publishedAt: z.string().optional(),
});
export type StoredDeposition = z.infer<typeof storedDepositionSchema>;

const counterSchema = z.object({ next: z.number().int().positive() });

const JSON_EXT = '.json';
const TMP_PREFIX = '.tmp-';

async function syncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `value` as `file` in one step: readers and crashes see the old file or the new one. */
async function writeJsonAtomically(file: string, value: unknown, tmpName: string): Promise<void> {
  const tmp = path.join(path.dirname(file), tmpName);
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(value, null, 1));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fs.promises.rename(tmp, file);
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
  await syncDir(path.dirname(file));
}

export class DepositionFiles {
  private readonly depositions = new Map<number, StoredDeposition>();
  private readonly byBucket = new Map<string, number>();
  private readonly queue = new KeyedQueue<number>();
  private readonly depositionDir: string;
  private readonly bucketDir: string;
  private readonly counterFile: string;
  private nextId = 1;
  private tmpCounter = 0;

  constructor(dataDir: string) {
    this.depositionDir = path.join(dataDir, 'depositions');
    this.bucketDir = path.join(dataDir, 'buckets');
    this.counterFile = path.join(dataDir, 'counter.json');
    fs.mkdirSync(this.depositionDir, { recursive: true });
    fs.mkdirSync(this.bucketDir, { recursive: true });
    for (const name of fs.readdirSync(this.depositionDir)) {
      const file = path.join(this.depositionDir, name);
      // A temp file is a write a crash cut short: the file it would have replaced is intact.
      if (name.startsWith(TMP_PREFIX)) fs.rmSync(file, { force: true });
      if (!name.endsWith(JSON_EXT)) continue;
      let parsed: z.ZodSafeParseResult<StoredDeposition>;
      try {
        parsed = storedDepositionSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
      } catch (e) {
        throw new Error(`${file} is not a deposition file: ${(e as Error).message}`);
      }
      if (!parsed.success) throw new Error(`${file} is not a deposition file: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
      this.remember(parsed.data);
    }
    if (fs.existsSync(this.counterFile)) this.nextId = counterSchema.parse(JSON.parse(fs.readFileSync(this.counterFile, 'utf8'))).next;
    // A counter older than the files (a crash between the two writes) must not hand out a used id.
    for (const d of this.depositions.values()) this.nextId = Math.max(this.nextId, d.id + 1, d.conceptrecid + 1);
    this.sweepBuckets();
  }

  /** Removes what an upload cut short left, and bytes no deposition names (a crash between rename and record). */
  private sweepBuckets(): void {
    for (const bucket of fs.readdirSync(this.bucketDir)) {
      const dir = path.join(this.bucketDir, bucket);
      const id = this.byBucket.get(bucket);
      const owner = id === undefined ? undefined : this.depositions.get(id);
      if (!owner) {
        fs.rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const kept = new Set(owner.files.map((f) => f.id));
      for (const name of fs.readdirSync(dir)) if (!kept.has(name)) fs.rmSync(path.join(dir, name), { force: true });
    }
  }

  private remember(d: StoredDeposition): void {
    this.depositions.set(d.id, d);
    this.byBucket.set(d.bucket, d.id);
  }

  get(id: number): StoredDeposition | undefined {
    return this.depositions.get(id);
  }

  byBucketId(bucket: string): StoredDeposition | undefined {
    const id = this.byBucket.get(bucket);
    return id === undefined ? undefined : this.depositions.get(id);
  }

  all(): StoredDeposition[] {
    return [...this.depositions.values()].sort((a, b) => a.id - b.id);
  }

  /** The folder that holds a bucket's bytes, created on first use. */
  bucketPath(bucket: string): string {
    const dir = path.join(this.bucketDir, bucket);
    fs.mkdirSync(dir, { recursive: true });
    return dir;
  }

  blobPath(bucket: string, fileId: string): string {
    return path.join(this.bucketDir, bucket, fileId);
  }

  /** Hands out an id no deposition or concept has had, durable before it is used. */
  async allocateId(): Promise<number> {
    const id = this.nextId++;
    await writeJsonAtomically(this.counterFile, { next: this.nextId }, `${TMP_PREFIX}counter-${process.pid}-${++this.tmpCounter}`);
    return id;
  }

  /**
   * Runs `change` once every earlier change to concept `concept` has finished; what it returns as
   * `write` is on disk before anyone can read it, and `remove` deletes depositions (and their
   * bytes). `change` may throw to refuse.
   */
  update<T>(
    concept: number,
    change: () => Promise<{ write?: StoredDeposition[]; remove?: number[]; result: T }> | { write?: StoredDeposition[]; remove?: number[]; result: T },
  ): Promise<T> {
    const run = async () => {
      const { write = [], remove = [], result } = await change();
      for (const d of write) {
        await writeJsonAtomically(path.join(this.depositionDir, `${d.id}${JSON_EXT}`), d, `${TMP_PREFIX}${d.id}-${process.pid}-${++this.tmpCounter}`);
        this.remember(d);
      }
      for (const gone of remove) {
        const d = this.depositions.get(gone);
        if (!d) continue;
        await fs.promises.rm(path.join(this.depositionDir, `${gone}${JSON_EXT}`), { force: true });
        this.depositions.delete(gone);
        this.byBucket.delete(d.bucket);
        await fs.promises.rm(path.join(this.bucketDir, d.bucket), { recursive: true, force: true });
      }
      return result;
    };
    return this.queue.run(concept, run);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }
}
