// The operator's hand on a running pipeline, the same in every workflow: freeze, unfreeze and
// reenqueue arrive as Updates (validated, so a refusal reaches the command with its reason), and
// a freeze is taken at the next checkpoint between stages, where it holds the work until
// unfreeze or reenqueue. What a freeze and an unfreeze put on record is the workflow's own.
import type { UpdateDefinition } from '@temporalio/common';
import { condition, getCurrentDetails, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { drainSignal, resumeSignal, type DrainRequest } from '../../common/drain';
import type { FreezeRequest } from '../../common/preservation';
import { SA } from '../../common/search-attributes';
import { FreezeHold } from './freeze-hold';

export interface OperatorHandlers<Stage extends string, FreezeAck, UnfreezeAck, ReenqueueAck> {
  /** The work's id, as the refusals name it. */
  id: string;
  stage(): Stage;
  /** When the current stage was entered (a freeze's acknowledgement says when it was taken). */
  since(): string;
  freeze: UpdateDefinition<FreezeAck, [FreezeRequest]>;
  unfreeze: UpdateDefinition<UnfreezeAck, [{ by: string }]>;
  reenqueue: UpdateDefinition<ReenqueueAck, [{ by: string }]>;
  frozenAck(stoppedBefore: Stage, frozenAt: string): FreezeAck;
  unfrozenAck(resumes: Stage): UnfreezeAck;
  reenqueuedAck(by: string): ReenqueueAck;
  /** Why a freeze cannot be taken now (no stage left to stop before), or undefined. */
  refuseFreeze?(stage: Stage): string | undefined;
  /** Why a reenqueue is refused now (nothing waits for an operator), or undefined. */
  refuseReenqueue(stage: Stage): string | undefined;
}

/** What the workflow puts on record when its work is held and when it goes on. */
export interface FreezeRecords<Stage extends string> {
  frozen(request: FreezeRequest, stoppedBefore: Stage): Promise<void>;
  unfrozen(resumes: Stage, reenqueuedBy: string | undefined): Promise<void>;
}

export class OperatorState<Stage extends string> {
  readonly hold: FreezeHold<Stage>;
  /** Set by an accepted reenqueue; the workflow clears it when the new run of the work starts. */
  reenqueueBy: string | undefined;
  /** Set by `custody drain` until `custody resume`: no new step starts meanwhile. */
  drained: DrainRequest | undefined;

  constructor(
    start: Stage,
    private readonly records: FreezeRecords<Stage>,
  ) {
    this.hold = new FreezeHold<Stage>(start);
  }

  /** A freeze asked for and not yet released (taken or waiting for the next checkpoint). */
  get freezeAsked(): boolean {
    return this.hold.request !== undefined;
  }

  /** Freezes for a cause no retry can fix; the next checkpoint takes it like an operator's. */
  freezeFor(reason: string, by: string): void {
    this.hold.request = { reason, by };
  }

  install<FreezeAck, UnfreezeAck, ReenqueueAck>(h: OperatorHandlers<Stage, FreezeAck, UnfreezeAck, ReenqueueAck>): void {
    setHandler(drainSignal, (request) => {
      this.drained = request;
    });
    setHandler(resumeSignal, () => {
      this.drained = undefined;
    });
    setHandler(
      h.freeze,
      async (request) => {
        // Already held by a freeze: nothing to wait for. Otherwise wait until a checkpoint takes
        // this freeze; the stage alone would mislead while an unfreeze is still being recorded.
        await this.hold.ask(request, this.freezeAsked && h.stage() === 'frozen');
        return h.frozenAck(this.hold.stoppedBefore, h.since());
      },
      {
        validator: (request) => {
          if (!request.reason.trim()) throw new Error('a freeze needs a reason');
          const refusal = this.hold.closed ?? h.refuseFreeze?.(h.stage());
          if (refusal) throw new Error(refusal);
        },
      },
    );
    setHandler(
      h.unfreeze,
      (_request) => {
        this.hold.release();
        return h.unfrozenAck(this.hold.stoppedBefore);
      },
      {
        validator: (_request) => {
          if (h.stage() !== 'frozen') throw new Error(`${h.id} is not frozen (it is ${h.stage()})`);
        },
      },
    );
    setHandler(
      h.reenqueue,
      ({ by }) => {
        this.reenqueueBy = by;
        return h.reenqueuedAck(by);
      },
      {
        validator: (_request) => {
          const refusal = h.refuseReenqueue(h.stage());
          if (refusal) throw new Error(refusal);
        },
      },
    );
  }

  /**
   * Past the last checkpoint (the work ends without another stage to stop before): a freeze
   * accepted since the last one, which would otherwise wait forever, is refused with `why`.
   */
  finish(why: string): void {
    this.hold.close(why);
  }

  /**
   * Between stages, before `next`: a freeze asked for holds the work here until unfreeze
   * ('went-on') or reenqueue ('reenqueued': the caller starts the work again).
   */
  async checkpoint(next: Stage): Promise<'went-on' | 'reenqueued'> {
    for (;;) {
      await this.drainGate(next);
      if (!this.hold.request) return 'went-on';
      const outcome = await this.holdFrozen(next);
      // Unfrozen while custody is drained: the drain still holds the work here.
      if (outcome === 'reenqueued' || !this.drained) return outcome;
    }
  }

  /**
   * While drained, waits for resume before `next` (the Web UI's details say so). By default a
   * freeze asked meanwhile ends the wait, for the caller to take it at once (`custody freeze` does
   * not wait for the resume); `untilResumed` waits for the resume alone, where no freeze is taken
   * (before a delivery). Without a drain it returns at once and adds nothing to the history.
   */
  async drainGate(next?: string, untilResumed = false): Promise<void> {
    if (!this.drained) return;
    const details = getCurrentDetails();
    setCurrentDetails(`drained: waiting for resume${next ? ` (then ${next})` : ''} — ${details}`);
    await condition(() => !this.drained || (!untilResumed && this.freezeAsked));
    setCurrentDetails(details);
  }

  private async holdFrozen(next: Stage): Promise<'went-on' | 'reenqueued'> {
    const request = this.hold.take(next);
    upsertSearchAttributes([{ key: SA.frozen, value: true }]);
    await this.records.frozen(request, next);
    this.hold.markHeld();
    await condition(() => this.hold.request === undefined || this.reenqueueBy !== undefined);
    upsertSearchAttributes([{ key: SA.frozen, value: false }]);
    await this.records.unfrozen(next, this.reenqueueBy);
    return this.reenqueueBy ? 'reenqueued' : 'went-on';
  }
}
