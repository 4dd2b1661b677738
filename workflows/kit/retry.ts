// A retry policy from config. Config's maximumAttempts 0 means "no limit", as in Temporal's own
// API; the TypeScript SDK refuses 0 (every workflow task would fail), so 0 leaves the limit out.
import type { RetryPolicy } from '@temporalio/common';
import type { RetrySettings } from '../../common/preservation';

export function retryPolicy(r: Partial<RetrySettings>): RetryPolicy {
  const { maximumAttempts, ...rest } = r;
  return { ...rest, ...(maximumAttempts ? { maximumAttempts } : {}) };
}
