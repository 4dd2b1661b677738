// The operator's freeze, shared by every pipeline: a freeze asked for (by `custody freeze` or by
// the pipeline itself for a cause no retry can fix) is taken at the next checkpoint, between
// stages, and holds the work there until unfreeze. The freeze Update's caller waits until it is
// taken, so the command can say where the work stopped.
import { ApplicationFailure, condition } from '@temporalio/workflow';
import type { FreezeRequest } from '../../common/preservation';

export class FreezeHold<Stage extends string> {
  request: FreezeRequest | undefined;
  /** Where the work stopped (and where unfreeze continues). */
  stoppedBefore: Stage;
  private taken = 0;
  /** Why no checkpoint will come any more: a freeze still waiting for one is refused with it. */
  closed: string | undefined;

  constructor(start: Stage) {
    this.stoppedBefore = start;
  }

  /** The freeze Update's handler: asks for the freeze, then waits for a checkpoint to take it unless one already holds the work. */
  async ask(request: FreezeRequest, alreadyHeld: boolean): Promise<void> {
    const before = this.taken;
    this.request = request;
    if (alreadyHeld) return;
    await condition(() => this.taken > before || this.closed !== undefined);
    if (this.taken === before) {
      this.request = undefined;
      throw ApplicationFailure.nonRetryable(this.closed!, 'NothingToFreeze');
    }
  }

  /** The work is past its last checkpoint: a freeze waiting for one is refused, and so is any later one. */
  close(why: string): void {
    this.closed = why;
  }

  /** At a checkpoint before `next`: the freeze now holds the work there. */
  take(next: Stage): FreezeRequest {
    this.stoppedBefore = next;
    return this.request!;
  }

  /** Told once the frozen stage is on record: the waiting freeze Update returns. */
  markHeld(): void {
    this.taken++;
  }

  release(): void {
    this.request = undefined;
  }
}
