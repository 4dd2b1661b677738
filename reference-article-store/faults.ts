// The fault switch (POST /_faults): makes the store misbehave for the next requests, so a
// caller's retry paths can be tested against the real service.
import { z } from 'zod';

const count = z.number().int().min(0).max(1_000_000);

export const faultPlanSchema = z.strictObject({
  /** The next N requests answer 503 without being carried out. */
  unavailable: count.optional(),
  /** The next N requests have their connection dropped before they are carried out. */
  resetBefore: count.optional(),
  /** The next N requests are carried out, then their connection is dropped instead of answered: the lost answer. */
  resetAfter: count.optional(),
  /** Requests wait this long before they are handled... */
  delayMs: z.number().int().min(0).max(600_000).optional(),
  /** ...the next N of them; without it, every request until the faults are cleared. */
  delayed: count.optional(),
});
export type FaultPlan = z.infer<typeof faultPlanSchema>;

/** What happens to one request. */
export interface Fault {
  delayMs: number;
  /** At most one of these, in this order of precedence. */
  action?: 'unavailable' | 'resetBefore' | 'resetAfter';
}

export class Faults {
  private plan: FaultPlan = {};

  set(plan: FaultPlan): FaultPlan {
    this.plan = Object.fromEntries(Object.entries(plan).filter(([, n]) => n !== undefined && n !== 0));
    return this.view();
  }

  /** What is left of the plan: what GET /_faults answers. */
  view(): FaultPlan {
    return { ...this.plan };
  }

  /** Drawn when a request arrives, so N requests at once take N faults. */
  take(): Fault {
    const p = this.plan;
    let delayMs = 0;
    if (p.delayMs && (p.delayed === undefined || p.delayed > 0)) {
      delayMs = p.delayMs;
      if (p.delayed !== undefined) p.delayed--;
      if (p.delayed === 0) {
        delete p.delayMs;
        delete p.delayed;
      }
    }
    for (const action of ['unavailable', 'resetBefore', 'resetAfter'] as const) {
      const n = p[action];
      if (n) {
        if (n === 1) delete p[action];
        else p[action] = n - 1;
        return { delayMs, action };
      }
    }
    return { delayMs };
  }
}
