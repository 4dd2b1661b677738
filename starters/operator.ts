// `custody freeze`, `unfreeze` and `reenqueue`: one command instead of editing database rows.
// A running workflow is told through an Update, so the command can report that the action
// took effect; an object with no running workflow is acted on in the ledger.
//
// Each action is planned first (plan* below) and then carried out: `--dry-run` prints the
// plan and stops, so a dry run applies exactly the rules of the real run.
import os from 'node:os';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { REENQUEUABLE_STAGES, STAGES, freezeUpdate, preserveWorkflowId, reenqueueUpdate, unfreezeUpdate, type Stage } from '../common/preservation';
import { SA } from '../common/search-attributes';
import type { Config } from '../config/config';
import type { Ledger, ObjectRow, PackageRow } from '../ledger';
import type { ObjectSource } from '../sources';
import { startPreservation } from './enqueue';
import { assertObjectId } from './object-ids';
import { UserError } from './user-error';

export const operatorName = (): string => `${os.userInfo().username}@${os.hostname()}`;

export interface OperatorOutcome {
  objectId: string;
  ok: boolean;
  message: string;
}

interface Deps {
  client: Client;
  config: Config;
  ledger: Ledger;
  /** Needed only to freeze an object the ledger has not seen yet. */
  source?: ObjectSource;
}

/** What an action would do to one object, or why it is refused; `execute` does it. */
export interface Plan {
  objectId: string;
  ok: boolean;
  /** The id is not in the ledger (or, for --not-yet-enqueued, not in the source). */
  unknown?: boolean;
  /** "would …" for a dry run, or the refusal. */
  verdict: string;
  execute(): Promise<OperatorOutcome>;
}

export function refused(objectId: string, message: string, unknown = false): Plan {
  return { objectId, ok: false, unknown, verdict: message, execute: async () => ({ objectId, ok: false, message }) };
}

const unknownToLedger = (id: string) => refused(id, `unknown object id ${id}: not in custody's ledger (enqueue it first)`, true);

/** Whether the object's workflow is running, and the stage it last showed (its search attribute, which the workflow sets with its state). */
async function runOf(client: Client, objectId: string, row: ObjectRow): Promise<{ running: boolean; stage: Stage }> {
  try {
    const d = await client.workflow.getHandle(preserveWorkflowId(objectId)).describe();
    const stage = d.typedSearchAttributes.get(SA.stage);
    const known = stage !== undefined && (STAGES as readonly string[]).includes(stage);
    return { running: d.status.name === 'RUNNING', stage: known ? (stage as Stage) : row.state };
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return { running: false, stage: row.state };
    throw e;
  }
}

/** A validator's refusal (a race the plan could not see) reaches the operator as it is. */
export async function viaUpdate<Extra extends object = object>(
  objectId: string,
  run: () => Promise<string | ({ message: string } & Extra)>,
): Promise<OperatorOutcome & Partial<Extra>> {
  let outcome: OperatorOutcome;
  try {
    const done = await run();
    // What took effect: a message, or a message with details (the version an article's Update acted on).
    outcome = typeof done === 'string' ? { objectId, ok: true, message: done } : { objectId, ok: true, ...done };
  } catch (e) {
    if (!(e instanceof WorkflowUpdateFailedError)) throw e;
    outcome = { objectId, ok: false, message: e.cause?.message ?? e.message };
  }
  return outcome as OperatorOutcome & Partial<Extra>;
}

const ledgerKey = (verb: string, objectId: string) => `cli:${verb}:${objectId}:${new Date().toISOString()}`;

/** Stages with no step left to stop before (the workflow's freeze validator refuses them too). */
const UNFREEZABLE: readonly Stage[] = ['confirming', 'confirmed', 'no-verdict'];

async function sourceHas(source: ObjectSource | undefined, objectId: string): Promise<boolean> {
  if (!source) throw new Error('freezing an object the ledger has not seen yet needs the source');
  // An object whose object.json is invalid is listed too: it can be frozen like any other.
  for await (const o of source.listEach()) if (o.id === objectId) return true;
  return false;
}

export async function planFreeze(deps: Deps, objectId: string, reason: string, by: string, opts: { notYetEnqueued?: boolean } = {}): Promise<Plan> {
  assertObjectId(objectId);
  if (!reason.trim()) throw new UserError('a freeze needs a reason (--reason must not be empty)');
  const { client, ledger } = deps;
  const inLedger = async (message: string): Promise<Plan> => ({
    objectId,
    ok: true,
    verdict: `would be ${message}`,
    execute: async () => {
      await ledger.setFrozen(objectId, { reason, by }, { key: ledgerKey('freeze', objectId), at: new Date().toISOString() });
      return { objectId, ok: true, message: `not running: ${message}` };
    },
  });
  const row = await ledger.getObject(objectId);
  if (!row) {
    if (!opts.notYetEnqueued)
      return refused(
        objectId,
        `unknown object id ${objectId}: not in custody's ledger (to freeze an object the source has but custody has not seen yet: --not-yet-enqueued)`,
        true,
      );
    if (!(await sourceHas(deps.source, objectId)))
      return refused(objectId, `unknown object id ${objectId}: not in the source ${deps.config.storage.source}`, true);
    return inLedger('recorded frozen in the ledger before enqueue; enqueue will skip it');
  }
  const run = await runOf(client, objectId, row);
  if (!run.running) return inLedger('recorded frozen in the ledger; enqueue will skip it');
  if (UNFREEZABLE.includes(run.stage)) return refused(objectId, `${objectId} is ${run.stage}: there is no stage left to stop before`);
  return {
    objectId,
    ok: true,
    verdict: `would be frozen before its next stage (it is ${run.stage})`,
    execute: () =>
      viaUpdate(objectId, async () => {
        const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(freezeUpdate, { args: [{ reason, by }] });
        return `frozen before ${ack.stoppedBefore} (at ${ack.frozenAt})`;
      }),
  };
}

export async function planUnfreeze(deps: Deps, objectId: string, by: string): Promise<Plan> {
  assertObjectId(objectId);
  const { client, ledger } = deps;
  const row = await ledger.getObject(objectId);
  if (!row) return unknownToLedger(objectId);
  const run = await runOf(client, objectId, row);
  if (run.running) {
    if (run.stage !== 'frozen') return refused(objectId, `${objectId} is not frozen (it is ${run.stage})`);
    return {
      objectId,
      ok: true,
      verdict: 'would be unfrozen and continue from the stage where it stopped',
      execute: () =>
        viaUpdate(objectId, async () => {
          const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(unfreezeUpdate, { args: [{ by }] });
          return `unfrozen; continues with ${ack.resumes}`;
        }),
    };
  }
  if (!row.frozen) return refused(objectId, 'is not frozen');
  return {
    objectId,
    ok: true,
    verdict: 'would be unfrozen in the ledger (not running); enqueue would take it',
    execute: async () => {
      await ledger.setFrozen(objectId, null, { key: ledgerKey('unfreeze', objectId), at: new Date().toISOString() });
      return { objectId, ok: true, message: 'not running: unfrozen in the ledger; enqueue will take it' };
    },
  };
}

export interface ReenqueueOptions {
  /** Preserve again an object that is already confirmed; needs `reason`. */
  force?: boolean;
  reason?: string;
}

/** The object's last accepted package: what a confirmed object's preservation rests on. */
function lastAccepted(packages: PackageRow[]): PackageRow | undefined {
  return packages.filter((p) => p.verdict === 'accepted').at(-1);
}

/** Records who started a new attempt and why, in the object's timeline. */
async function recordReenqueue(
  ledger: Ledger,
  objectId: string,
  detail: { by: string; attempt: number; reason?: string; forced?: boolean; previousSipId?: string },
): Promise<void> {
  const at = new Date().toISOString();
  await ledger.recordEvent({ key: `cli:reenqueued:${objectId}:${detail.attempt}:${at}`, objectId, kind: 'reenqueued', detail, at });
}

/** Starting the object again from download with a new SIP id: when it is allowed, and how. */
export async function planReenqueue(deps: Deps, objectId: string, by: string, opts: ReenqueueOptions = {}): Promise<Plan> {
  assertObjectId(objectId);
  const reason = opts.reason?.trim() || undefined;
  if (opts.force && !reason) throw new UserError('--force needs --reason TEXT: a new preservation of a confirmed object is recorded with why');
  const { client, ledger } = deps;
  const row = await ledger.getObject(objectId);
  if (!row) return unknownToLedger(objectId);
  const run = await runOf(client, objectId, row);
  if (run.running) {
    if (!REENQUEUABLE_STAGES.includes(run.stage)) {
      return refused(objectId, `${objectId} is ${run.stage}, not waiting for an operator (reenqueue takes ${REENQUEUABLE_STAGES.join(', ')})`);
    }
    return {
      objectId,
      ok: true,
      verdict: `would be reenqueued: its running workflow (${run.stage}) continues as a new attempt`,
      execute: () =>
        viaUpdate(objectId, async () => {
          const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(reenqueueUpdate, { args: [{ by }] });
          await recordReenqueue(ledger, objectId, { by, attempt: ack.nextAttempt, reason });
          return `reenqueued as attempt ${ack.nextAttempt}`;
        }),
    };
  }
  const packages = await ledger.packagesOf(objectId);
  const accepted = row.state === 'confirmed' ? lastAccepted(packages) : undefined;
  if (row.state === 'confirmed' && !opts.force) {
    const what = accepted ? `SIP ${accepted.sipId}, ${accepted.decidedAt ?? 'date unknown'}` : `since ${row.updatedAt}`;
    return refused(objectId, `${objectId} is confirmed (${what}); use --force --reason TEXT to preserve it again`);
  }
  const forced = row.state === 'confirmed';
  const attempt = packages.reduce((n, p) => Math.max(n, p.attempt), 0) + 1;
  const plan = forced ? `a new preservation of a confirmed object, attempt ${attempt}` : `attempt ${attempt}`;
  return {
    objectId,
    ok: true,
    verdict: `would start again as ${plan}${row.frozen ? ' (unfrozen first)' : ''}`,
    execute: async () => {
      if (row.frozen) await ledger.setFrozen(objectId, null, { key: ledgerKey('unfreeze', objectId), at: new Date().toISOString() });
      const started = await startPreservation(deps, {
        objectId,
        attempt,
        reason: forced ? `preserved again by ${by}: ${reason}` : `reenqueued by ${by}${reason ? `: ${reason}` : ''}`,
      });
      if (started.action !== 'started' && started.action !== 'held') return { objectId, ok: false, message: 'already running' };
      await recordReenqueue(ledger, objectId, { by, attempt, reason, forced: forced || undefined, previousSipId: accepted?.sipId });
      if (started.action === 'held') return { objectId, ok: true, message: `held (drained): custody resume starts it again as ${plan}` };
      return { objectId, ok: true, message: `started again as ${plan}` };
    },
  };
}

export async function freeze(deps: Deps, objectId: string, reason: string, by: string, opts: { notYetEnqueued?: boolean } = {}): Promise<OperatorOutcome> {
  return (await planFreeze(deps, objectId, reason, by, opts)).execute();
}

export async function unfreeze(deps: Deps, objectId: string, by: string): Promise<OperatorOutcome> {
  return (await planUnfreeze(deps, objectId, by)).execute();
}

/** Starts the object again from download with a new SIP id (a confirmed object only with force and a reason). */
export async function reenqueue(deps: Deps, objectId: string, by: string, opts: ReenqueueOptions = {}): Promise<OperatorOutcome> {
  return (await planReenqueue(deps, objectId, by, opts)).execute();
}

export interface Selector {
  rejected?: boolean;
  failed?: boolean;
  frozenReason?: string;
  /** Every object waiting for an operator: rejected, failed, frozen or without a verdict. */
  all?: boolean;
}

/** The objects a selector picks from the ledger. An empty selector picks nothing: "everything" is `all`. */
export async function select(ledger: Ledger, s: Selector): Promise<string[]> {
  if (s.frozenReason !== undefined && !s.frozenReason.trim())
    throw new UserError('--frozen-reason must not be empty (use --all for every object waiting for an operator)');
  const rows = await ledger.listObjects();
  return rows
    .filter(
      (r) =>
        (s.all && (REENQUEUABLE_STAGES.includes(r.state) || r.frozen)) ||
        (s.rejected && r.state === 'rejected') ||
        (s.failed && r.state === 'failed') ||
        (s.frozenReason !== undefined && r.frozen && (r.frozenReason ?? '').includes(s.frozenReason)),
    )
    .map((r) => r.id);
}
