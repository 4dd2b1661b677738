// The reference service's memory of what it received and decided, so reports and counts survive
// a restart: a snapshot (state.json, written atomically: temp file, fsync, rename) and an
// append-only log of changes since (state.log, one submission a line, fsynced per change).
// Rewriting the whole snapshot on every change made each change cost the size of everything the
// service ever received; an append costs one line. The log is folded into the snapshot when the
// service opens its data. One service writes them: it holds the data folder's lock (data-lock.ts).
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const decisionSchema = z.object({
  /** `<sipId>-<uuid>.tar`, as the national service names transfers. */
  transferId: z.string(),
  status: z.enum(['accepted', 'rejected']),
  receivedAt: z.string(),
  decidedAt: z.string(),
  reasons: z.array(z.string()),
  /** Report file, relative to the data folder. */
  reportFile: z.string(),
});
export type Decision = z.infer<typeof decisionSchema>;

const submissionSchema = z.object({
  sipId: z.string(),
  /** Of the bytes first received under this SIP id: the SIP the service keeps. */
  sha256: z.string(),
  /** Distinct submissions under this SIP id: a repeat of the same bytes is not a new one, a conflict is. */
  count: z.number().int(),
  /** Times a file with this SIP id arrived in the transfer folder. */
  transfers: z.number().int(),
  firstReceivedAt: z.string(),
  /** The first transfer while it waits for or is in validation. */
  pending: z.object({ transferId: z.string(), receivedAt: z.string(), status: z.enum(['received', 'validating']) }).optional(),
  /** Every report published for this SIP id, oldest first. */
  decisions: z.array(decisionSchema),
});
export type Submission = z.infer<typeof submissionSchema>;
export type SubmissionStatus = 'received' | 'validating' | 'accepted' | 'rejected';

/** The first release kept one status per SIP; its state files are read into decisions. */
const firstReleaseSchema = z
  .object({
    sipId: z.string(),
    sha256: z.string(),
    transferId: z.string(),
    count: z.number().int(),
    transfers: z.number().int(),
    firstReceivedAt: z.string(),
    status: z.enum(['received', 'validating', 'accepted', 'rejected']),
    decidedAt: z.string().optional(),
    reasons: z.array(z.string()).optional(),
    reportFile: z.string().optional(),
  })
  .transform(({ transferId, status, decidedAt, reasons, reportFile, ...rest }): Submission => {
    const decided = (status === 'accepted' || status === 'rejected') && decidedAt && reportFile;
    return {
      ...rest,
      pending: decided ? undefined : { transferId, receivedAt: rest.firstReceivedAt, status: 'received' },
      decisions: decided ? [{ transferId, status, receivedAt: rest.firstReceivedAt, decidedAt, reasons: reasons ?? [], reportFile }] : [],
    };
  });

export const statusOf = (s: Submission): SubmissionStatus => s.pending?.status ?? s.decisions.at(-1)?.status ?? 'received';
export const latestDecision = (s: Submission): Decision | undefined => (s.pending ? undefined : s.decisions.at(-1));

const savedSchema = z.object({ submissions: z.array(z.union([submissionSchema, firstReleaseSchema])) });

export class ServiceState {
  private readonly file: string;
  private readonly log: string;
  private readonly submissions = new Map<string, Submission>();
  private logFd: number | undefined;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'state.json');
    this.log = path.join(dataDir, 'state.log');
    if (fs.existsSync(this.file)) {
      const saved = savedSchema.safeParse(JSON.parse(fs.readFileSync(this.file, 'utf8')));
      if (!saved.success)
        throw new Error(`${this.file} is not the reference service's state: ${saved.error.issues[0]?.message} at ${saved.error.issues[0]?.path.join('.')}`);
      for (const s of saved.data.submissions) this.submissions.set(s.sipId, s);
    }
    if (!fs.existsSync(this.log)) return;
    const lines = fs.readFileSync(this.log, 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (line === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (e) {
        // A crash mid-append leaves a torn last line: that change was never acknowledged.
        if (i === lines.length - 1) return;
        throw new Error(`${this.log} line ${i + 1} is not JSON: ${(e as Error).message}`);
      }
      const s = submissionSchema.safeParse(parsed);
      if (!s.success) throw new Error(`${this.log} line ${i + 1} is not a submission: ${s.error.issues[0]?.message} at ${s.error.issues[0]?.path.join('.')}`);
      this.submissions.set(s.data.sipId, s.data);
    });
    this.writeSnapshot();
    fs.rmSync(this.log);
    syncDir(path.dirname(this.file));
  }

  get(sipId: string): Submission | undefined {
    return this.submissions.get(sipId);
  }

  all(): Submission[] {
    return [...this.submissions.values()];
  }

  put(s: Submission): void {
    this.submissions.set(s.sipId, s);
    if (this.logFd === undefined) {
      this.logFd = fs.openSync(this.log, 'a');
      // The new log's name is durable only once the folder is synced.
      syncDir(path.dirname(this.log));
    }
    fs.writeSync(this.logFd, `${JSON.stringify(s)}\n`);
    fs.fsyncSync(this.logFd);
  }

  close(): void {
    if (this.logFd !== undefined) fs.closeSync(this.logFd);
    this.logFd = undefined;
  }

  private writeSnapshot(): void {
    // A temp name of this process's own: even a second writer could not write into our temp file.
    const tmp = `${this.file}.${process.pid}.tmp`;
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, JSON.stringify({ submissions: this.all() }, null, 1));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    syncDir(path.dirname(this.file));
  }
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
