// Started by the `audit-fixity` Schedule: re-reads the next slice of the packages custody kept
// and delivered (`fixity.share` of them, after the cursor, wrapping at the end) and compares each
// copy's SHA-256 with the ledger. A copy that differs or is gone is a ledger event (the check
// records it); the run's result counts them and carries the cursor — the last SIP id checked —
// which the Schedule hands the next run (`workflowInfo().lastResult`, the last successful run's).
import { continueAsNew, isCancellation, log, proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { REPORTED_PROBLEMS, type AuditFixityInput, type AuditFixityResult } from '../common/fixity';
import { SCHEDULES_TASK_QUEUE } from '../common/preservation';

type Activities = ReturnType<typeof createActivities>;
const { fixitySlice } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  startToCloseTimeout: '5m',
  heartbeatTimeout: '1m',
  // The next scheduled run takes the same slice: a run must not pile up behind a ledger outage.
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});
const { checkPackageFixity } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  // A package of many gigabytes is read whole; the heartbeat, not this, notices a dead worker.
  startToCloseTimeout: '12h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '10s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 5 },
});

/** Checks per run before continuing as new, so a large slice keeps the history short. */
const CHECKS_PER_RUN = 1000;

export async function auditFixity(input: AuditFixityInput = {}): Promise<AuditFixityResult> {
  const info = workflowInfo();
  // One key per audit (across continue-as-new) and package: a retried check records nothing twice.
  const audit = `${info.workflowId}@${info.firstExecutionRunId}`;
  let sipIds: string[];
  let r: AuditFixityResult;
  if (input.carried) {
    ({ sipIds, progress: r } = input.carried);
  } else {
    const previous = info.lastResult as AuditFixityResult | undefined;
    const after = input.after ?? previous?.cursor;
    const slice = await fixitySlice.executeWithOptions({ summary: `fixity slice after ${after ?? 'the beginning'}` }, [
      { after, share: input.share, maxBytesPerRun: input.maxBytesPerRun },
    ]);
    sipIds = slice.sipIds;
    r = { cursor: after, total: slice.total, checked: 0, ok: 0, mismatched: 0, missing: 0, bytesRead: 0, problems: [], unreachable: [] };
  }
  const of = r.checked + sipIds.length;
  const progress = () =>
    setCurrentDetails(
      `checked ${r.checked} of ${of} packages (${r.total} audited in all): ${r.ok} copies ok, ${r.mismatched} mismatched, ${r.missing} missing, ${r.bytesRead} bytes read`,
    );
  progress();
  let checksThisRun = 0;
  while (sipIds.length) {
    if (checksThisRun >= CHECKS_PER_RUN || info.continueAsNewSuggested)
      return await continueAsNew<typeof auditFixity>({ ...input, carried: { sipIds, progress: r } });
    const sipId = sipIds.shift()!;
    checksThisRun++;
    try {
      const p = await checkPackageFixity.executeWithOptions({ summary: `fixity of ${sipId}` }, [{ sipId, audit }]);
      r.ok += p.ok;
      r.bytesRead += p.bytesRead;
      for (const problem of p.problems) {
        if (problem.kind === 'fixity-mismatch') r.mismatched++;
        else r.missing++;
        if (r.problems.length < REPORTED_PROBLEMS) r.problems.push(problem);
        log.warn(`fixity: ${problem.kind} ${problem.where}: expected sha256 ${problem.expected}, found ${problem.found ?? 'nothing'}`, { sipId });
      }
      r.unreachable.push(...p.unreachable.slice(0, REPORTED_PROBLEMS - r.unreachable.length));
    } catch (e) {
      if (isCancellation(e)) throw e;
      // Storage that stays unreadable through every retry: this package waits for the next pass.
      if (r.unreachable.length < REPORTED_PROBLEMS) r.unreachable.push(`${sipId}: ${e instanceof Error ? e.message : String(e)}`);
    }
    r.checked++;
    r.cursor = sipId;
    progress();
  }
  return r;
}
