// Stage bookkeeping shared by every workflow: each ledger entry of a run gets a key unique in
// that run (a stage can recur, frozen twice), and the stage is shown where operators look: the
// search attributes their saved filters use and the Web UI's current details.
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA } from '../../common/search-attributes';

export class StageBook<Stage extends string> {
  private entries = 0;

  constructor(private readonly stateOf: (stage: Stage) => string) {}

  /** The key of a new ledger entry: retried recording activities write it once. */
  nextKey(kind: string): string {
    this.entries++;
    return this.sameKey(kind);
  }

  /** The key of an entry that belongs to the latest one (a freeze and the stage it froze). */
  sameKey(kind: string): string {
    return `${workflowInfo().runId}:${this.entries}:${kind}`;
  }

  /**
   * One upsert for both attributes: recorded histories replay unchanged. `buildId` (the build
   * that recorded the stage, from the recording activity's result) rides along in the same
   * upsert; a history from before results carried it replays without it. So do `also`'s.
   */
  show(stage: Stage, details: string, buildId?: string, also: SearchAttributeUpdatePair[] = []): void {
    upsertSearchAttributes([
      { key: SA.stage, value: stage },
      { key: SA.state, value: this.stateOf(stage) },
      ...(buildId ? [{ key: SA.buildId, value: buildId }] : []),
      ...also,
    ]);
    setCurrentDetails(details);
  }
}
