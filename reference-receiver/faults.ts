// The receiver's fault switch: the article store's (unavailable, dropped connections, delays),
// imported as it is, plus corrupted uploads, so a sender's check after sending can be tested.
import { z } from 'zod';
import { faultPlanSchema, Faults, type FaultPlan } from '../reference-article-store/faults';

export const receiverFaultPlanSchema = faultPlanSchema.extend({
  /** The next N uploads are stored with one byte flipped (after any X-Content-Sha256 check), and reported as stored. */
  corruptUploads: z.number().int().min(0).max(1_000_000).optional(),
});
export type ReceiverFaultPlan = z.infer<typeof receiverFaultPlanSchema>;

export class ReceiverFaults {
  private readonly common = new Faults();
  private corruptUploads = 0;

  set(plan: ReceiverFaultPlan): ReceiverFaultPlan {
    const { corruptUploads, ...rest } = plan;
    this.common.set(rest as FaultPlan);
    this.corruptUploads = corruptUploads ?? 0;
    return this.view();
  }

  view(): ReceiverFaultPlan {
    return { ...this.common.view(), ...(this.corruptUploads ? { corruptUploads: this.corruptUploads } : {}) };
  }

  /** Drawn when any request arrives. */
  take(): ReturnType<Faults['take']> {
    return this.common.take();
  }

  /** Drawn when an upload is stored: whether to corrupt it. */
  takeCorruption(): boolean {
    if (this.corruptUploads === 0) return false;
    this.corruptUploads--;
    return true;
  }
}
