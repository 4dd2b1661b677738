// What the activities of every pipeline share: the clients they are built from, the heartbeat,
// and the one place where the libraries' errors become Temporal failures.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { PermanentError } from '../common/errors';
import type { Config } from '../config/config';
import type { Ledger } from '../ledger';
import type { ObjectSource } from '../sources';
import type { PreservationService } from '../services/preservation-service';
import type { Storage } from '../storage';
import type { ArticleStoreClient } from '../articles/article-store-client';
import type { DepositClient, DepositLogEntry } from '../deposits';
import type { Destination } from '../destinations';

export interface ActivityDeps {
  config: Config;
  ledger: Ledger;
  /** storage.source: where objects are preserved from. */
  source: ObjectSource;
  /** Another harvest source, by its name in harvest.sources (throws when there is none). */
  sourceNamed(name: string): ObjectSource;
  service: PreservationService;
  /** Working files and SIPs between stages. */
  work: Storage;
  /** The service's reports, kept for good. */
  reports: Storage;
  /** Where article previews and published articles are served from. */
  site: Storage;
  articleStore: ArticleStoreClient;
  /** Preserved packages kept for delivery. */
  packages: Storage;
  /** A configured delivery destination, by name (throws when there is none). */
  destination(name: string): Destination;
  /** Where datasets to copy are read from. */
  datasets: Storage;
  /** A deposit API client whose requests (secrets redacted) go to `log`. */
  deposit(log: (entry: DepositLogEntry) => void): DepositClient;
}

/** The details of each running attempt's latest heartbeat, which the keep-alive repeats. */
const lastDetails = new WeakMap<Context, unknown>();
/** Attempts whose heartbeats the keep-alive's timer sends. */
const paced = new WeakSet<Context>();

/**
 * Progress for the Web UI and the server's liveness check. Under the keep-alive (any attempt
 * scheduled with a heartbeat timeout) this only notes the details and the timer sends them: the
 * SDK sends an attempt's first heartbeat at once, and the server writes each one to the
 * workflow's state, so a step that ends within one period costs no heartbeat at all.
 */
export const heartbeat = (details: unknown) => {
  const context = Context.current();
  lastDetails.set(context, details);
  if (!paced.has(context)) context.heartbeat(details);
};

/**
 * While an attempt scheduled with a heartbeat timeout runs, heartbeat on a timer, a quarter of
 * the timeout apart (5 s at most), with its latest details: a step that moves no bytes for a
 * while (a file synced or verified after it was written, a slow API, a Retry-After) is not taken
 * for a dead worker and run twice. A dead worker's timer stops with it, which is what the
 * heartbeat timeout is there to notice.
 */
function keepAlive(): () => void {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return () => undefined; // not in an activity (a bench's plain loop)
  }
  const timeoutMs = context.info.heartbeatTimeoutMs;
  if (!timeoutMs) return () => undefined;
  paced.add(context);
  const timer = setInterval(() => context.heartbeat(lastDetails.get(context)), Math.min(5_000, Math.max(200, timeoutMs / 4)));
  return () => clearInterval(timer);
}

/**
 * A library's PermanentError as the non-retryable ApplicationFailure of its type, which the
 * workflow reads (freezing the object on AUTO_FREEZE_TYPES); any other error as it is, which
 * Temporal retries.
 */
export function toFailure(e: unknown): unknown {
  if (!(e instanceof PermanentError)) return e;
  const failure = ApplicationFailure.nonRetryable(e.message, e.type);
  // The stack of where the library found the problem, not of this mapping.
  failure.stack = e.stack;
  return failure;
}

type Activity = (...args: never[]) => Promise<unknown>;

/** When this worker began each running attempt, by its own clock. */
const attemptBegan = new WeakMap<Context, number>();

/**
 * Now on the clock workflow time follows (the Temporal server's): when the server scheduled this
 * attempt, plus how long this worker has been running it. A ledger entry stamped so sorts between
 * the workflow's own entries whatever this host's clock says (and in a test's skipped time);
 * it is early by the time the attempt waited for a worker.
 */
export function workflowClockNow(): string {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return new Date().toISOString(); // called outside an activity (a bench's plain loop)
  }
  const began = attemptBegan.get(context) ?? Date.now();
  return new Date(context.info.currentAttemptScheduledTimestampMs + (Date.now() - began)).toISOString();
}

const noteAttemptBegan = (): void => {
  try {
    attemptBegan.set(Context.current(), Date.now());
  } catch {
    // not in an activity: workflowClockNow falls back to this host's clock
  }
};

/** The same activities, under the same names, each throwing its libraries' errors as toFailure makes them. */
export function mapLibraryErrors<A extends Record<string, Activity>>(activities: A): A {
  const mapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      noteAttemptBegan();
      const stopKeepingAlive = keepAlive();
      try {
        return await activity(...args);
      } catch (e) {
        throw toFailure(e);
      } finally {
        stopKeepingAlive();
      }
    },
  ]);
  return Object.fromEntries(mapped) as A;
}
