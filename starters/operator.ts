// `custody freeze`, `unfreeze` and `reenqueue`: one command instead of editing database rows.
// A running workflow is told through an Update, so the command can report that the action
// took effect; an object with no running workflow is acted on in the ledger.
import os from 'node:os';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { freezeUpdate, preserveWorkflowId, reenqueueUpdate, unfreezeUpdate } from '../common/preservation';
import type { Config } from '../config/config';
import type { Ledger } from '../activities/ledger';
import { startPreservation } from './enqueue';

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
}

async function isRunning(client: Client, objectId: string): Promise<boolean> {
  try {
    return (await client.workflow.getHandle(preserveWorkflowId(objectId)).describe()).status.name === 'RUNNING';
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return false;
    throw e;
  }
}

/** A validator's refusal ("is confirmed, there is no stage left…") reaches the operator as it is. */
async function viaUpdate(objectId: string, run: () => Promise<string>): Promise<OperatorOutcome> {
  try {
    return { objectId, ok: true, message: await run() };
  } catch (e) {
    if (e instanceof WorkflowUpdateFailedError) return { objectId, ok: false, message: e.cause?.message ?? e.message };
    throw e;
  }
}

const ledgerKey = (verb: string, objectId: string) => `cli:${verb}:${objectId}:${new Date().toISOString()}`;

export async function freeze({ client, ledger }: Deps, objectId: string, reason: string, by: string): Promise<OperatorOutcome> {
  if (await isRunning(client, objectId)) {
    return viaUpdate(objectId, async () => {
      const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(freezeUpdate, { args: [{ reason, by }] });
      return `frozen before ${ack.stoppedBefore} (at ${ack.frozenAt})`;
    });
  }
  await ledger.setFrozen(objectId, { reason, by }, { key: ledgerKey('freeze', objectId), at: new Date().toISOString() });
  return { objectId, ok: true, message: 'not running: recorded frozen in the ledger; enqueue will skip it' };
}

export async function unfreeze({ client, ledger }: Deps, objectId: string, by: string): Promise<OperatorOutcome> {
  if (await isRunning(client, objectId)) {
    return viaUpdate(objectId, async () => {
      const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(unfreezeUpdate, { args: [{ by }] });
      return `unfrozen; continues with ${ack.resumes}`;
    });
  }
  const row = await ledger.getObject(objectId);
  if (!row?.frozen) return { objectId, ok: false, message: 'is not frozen' };
  await ledger.setFrozen(objectId, null, { key: ledgerKey('unfreeze', objectId), at: new Date().toISOString() });
  return { objectId, ok: true, message: 'not running: unfrozen in the ledger; enqueue will take it' };
}

/** Starts the object again from download with a new SIP id. */
export async function reenqueue(deps: Deps, objectId: string, by: string): Promise<OperatorOutcome> {
  const { client, ledger } = deps;
  if (await isRunning(client, objectId)) {
    return viaUpdate(objectId, async () => {
      const ack = await client.workflow.getHandle(preserveWorkflowId(objectId)).executeUpdate(reenqueueUpdate, { args: [{ by }] });
      return `reenqueued as attempt ${ack.nextAttempt}`;
    });
  }
  const row = await ledger.getObject(objectId);
  if (!row) return { objectId, ok: false, message: 'unknown to custody (use enqueue)' };
  if (row.frozen) await ledger.setFrozen(objectId, null, { key: ledgerKey('unfreeze', objectId), at: new Date().toISOString() });
  const attempt = (await ledger.packagesOf(objectId)).reduce((n, p) => Math.max(n, p.attempt), 0) + 1;
  const started = await startPreservation(deps, { objectId, attempt, reason: `reenqueued by ${by}` });
  return { objectId, ok: started.action === 'started', message: started.action === 'started' ? `started again as attempt ${attempt}` : 'already running' };
}

/** The objects a selector picks from the ledger. */
export async function select(ledger: Ledger, s: { rejected?: boolean; failed?: boolean; frozenReason?: string }): Promise<string[]> {
  const rows = await ledger.listObjects();
  return rows
    .filter(
      (r) =>
        (s.rejected && r.state === 'rejected') ||
        (s.failed && r.state === 'failed') ||
        (s.frozenReason !== undefined && r.frozen && (r.frozenReason ?? '').includes(s.frozenReason)),
    )
    .map((r) => r.id);
}
