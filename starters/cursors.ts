// `custody cursors`: how far the scheduled harvest has got in each source, and `cursors set` to
// move one — the replacement for restoring a checkpoint.json — recorded in the ledger with who and
// why. A rewind further back than harvest.maxBackfill needs --disaster-recovery: re-reading that
// much of a source is a decision, not a typo.
import ms from 'ms';
import { harvestSources, type Config } from '../config/config';
import type { CursorRow, Ledger } from '../ledger';
import { printable, wrap } from './printable';
import { UserError } from './user-error';

export interface CursorStatus {
  source: string;
  location: string;
  /** Null: no run has read this source yet. */
  cursor: CursorRow | null;
}

/** One row per configured source, whether or not a run has reached it yet. */
export async function listCursors(config: Config, ledger: Ledger): Promise<CursorStatus[]> {
  const rows = await ledger.cursors.list();
  return harvestSources(config).map((s) => ({ source: s.name, location: s.location, cursor: rows.find((r) => r.source === s.name) ?? null }));
}

export function formatCursors(list: CursorStatus[]): string[] {
  return list
    .flatMap(({ source, location, cursor: c }) => {
      const lines = [`${source}  ${location}`];
      if (!c) return [...lines, '  cursor    none yet (the first run starts harvest.maxBackfill ago)'];
      if (c.location !== location) lines.push(`  (the cursor is of ${c.location}: the next run starts this location afresh)`);
      lines.push(`  cursor    ${c.position.at}${c.position.key ? ` after ${c.position.key}` : ''}`);
      lines.push(`  moved     ${c.updatedAt} by ${c.updatedBy}: ${c.reason}`);
      if (c.lastRunAt) lines.push(`  last run  ${c.lastRunAt}${c.lastError ? `, failed: ${c.lastError}` : ', read the source'}`);
      return lines;
    })
    .flatMap((l) => wrap(printable(l)));
}

/**
 * Moves a source's cursor to `to`: the next run takes every object changed at or after it again
 * (what it finds unchanged since it was enqueued is not enqueued twice).
 */
export async function setCursor(
  deps: { config: Config; ledger: Ledger },
  source: string,
  o: { to: Date; reason: string; by: string; disasterRecovery?: boolean; now?: Date },
): Promise<CursorRow> {
  const now = o.now ?? new Date();
  const configured = harvestSources(deps.config).find((s) => s.name === source);
  if (!configured)
    throw new UserError(
      `unknown source ${source}: harvest.sources has ${harvestSources(deps.config)
        .map((s) => s.name)
        .join(', ')}`,
    );
  if (!o.reason.trim()) throw new UserError('--reason must say why the cursor moves');
  if (o.to.getTime() > now.getTime()) throw new UserError(`--to ${o.to.toISOString()} is in the future: a cursor moves back to re-read a source`);
  const oldest = new Date(now.getTime() - ms(deps.config.harvest.maxBackfill));
  if (o.to < oldest && !o.disasterRecovery)
    throw new UserError(
      `--to ${o.to.toISOString()} is further back than harvest.maxBackfill (${deps.config.harvest.maxBackfill}, ${oldest.toISOString()}); add --disaster-recovery to re-read that much of ${source}`,
    );
  const reason = o.disasterRecovery ? `disaster recovery: ${o.reason}` : o.reason;
  await deps.ledger.cursors.set(source, {
    location: configured.location,
    position: { at: o.to.toISOString(), key: '' },
    by: o.by,
    reason,
    at: now.toISOString(),
  });
  return (await deps.ledger.cursors.get(source))!;
}
