// The demo's table of outcomes: one line per object, and under each object that did not end
// confirmed the reason it did not, so nobody has to open the ledger to learn why.
import type { ObjectRow } from '../ledger';
import { preserveWorkflowId } from '../common/preservation';
import { printable } from './printable';

const INDENT = ''.padEnd(10);

/** Why an object is not confirmed: who froze it and why, else the last error. */
export function outcomeReason(row: ObjectRow): string | undefined {
  if (row.frozen) return `frozen${row.frozenBy ? ` by ${row.frozenBy}` : ''}: ${row.frozenReason ?? '(no reason given)'}`;
  return row.lastError ?? undefined;
}

/**
 * The table's lines and whether every outcome is the expected one (`expected`: object id to
 * final state; an object it does not name may end in any state).
 */
export function outcomeTable(rows: ObjectRow[], expected: Record<string, string>, workflowsUrl: string): { lines: string[]; asExpected: boolean } {
  const lines = [`${'object'.padEnd(10)} ${'outcome'.padEnd(10)} ${'SIP'.padEnd(26)} workflow`];
  let asExpected = true;
  for (const r of rows) {
    const ok = expected[r.id] === undefined || expected[r.id] === r.state;
    asExpected &&= ok;
    lines.push(
      `${printable(r.id).padEnd(10)} ${r.state.padEnd(10)} ${printable(r.lastSipId ?? '-').padEnd(26)} ${workflowsUrl}/${encodeURIComponent(preserveWorkflowId(r.id))}`,
    );
    if (r.state !== 'confirmed' || r.frozen) lines.push(`${INDENT} reason: ${printable(outcomeReason(r) ?? '(none recorded in the ledger)')}`);
    if (!ok) lines.push(`${INDENT} UNEXPECTED: expected ${expected[r.id]}`);
  }
  return { lines, asExpected };
}
