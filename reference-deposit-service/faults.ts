// The deposit service's fault switch (POST /_faults): the article store's faults (503s, resets
// before and after, delays), which it reuses as they are, plus what a deposit API does to an
// uploader: rate limiting, slow and cut uploads, and a wrong checksum in the answer.
import { z } from 'zod';
import { Faults as RequestFaults, faultPlanSchema as requestFaultPlanSchema, type Fault as RequestFault } from '../reference-article-store/faults';

const count = z.number().int().min(0).max(1_000_000);

export const depositFaultPlanSchema = requestFaultPlanSchema.extend({
  /** The next N requests answer 429 with `Retry-After`, without being carried out. */
  rateLimited: count.optional(),
  /** The `Retry-After` of those answers, in seconds; 1 unless given. */
  retryAfterSeconds: z.number().int().min(0).max(3600).optional(),
  /** File uploads take at most this many bytes a second... */
  uploadBytesPerSecond: z.number().int().min(1).max(1e12).optional(),
  /** ...the next N of them; without it, every upload until the faults are cleared. */
  slowUploads: count.optional(),
  /** The next N file uploads have their connection dropped once `uploadResetAfterBytes` have arrived. */
  uploadResets: count.optional(),
  /** 64 KiB unless given. */
  uploadResetAfterBytes: z.number().int().min(0).max(1e12).optional(),
  /** The next N file uploads store the right bytes but answer a wrong md5. */
  checksumMismatch: count.optional(),
});
export type DepositFaultPlan = z.infer<typeof depositFaultPlanSchema>;

/** What happens to one request; `action` 'rateLimited' comes after the article store's actions. */
export interface DepositFault extends Omit<RequestFault, 'action'> {
  action?: RequestFault['action'] | 'rateLimited';
  retryAfterSeconds: number;
}

/** What happens to one upload's body and answer. */
export interface UploadFault {
  bytesPerSecond?: number;
  resetAfterBytes?: number;
  wrongChecksum: boolean;
}

const REQUEST_FIELDS = Object.keys(requestFaultPlanSchema.shape) as (keyof z.infer<typeof requestFaultPlanSchema>)[];

/** Takes one from a counter of the plan; true when there was one. */
function takeOne(plan: DepositFaultPlan, key: 'rateLimited' | 'uploadResets' | 'checksumMismatch' | 'slowUploads'): boolean {
  const n = plan[key];
  if (!n) return false;
  if (n === 1) delete plan[key];
  else plan[key] = n - 1;
  return true;
}

export class DepositFaults {
  private readonly requests = new RequestFaults();
  private plan: DepositFaultPlan = {};

  set(plan: DepositFaultPlan): DepositFaultPlan {
    const kept = Object.fromEntries(Object.entries(plan).filter(([, n]) => n !== undefined && n !== 0)) as DepositFaultPlan;
    this.requests.set(Object.fromEntries(REQUEST_FIELDS.filter((k) => k in kept).map((k) => [k, kept[k]])));
    for (const k of REQUEST_FIELDS) delete kept[k];
    this.plan = kept;
    return this.view();
  }

  /** What is left of the plan: what GET /_faults answers. */
  view(): DepositFaultPlan {
    return { ...this.requests.view(), ...this.plan };
  }

  /** Drawn when a request arrives. */
  take(): DepositFault {
    const fault = this.requests.take();
    const retryAfterSeconds = this.plan.retryAfterSeconds ?? 1;
    if (fault.action || !takeOne(this.plan, 'rateLimited')) return { ...fault, retryAfterSeconds };
    if (this.plan.rateLimited === undefined) delete this.plan.retryAfterSeconds;
    return { ...fault, action: 'rateLimited', retryAfterSeconds };
  }

  /** Drawn when an upload's body starts to arrive. */
  takeUpload(): UploadFault {
    const p = this.plan;
    const fault: UploadFault = { wrongChecksum: takeOne(p, 'checksumMismatch') };
    if (p.uploadBytesPerSecond) {
      if (p.slowUploads === undefined) fault.bytesPerSecond = p.uploadBytesPerSecond;
      else if (takeOne(p, 'slowUploads')) {
        fault.bytesPerSecond = p.uploadBytesPerSecond;
        if (p.slowUploads === undefined) delete p.uploadBytesPerSecond;
      }
    }
    if (takeOne(p, 'uploadResets')) {
      fault.resetAfterBytes = p.uploadResetAfterBytes ?? 64 * 1024;
      if (p.uploadResets === undefined) delete p.uploadResetAfterBytes;
    }
    return fault;
  }
}
