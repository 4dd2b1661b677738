// The activities of the scheduled poller (the syncProcessedSips workflow, which delivers the
// service's verdicts to the preservation pipeline's waiting workflows). They have a file of
// their own rather than a place in preservation.ts because they serve another workflow, on its
// own task queue (SCHEDULES_TASK_QUEUE), and are the only activities that need the worker's
// Temporal client: the per-object activities stay free of it.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { preserveWorkflowId, sipProcessedSignal, type VerdictPageDelivery } from '../common/preservation';
import type { Verdict } from '../common/sip';
import type { Ledger } from '../ledger';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';
import { forEachConcurrently } from '../common/concurrently';

/** Signals the poller sends at once: enough to hide each round trip, few enough not to flood the server. */
const SIGNAL_CONCURRENCY = 32;

/**
 * Hands a verdict to its object's workflow and remembers in the ledger that it did, so the
 * verdict is not sent again; false when no workflow runs for the object. The poller and
 * `custody reconcile` deliver verdicts this one way.
 */
export async function signalVerdict(workflows: Client['workflow'], ledger: Ledger, objectId: string, verdict: Verdict): Promise<boolean> {
  try {
    await workflows.getHandle(preserveWorkflowId(objectId)).signal(sipProcessedSignal, verdict);
  } catch (e) {
    if (!(e instanceof WorkflowNotFoundError)) throw e;
    return false;
  }
  await ledger.recordVerdictSignalled({ objectId, sipId: verdict.sipId, at: new Date().toISOString() });
  return true;
}

/**
 * `temporal` is the worker's own client: deliverVerdicts signals workflows through it. A worker
 * that runs no poller (and the tests of single activities) may leave it out.
 */
export function createSyncProcessedSipsActivities({ ledger, service }: ActivityDeps, temporal?: Client) {
  const workflows = () => {
    if (!temporal) throw new Error('this worker was built without a Temporal client: it cannot signal workflows');
    return temporal.workflow;
  };

  return mapLibraryErrors({
    /**
     * The poller's delivery of one page of verdicts decided after `since` (oldest first): each
     * verdict custody has not yet signalled or recorded is signalled to its object's workflow, and
     * the ledger remembers it at once, so no later run sends it again. A page ends between two
     * decision times, never inside one, because the next page starts after its checkpoint.
     */
    async deliverVerdicts({ since, limit }: { since: string; limit: number }): Promise<VerdictPageDelivery> {
      const verdicts = [...(await service.verdictsSince(new Date(since)))].sort((a, b) => Date.parse(a.decidedAt) - Date.parse(b.decidedAt));
      let end = Math.min(limit, verdicts.length);
      while (end > 0 && end < verdicts.length && verdicts[end].decidedAt === verdicts[end - 1].decidedAt) end++;
      const page = verdicts.slice(0, end);
      const known = new Map((await ledger.verdictDeliveryOf(page.map((v) => v.sipId))).map((k) => [k.sipId, k]));
      const result: VerdictPageDelivery = {
        signalled: 0,
        notWaiting: 0,
        alreadyDelivered: 0,
        checkpoint: page.at(-1)?.decidedAt ?? since,
        more: end < verdicts.length,
      };
      const toSignal = page.flatMap((verdict) => {
        const pkg = known.get(verdict.sipId);
        if (pkg?.delivered) result.alreadyDelivered++;
        return pkg && !pkg.delivered ? [{ objectId: pkg.objectId, verdict }] : [];
      });
      await forEachConcurrently(toSignal, SIGNAL_CONCURRENCY, async ({ objectId, verdict }) => {
        if (!(await signalVerdict(workflows(), ledger, objectId, verdict))) {
          result.notWaiting++;
          return;
        }
        result.signalled++;
        heartbeat({ signalled: result.signalled, of: toSignal.length });
      });
      return result;
    },

    /** Verdicts decided after `since`, with the object each SIP belongs to; SIPs custody did not make are left out. */
    async verdictsSince({ since }: { since: string }): Promise<Array<{ objectId: string; verdict: Verdict }>> {
      const verdicts = await service.verdictsSince(new Date(since));
      const found: Array<{ objectId: string; verdict: Verdict }> = [];
      for (const verdict of verdicts) {
        const pkg = await ledger.getPackage(verdict.sipId);
        if (pkg) found.push({ objectId: pkg.objectId, verdict });
      }
      return found;
    },
  });
}
