// `custody status`: counts per stage and the objects waiting for an operator (from the
// ledger, which outlives Temporal's retention), or one object's whole timeline.
import type { Client } from '@temporalio/client';
import { STAGES, preserveWorkflowId, stateQuery, type PreserveObjectState, type Stage } from '../common/preservation';
import type { EventRow, Ledger, ObjectRow, PackageRow } from '../activities/ledger';
import { UserError } from './user-error';

export interface StatusSummary {
  total: number;
  counts: Partial<Record<Stage, number>>;
  needsAttention: Array<{ id: string; state: Stage; frozen: boolean; reason: string | null; by: string | null; sipId: string | null }>;
}

const ATTENTION: Stage[] = ['rejected', 'failed', 'frozen', 'no-verdict'];

export async function summarize(ledger: Ledger): Promise<StatusSummary> {
  const rows = await ledger.listObjects();
  const counts: Partial<Record<Stage, number>> = {};
  for (const r of rows) counts[r.state] = (counts[r.state] ?? 0) + 1;
  return {
    total: rows.length,
    counts,
    // A frozen flag without a running workflow (frozen before enqueue) needs attention too.
    needsAttention: rows
      .filter((r) => ATTENTION.includes(r.state) || r.frozen)
      .map((r) => ({
        id: r.id,
        state: r.state,
        frozen: r.frozen,
        reason: r.frozen ? r.frozenReason : r.lastError,
        by: r.frozen ? r.frozenBy : null,
        sipId: r.lastSipId,
      })),
  };
}

export interface ObjectStatus {
  object: ObjectRow;
  packages: PackageRow[];
  timeline: EventRow[];
  /** The running workflow's own answer, when it is running (or still queryable). */
  live?: PreserveObjectState;
}

export async function objectStatus(ledger: Ledger, client: Client, id: string): Promise<ObjectStatus> {
  const object = await ledger.getObject(id);
  if (!object) throw new UserError(`unknown object id ${id}: custody has no record of it (enqueue it first)`);
  let live: PreserveObjectState | undefined;
  try {
    live = await client.workflow.getHandle(preserveWorkflowId(id)).query(stateQuery);
  } catch {
    // Closed past retention, or no worker to answer: the ledger's record stands on its own.
  }
  return { object, packages: await ledger.packagesOf(id), timeline: await ledger.timeline(id), live };
}

export function formatSummary(s: StatusSummary): string {
  const lines = [`${s.total} object${s.total === 1 ? '' : 's'} in the ledger`];
  for (const stage of STAGES) if (s.counts[stage]) lines.push(`  ${stage.padEnd(17)} ${s.counts[stage]}`);
  if (s.needsAttention.length) {
    lines.push('', 'waiting for an operator:');
    for (const o of s.needsAttention) {
      const state = o.frozen && o.state !== 'frozen' ? `frozen (${o.state})` : o.state;
      lines.push(`  ${o.id.padEnd(14)} ${state.padEnd(11)} ${o.reason ?? ''}${o.by ? `  [by ${o.by}]` : ''}`);
    }
  }
  return lines.join('\n');
}

export function formatObjectStatus(s: ObjectStatus): string {
  const o = s.object;
  const lines = [
    `${o.id} — ${o.title ?? '(title not read yet)'}`,
    `  state: ${o.state}${o.frozen ? ` (frozen: ${o.frozenReason ?? ''}${o.frozenBy ? `, by ${o.frozenBy}` : ''})` : ''}`,
  ];
  if (o.lastError) lines.push(`  last error: ${o.lastError}`);
  if (s.live) {
    lines.push(`  workflow: stage ${s.live.stage}, attempt ${s.live.attempt}, SIP ${s.live.sipId ?? '-'}`);
    if (s.live.lastErrorStack) lines.push(`  stack:\n${s.live.lastErrorStack.replace(/^/gm, '    ')}`);
  }
  if (s.packages.length) {
    lines.push('  packages:');
    for (const p of s.packages) {
      lines.push(`    ${p.sipId}  attempt ${p.attempt}  ${p.size} bytes  sha256 ${p.sha256.slice(0, 16)}…  ${p.verdict ?? 'no verdict yet'}${p.decidedAt ? ` at ${p.decidedAt}` : ''}`);
      for (const r of p.reasons) lines.push(`      - ${r}`);
    }
  }
  lines.push('  timeline:');
  for (const e of s.timeline) lines.push(`    ${e.at}  ${e.kind === 'stage' ? e.stage : e.kind}${e.sipId ? `  ${e.sipId}` : ''}`);
  return lines.join('\n');
}
