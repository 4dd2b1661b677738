// What the article and copy workflows share: one entity workflow per thing, whose versions pass
// one at a time; every stage it enters is put on the ledger and shown where operators look; an
// operator freezes, reenqueues, approves or rejects the version at hand. The stages themselves,
// and what a version goes through, stay in each workflow.
import type { UpdateDefinition } from '@temporalio/common';
import { condition, setCurrentDetails, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { SA } from '../../common/search-attributes';
import { OperatorState, type OperatorHandlers } from './operator-state';
import { StageBook } from './stage-book';

/** The stages every lane has, beside its own. */
type LaneStage = 'waiting' | 'frozen';

export interface LaneState<Stage extends string> {
  stage: Stage;
  current?: { version: number };
  lastError?: string;
  frozenReason?: string;
  frozenBy?: string;
  details?: string;
  updatedAt: string;
}

/** One ledger event of the lane, keyed so that a retried recording writes it once. */
export interface LaneEvent<Stage extends string> {
  kind: string;
  message: string;
  version?: number;
  stage?: Stage;
  detail?: unknown;
  at: string;
  key: string;
}

export interface LaneOptions<Stage extends string> {
  /** The workflow's id, as refusals and summaries name it. */
  id: string;
  state: LaneState<Stage>;
  /** The search attribute's CustodyState for a stage. */
  stateOf(stage: Stage): string;
  /** Puts an event on the ledger; resolves with the recording step's result, which names the build that recorded it. */
  record(event: LaneEvent<Stage>, summary: string): Promise<{ buildId?: string } | undefined>;
  /** No version at hand: the lane is idle while waiting. */
  idle(): boolean;
  /** What an idle lane waits for, in words. */
  waitingMessage(): string;
}

export interface Decisions<Stage extends string, ApproveRequest extends { version?: number; by: string; at?: string }, ApproveAck, RejectAck> {
  approve: UpdateDefinition<ApproveAck, [ApproveRequest]>;
  reject: UpdateDefinition<RejectAck, [{ version?: number; reason: string; by: string }]>;
  /** The stages in which a version may be approved, and in which it may be rejected. */
  approvable: Stage[];
  rejectable: Stage[];
  /** Anything more an approval must satisfy (throws with the reason). */
  checkApproval?(request: ApproveRequest): void;
  approvedAck(version: number, request: ApproveRequest): ApproveAck;
  rejectedAck(version: number): RejectAck;
}

/** Thrown inside a version's run when an operator reenqueued it while it was frozen. */
export class Reenqueued extends Error {}

export function ignoreReenqueue(e: unknown): void {
  if (!(e instanceof Reenqueued)) throw e;
}

export class VersionLane<Stage extends string> {
  readonly operator: OperatorState<Stage>;
  approval: { version: number; by: string; at?: string } | undefined;
  rejection: { version: number; reason: string; by: string } | undefined;
  private readonly book: StageBook<Stage>;
  private readonly state: LaneState<Stage>;

  constructor(private readonly opts: LaneOptions<Stage>) {
    this.state = opts.state;
    this.book = new StageBook<Stage>(opts.stateOf);
    this.operator = new OperatorState<Stage>(this.lane('waiting'), {
      frozen: async ({ reason, by }, stoppedBefore) => {
        Object.assign(this.state, { frozenReason: reason, frozenBy: by });
        await this.enterStage(this.lane('frozen'), `frozen: ${reason} (by ${by}) — waiting for unfreeze or reenqueue`, { reason, by, stoppedBefore });
      },
      unfrozen: async (resumes) => {
        Object.assign(this.state, { frozenReason: undefined, frozenBy: undefined });
        await this.event('unfrozen', `unfrozen, continuing at ${resumes}`, { version: this.state.current?.version });
      },
    });
  }

  /** A stage every lane's own stages include. */
  private lane(stage: LaneStage): Stage {
    return stage as Stage;
  }

  /**
   * freeze, unfreeze and reenqueue (operator-state.ts); a reenqueue runs again a version that is
   * rejected, failed or frozen. `waiting` names what the lane's versions are ("a package").
   */
  installOperator<FreezeAck, UnfreezeAck, ReenqueueAck>(
    o: Pick<
      OperatorHandlers<Stage, FreezeAck, UnfreezeAck, ReenqueueAck>,
      'freeze' | 'unfreeze' | 'reenqueue' | 'frozenAck' | 'unfrozenAck' | 'reenqueuedAck'
    > & {
      waiting: string;
    },
  ): void {
    const { id } = this.opts;
    const state = this.state;
    this.operator.install({
      ...o,
      id,
      stage: () => state.stage,
      since: () => state.updatedAt,
      refuseReenqueue: (stage) =>
        ['rejected', 'failed', 'frozen'].includes(stage) && state.current ? undefined : `${id} is ${stage}, not ${o.waiting} waiting for an operator`,
    });
  }

  /** The lane's first stage: shown under its pipeline's name, waiting for its first version. */
  async start(pipeline: string): Promise<void> {
    upsertSearchAttributes([
      { key: SA.pipeline, value: pipeline },
      { key: SA.objectId, value: this.opts.id },
      { key: SA.frozen, value: false },
    ]);
    await this.enterStage(this.lane('waiting'), this.opts.waitingMessage());
  }

  installDecisions<ApproveRequest extends { version?: number; by: string; at?: string }, ApproveAck, RejectAck>(
    d: Decisions<Stage, ApproveRequest, ApproveAck, RejectAck>,
  ): void {
    const { id } = this.opts;
    const state = this.state;
    setHandler(
      d.approve,
      (request) => {
        const version = request.version ?? state.current!.version;
        this.approval = { version, at: request.at, by: request.by };
        return d.approvedAck(version, request);
      },
      {
        validator: (request) => {
          if (!d.approvable.includes(state.stage) || !state.current) throw new Error(`${id} has no version waiting for approval (it is ${state.stage})`);
          if (request.version !== undefined && request.version !== state.current.version)
            throw new Error(`${id} v${request.version} is not waiting for approval; v${state.current.version} is`);
          d.checkApproval?.(request);
        },
      },
    );
    setHandler(
      d.reject,
      (request) => {
        const version = request.version ?? state.current!.version;
        this.rejection = { version, reason: request.reason, by: request.by };
        return d.rejectedAck(version);
      },
      {
        validator: (request) => {
          if (!request.reason.trim()) throw new Error('a rejection needs a reason');
          if (!d.rejectable.includes(state.stage) || !state.current) throw new Error(`${id} has no version waiting for a decision (it is ${state.stage})`);
          if (request.version !== undefined && request.version !== state.current.version)
            throw new Error(`${id} v${request.version} is not waiting for a decision; v${state.current.version} is`);
        },
      },
    );
  }

  /** A new run of a version: no decision, reenqueue or error carried over from the last one. */
  startRun(): void {
    this.approval = undefined;
    this.rejection = undefined;
    this.operator.reenqueueBy = undefined;
    this.state.lastError = undefined;
  }

  async event(kind: string, message: string, extra: { version?: number; stage?: Stage; detail?: unknown } = {}): Promise<string | undefined> {
    const at = new Date().toISOString();
    const key = this.book.nextKey(kind);
    const recorded = await this.opts.record(
      { kind, message, version: extra.version, stage: extra.stage, detail: extra.detail, at, key },
      `${kind}: ${this.opts.id}${extra.version ? ` v${extra.version}` : ''}`,
    );
    this.state.updatedAt = at;
    // Histories from before the result carried the build replay it as undefined.
    return recorded?.buildId;
  }

  async enterStage(stage: Stage, message: string, detail?: unknown): Promise<void> {
    const buildId = await this.event('stage', message, { version: this.state.current?.version, stage, detail });
    this.state.stage = stage;
    // Versions that arrived while the event was being recorded change what an idle lane waits for.
    this.state.details = stage === this.lane('waiting') && this.opts.idle() ? this.opts.waitingMessage() : message;
    this.book.show(stage, this.state.details, buildId);
  }

  /** The words an operator sees: the state's details and the Web UI's current details. */
  describeNow(message: string): void {
    this.state.details = message;
    setCurrentDetails(message);
  }

  /** Before `next`: a freeze holds the lane here until unfreeze (or reenqueue of the version). */
  async checkpoint(next: Stage): Promise<void> {
    if ((await this.operator.checkpoint(next)) === 'reenqueued') throw new Reenqueued();
  }

  /** Rejected or failed: wait for reenqueue (a new run of the version) or reject (skip it). */
  async waitForOperator(stage: Stage, error: string): Promise<'again' | 'skip'> {
    this.state.lastError = error;
    const message = `${stage}: ${error} — waiting for reenqueue, reject or freeze`;
    await this.enterStage(stage, message, { error });
    for (;;) {
      await condition(() => this.operator.reenqueueBy !== undefined || this.rejection !== undefined || this.operator.freezeAsked);
      if (this.operator.reenqueueBy) return 'again';
      if (this.rejection) return 'skip';
      try {
        await this.checkpoint(stage);
      } catch (e) {
        if (e instanceof Reenqueued) return 'again';
        throw e;
      }
      await this.enterStage(stage, message, { error });
    }
  }

  /** An operator's reject of the version, on record with who and why. */
  async recordRejection(version: number): Promise<void> {
    const r = this.rejection;
    await this.event('rejected', `v${version} rejected by ${r?.by}: ${r?.reason}`, { version, detail: r });
  }
}
