// The operator's commands for repository copies: `custody copy` sends versions of a dataset to
// its copy workflow (`copy:<dataset>:<type>`, signal-with-start), freeze/unfreeze/reenqueue take
// `copy:<dataset>:<type>` like objects, and status shows the versions, their depositions and
// (with --log) every request made to the deposit API.
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  COPY_TASK_QUEUES,
  copyApproveUpdate,
  copyRejectUpdate,
  DATASET_ID,
  copyFreezeUpdate,
  copyReenqueueUpdate,
  copyRequestSignal,
  copyStateQuery,
  copyUnfreezeUpdate,
  copyWorkflowId,
  type CopyDatasetInput,
  type CopyRequest,
  type CopySettings,
  type CopyState,
  type CopyType,
} from '../common/copies';
import type { Config } from '../config/config';
import type { CopyVersionRow, DepositLogRow, EventRow, Ledger } from '../ledger';
import { openStorage } from '../storage';
import { refused, viaUpdate, type OperatorOutcome, type Plan } from './operator';
import { describeStage, laneRun, planBase, planLaneFreeze, planLaneUnfreeze, type Lane, type LaneRun } from './lane-plans';
import { printable, wrap } from './printable';
import { UserError } from './user-error';

export function copySettings(config: Config): CopySettings {
  return {
    retry: { io: config.retry.io, upload: config.retry.submit },
    heartbeatTimeout: config.heartbeatTimeout,
    defaultMode: config.copies.defaultMode,
    continueAsNewAfter: config.copies.continueAsNewAfter,
  };
}

/** The versions of a dataset its source holds (`<dataset>/v<N>/`), in order. */
export async function versionsInSource(config: Config, datasetId: string): Promise<number[]> {
  const source = openStorage(config.copies.source, config.storage.s3);
  const versions = new Set<number>();
  for await (const o of source.list(`${datasetId}/`)) {
    const m = /^v([1-9]\d{0,8})\//.exec(o.key.slice(datasetId.length + 1));
    if (m) versions.add(Number(m[1]));
  }
  return [...versions].sort((a, b) => a - b);
}

/** The dataset ids the source holds: its top-level folders with at least one version. */
export async function datasetsInSource(config: Config): Promise<string[]> {
  const source = openStorage(config.copies.source, config.storage.s3);
  const ids = new Set<string>();
  for await (const o of source.list('')) {
    const [id, version] = o.key.split('/');
    if (id && version && /^v[1-9]\d{0,8}$/.test(version) && DATASET_ID.test(id)) ids.add(id);
  }
  return [...ids].sort();
}

/** The copy's workflow, whether it runs, and its state; nothing is created. */
const copyRun = (client: Client, datasetId: string, type: CopyType): Promise<LaneRun<CopyState>> =>
  laneRun(client.workflow.getHandle(copyWorkflowId(datasetId, type)), copyStateQuery);

const unknownCopy = (copyId: string, ref: { datasetId: string; type: CopyType }) =>
  `unknown copy ${copyId}: there is no such workflow (custody copy ${ref.datasetId} --type ${ref.type} starts it)`;

const copyLane = (client: Client, ref: { datasetId: string; type: CopyType }): Lane<CopyState> => {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  return {
    ref: copyId,
    run: () => copyRun(client, ref.datasetId, ref.type),
    unknown: unknownCopy(copyId, ref),
    waitsFor: 'a version',
    freeze: copyFreezeUpdate,
    unfreeze: copyUnfreezeUpdate,
  };
};

export interface CopyOutcome {
  copyId: string;
  version: number;
  /** held: custody is drained; `custody resume` sends it. */
  action: 'sent' | 'would-send' | 'refused' | 'held';
  reason?: string;
}

/** Why a version may not be sent now, or undefined. */
function refusalOf(state: CopyState | undefined, version: number): string | undefined {
  if (!state) return undefined;
  if (state.copied && version <= state.copied.version)
    return version === state.copied.version
      ? `v${version} is already copied (deposition ${state.copied.depositionId})`
      : `v${version} is older than the copied v${state.copied.version}`;
  if (state.current?.version === version) return `v${version} is being copied now (${state.stage})`;
  if (state.pending.includes(version)) {
    const unfinished = state.current?.version ?? (state.copied?.version ?? 0) + 1;
    return `v${version} was sent already and waits for v${unfinished}, which is unfinished`;
  }
  return undefined;
}

/**
 * Sends each asked-for version to the copy workflow, starting it if needed. Without `version`,
 * every version in the source that is not copied or on its way. Refusals are outcomes, not errors.
 */
export async function sendCopies(
  deps: { client?: Client; config: Config; ledger?: Ledger },
  ask: { datasetId: string; type: CopyType; version?: number; mode?: 'automatic' | 'preview'; dryRun?: boolean },
  by: string,
): Promise<CopyOutcome[]> {
  const { datasetId, type } = ask;
  const copyId = copyWorkflowId(datasetId, type);
  const inSource = await versionsInSource(deps.config, datasetId);
  if (!inSource.length) throw new UserError(`no dataset ${datasetId} in ${deps.config.copies.source} (expected ${datasetId}/v<version>/${type}/)`);
  const state = deps.client ? (await copyRun(deps.client, datasetId, type)).state : undefined;
  const wanted = ask.version !== undefined ? [ask.version] : inSource.filter((v) => !refusalOf(state, v));
  const outcomes: CopyOutcome[] = [];
  for (const version of wanted) {
    const refusal = inSource.includes(version)
      ? refusalOf(state, version)
      : `no v${version} of ${datasetId} in the source (it has ${inSource.map((v) => `v${v}`).join(', ')})`;
    if (refusal) {
      outcomes.push({ copyId, version, action: 'refused', reason: refusal });
      continue;
    }
    if (ask.dryRun || !deps.client) {
      outcomes.push({ copyId, version, action: 'would-send' });
      continue;
    }
    const request: CopyRequest = { datasetId, type, version, mode: ask.mode, by, at: new Date().toISOString() };
    if (deps.ledger && (await deps.ledger.drain.state())) {
      await deps.ledger.drain.hold({ kind: 'copy', itemId: `${copyId} v${version}`, args: request, heldBy: by, at: request.at });
      outcomes.push({ copyId, version, action: 'held' });
      continue;
    }
    await sendCopyRequest(deps.client, deps.config, request);
    outcomes.push({ copyId, version, action: 'sent' });
  }
  return outcomes;
}

/** One version to its copy workflow, started if needed (signal-with-start). */
export async function sendCopyRequest(client: Client, config: Config, request: CopyRequest): Promise<void> {
  const { datasetId, type } = request;
  await client.workflow.signalWithStart('copyDataset', {
    workflowId: copyWorkflowId(datasetId, type),
    taskQueue: COPY_TASK_QUEUES.io,
    args: [{ datasetId, type, settings: copySettings(config) } satisfies CopyDatasetInput],
    signal: copyRequestSignal,
    signalArgs: [request],
    staticSummary: `copies of ${datasetId} (${type})`,
  });
}

// freeze, unfreeze and reenqueue of a copy, planned from its workflow's state like an object's.

export const planCopyFreeze = (client: Client, ref: { datasetId: string; type: CopyType }, reason: string, by: string): Promise<Plan> =>
  planLaneFreeze(copyLane(client, ref), reason, by);

export const planCopyUnfreeze = (client: Client, ref: { datasetId: string; type: CopyType }, by: string): Promise<Plan> =>
  planLaneUnfreeze(copyLane(client, ref), by);

export async function planCopyReenqueue(client: Client, ref: { datasetId: string; type: CopyType }, by: string, opts: { force?: boolean }): Promise<Plan> {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  if (opts.force) return refused(copyId, '--force is for preserved objects: a copied version is replaced by copying a new version');
  const base = await planBase(copyLane(client, ref));
  if ('verdict' in base) return base;
  const { handle, state } = base;
  if (!['rejected', 'failed', 'frozen'].includes(state.stage) || !state.current)
    return refused(copyId, `${copyId} is ${describeStage(state)}, not a version waiting for an operator (reenqueue takes a failed or frozen version)`);
  const current = state.current;
  return {
    objectId: copyId,
    ok: true,
    verdict: `would copy v${current.version} again from the check, as run ${current.run + 1}`,
    execute: () =>
      viaUpdate(copyId, async () => {
        const ack = await handle.executeUpdate(copyReenqueueUpdate, { args: [{ by }] });
        return `v${ack.version} runs again from the check, as run ${current.run + 1}`;
      }),
  };
}

// approve and reject: publishing a copied version can wait for an operator, like an article.

/** The running copy workflow, or a one-line error naming the copy. */
async function runningCopy(client: Client, ref: { datasetId: string; type: CopyType }): Promise<WorkflowHandle> {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  const run = await copyRun(client, ref.datasetId, ref.type);
  if (!run.status) throw new UserError(unknownCopy(copyId, ref));
  if (run.status !== 'RUNNING') throw new UserError(`${copyId}: its workflow is not running (${run.status})`);
  return run.handle;
}

export async function approveCopy(
  client: Client,
  ref: { datasetId: string; type: CopyType },
  opts: { version?: number },
  by: string,
): Promise<OperatorOutcome> {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  const handle = await runningCopy(client, ref);
  return viaUpdate(copyId, async () => {
    const ack = await handle.executeUpdate(copyApproveUpdate, { args: [{ version: opts.version, by }] });
    return { message: `v${ack.version} approved by ${by}; publishing its deposition now`, version: ack.version };
  });
}

export async function rejectCopy(
  client: Client,
  ref: { datasetId: string; type: CopyType },
  opts: { version?: number; reason: string },
  by: string,
): Promise<OperatorOutcome> {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  const handle = await runningCopy(client, ref);
  return viaUpdate(copyId, async () => {
    const ack = await handle.executeUpdate(copyRejectUpdate, { args: [{ version: opts.version, reason: opts.reason, by }] });
    return {
      message: `v${ack.version} rejected by ${by}: ${opts.reason} (its deposition stays a draft; the copy waits for its next version)`,
      version: ack.version,
    };
  });
}

// status

export interface CopyStatus {
  copyId: string;
  workflow: string | null;
  live?: CopyState;
  /** Each version's deposition from the ledger. */
  versions: CopyVersionRow[];
  history: EventRow[];
  /** With --log: every request to the deposit API, secrets redacted. */
  log?: DepositLogRow[];
}

export async function copyStatus(
  ledger: Ledger,
  client: Client | undefined,
  ref: { datasetId: string; type: CopyType },
  opts: { log?: boolean } = {},
): Promise<CopyStatus> {
  const copyId = copyWorkflowId(ref.datasetId, ref.type);
  const [history, versions] = await Promise.all([ledger.timeline(copyId), ledger.copies.versions(copyId)]);
  let run: LaneRun<CopyState> | undefined;
  if (client) run = await copyRun(client, ref.datasetId, ref.type).catch(() => undefined);
  if (!history.length && !run?.status)
    throw new UserError(`unknown copy ${copyId}: no workflow and nothing in the ledger (custody copy ${ref.datasetId} --type ${ref.type} starts it)`);
  return {
    copyId,
    workflow: run?.status ?? null,
    ...(run?.state ? { live: run.state } : {}),
    versions,
    history,
    ...(opts.log ? { log: await ledger.copies.requests(copyId) } : {}),
  };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/** Steps every version passes through, left out of the human history (--json has them). */
const STEPS = new Set(['waiting', 'checking', 'preparing', 'uploading', 'publishing'].map((s) => `copy-${s}`));

export function formatCopyStatus(s: CopyStatus): string {
  const live = s.live;
  const lines = [`${s.copyId} — ${live ? live.stage : s.workflow ? `workflow ${s.workflow.toLowerCase()}` : 'workflow state unknown'}`];
  // A frozen copy's details repeat the reason the frozen line below gives.
  if (live?.details && live.stage !== 'frozen') lines.push(`  ${live.details}`);
  if (live?.stage === 'frozen') lines.push(`  frozen: ${live.frozenReason ?? ''} (by ${live.frozenBy ?? '?'})`);
  if (live?.lastError && live.stage !== 'frozen') lines.push(`  last error: ${live.lastError}`);
  if (live?.pending.length) lines.push(`  pending: ${live.pending.map((v) => `v${v}`).join(', ')}`);
  lines.push('  versions:');
  if (!s.versions.length) lines.push('    (none deposited yet)');
  for (const v of s.versions)
    lines.push(
      `    v${v.version}  ${v.state}  deposition ${v.depositionId ?? '-'}${v.doi ? `  DOI ${v.doi}` : ''}${v.recordId ? `  record ${v.recordId}` : ''}  (${v.updatedAt})`,
    );
  lines.push("  history (outcomes and operators' actions; --json has every step):");
  const history = s.history.filter((e) => !STEPS.has(e.kind));
  if (!history.length) lines.push('    (nothing recorded yet)');
  for (const e of history) {
    const d = (e.detail ?? {}) as { message?: string };
    lines.push(`    ${e.at}  ${e.kind.replace(/^copy-/, '')}  ${d.message ?? JSON.stringify(e.detail)}`);
  }
  if (s.log) {
    // The API's address once; each request by its path, so a line reads at a glance.
    const origins = [...new Set(s.log.map((r) => originOf(r.url)))];
    lines.push(`  deposit API requests (${s.log.length}${origins.length === 1 ? ` to ${origins[0]}` : ''}, secrets redacted):`);
    for (const r of s.log) {
      const where = origins.length === 1 ? r.url.slice(origins[0]!.length) : r.url;
      lines.push(`    ${r.at}  ${r.method} ${where} → ${r.status ?? r.error ?? '?'} (${r.ms} ms${r.attempt > 1 ? `, try ${r.attempt}` : ''})`);
    }
  }
  return lines.flatMap((l) => wrap(printable(l))).join('\n');
}
