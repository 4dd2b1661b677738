// The activities of the scheduled harvest (the syncSource workflow, started by the `sync-source`
// Schedule). One source at a time: list it, take the objects whose change time is after the
// source's cursor and older than the settle time, in (change time, id) order, and enqueue each one
// that really changed — a batch at a time, the cursor moved in the ledger after each batch.
//
// An object's change time is the newest of its declared modifiedAt and its files' modified times.
// Time alone is not conclusive (a `touch`, a copy that rewrites times): the fingerprint — a
// SHA-256 of object.json's content and each payload file's path and size — is compared with the
// one recorded when the harvest last enqueued it; the same fingerprint is a touch, not a change.
// (A change that keeps object.json and every file's size is not seen: `custody enqueue --ids`.)
import { createHash } from 'node:crypto';
import os from 'node:os';
import ms from 'ms';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { harvestSources } from '../config/config';
import { HARVEST_ACTOR, REPORTED_IDS, type HarvestPlan, type SourceHarvest } from '../common/harvest';
import type { CursorPosition } from '../ledger';
import { openSource, type InspectedObject } from '../sources';
import { startPreservation } from '../starters/enqueue';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

interface Candidate {
  id: string;
  title: string;
  modifiedAt: string;
  changedAt: string;
  fingerprint: string;
}

/** Is (t, id) after the position in (change time, id) order? */
export function isAfter(p: CursorPosition, t: number, id: string): boolean {
  const at = Date.parse(p.at);
  return t > at || (t === at && id > p.key);
}

/** The fingerprint of what an object is: its object.json's content and each payload file's path and size. */
export function fingerprintOf(o: Pick<InspectedObject, 'metadata' | 'files'>): string {
  return createHash('sha256')
    .update(JSON.stringify({ metadata: o.metadata, files: o.files.map((f) => [f.path, f.size]) }))
    .digest('hex');
}

export function createHarvestActivities({ config, ledger }: ActivityDeps, temporal?: Client) {
  const client = () => {
    if (!temporal) throw new Error('this worker was built without a Temporal client: it cannot start workflows');
    return temporal;
  };

  return mapLibraryErrors({
    async harvestPlan(): Promise<HarvestPlan> {
      return { sources: harvestSources(config).map((s) => s.name), maxPerRun: config.harvest.maxPerRun, timeBudgetMs: ms(config.harvest.timeBudget) };
    },

    /**
     * One source's part of a run: at most `limit` objects enqueued, stopping after the batch in
     * which `deadline` passed. A source that cannot be read is recorded with its error and
     * returned as such (not thrown): the next scheduled run tries it again, the others go on.
     */
    async harvestSource({ source, limit, deadline }: { source: string; limit: number; deadline: string }): Promise<SourceHarvest> {
      const configured = harvestSources(config).find((s) => s.name === source);
      const location = configured?.location ?? '';
      const result: SourceHarvest = { source, location, enqueued: [], enqueuedCount: 0, unchanged: 0, skipped: [], settling: 0, unreadable: [], more: false };
      const now = new Date();
      const initial: CursorPosition = { at: new Date(now.getTime() - ms(config.harvest.maxBackfill)).toISOString(), key: '' };
      if (!configured) {
        result.error = `no source named ${source} in harvest.sources`;
        return result;
      }
      const row = await ledger.cursors.get(source);
      // A cursor of another location (the source was moved) is not used: that location starts afresh.
      let position = row && row.location === location ? row.position : initial;
      result.cursor = position;

      const candidates: Candidate[] = [];
      const settledBefore = now.getTime() - ms(config.harvest.settleTime);
      try {
        const objects = openSource(location, config.storage.s3);
        // Streamed: only the candidates are held, not the whole listing (their order is sorted below).
        let looked = 0;
        for await (const entry of objects.listEach()) {
          if (++looked % 50 === 0) heartbeat({ step: 'scan', looked });
          if ('error' in entry) {
            result.unreadable.push({ id: entry.id, error: entry.error });
            continue;
          }
          let inspected: InspectedObject;
          try {
            inspected = await objects.inspect(entry.id, 0);
          } catch (e) {
            result.unreadable.push({ id: entry.id, error: (e as Error).message });
            continue;
          }
          const t = Math.max(Date.parse(inspected.metadata.modifiedAt), Date.parse(inspected.lastChangedAt));
          if (!isAfter(position, t, entry.id)) continue;
          if (t > settledBefore) {
            result.settling++;
            continue;
          }
          candidates.push({
            id: entry.id,
            title: inspected.metadata.title,
            modifiedAt: inspected.metadata.modifiedAt,
            changedAt: new Date(t).toISOString(),
            fingerprint: fingerprintOf(inspected),
          });
        }
      } catch (e) {
        const problem = (e as Error).message;
        result.error = `source ${source}: ${problem.includes(location) ? problem : `${location} cannot be read: ${problem}`}`;
        await ledger.cursors.recordError(source, { location, error: result.error, at: now.toISOString(), initial: position });
        return result;
      }
      result.unreadable = result.unreadable.slice(0, REPORTED_IDS);
      candidates.sort((a, b) => Date.parse(a.changedAt) - Date.parse(b.changedAt) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

      const deps = { client: client(), config, ledger };
      const cancelled = Context.current().cancellationSignal;
      let inBatch = 0;
      const moveCursor = async (reason: string) => {
        await ledger.cursors.advance(source, { location, position, by: `${HARVEST_ACTOR}@${os.hostname()}`, reason, at: new Date().toISOString() });
        result.cursor = position;
        inBatch = 0;
      };
      for (const [i, o] of candidates.entries()) {
        // A terminated or cancelled run stops here: the cursor stays after the last batch recorded.
        if (cancelled.aborted) throw new Error('harvest cancelled');
        const skip = (reason: string) => result.skipped.length < REPORTED_IDS && result.skipped.push({ id: o.id, reason });
        const recorded = await ledger.cursors.fingerprint(o.id);
        const known = await ledger.getObject(o.id);
        const fingerprint = { source, fingerprint: o.fingerprint, changedAt: o.changedAt, at: new Date().toISOString() };
        if (recorded?.fingerprint === o.fingerprint) result.unchanged++;
        else if (known?.frozen) skip(`frozen by ${known.frozenBy ?? 'an operator'}: ${known.frozenReason ?? ''}`);
        else if (!recorded && known?.preservedModifiedAt && Date.parse(o.modifiedAt) <= Date.parse(known.preservedModifiedAt)) {
          // Preserved before the harvest knew it (`custody enqueue`): what it is now is the baseline.
          await ledger.cursors.recordFingerprint(o.id, fingerprint);
          skip(`already preserved (source unchanged since ${known.preservedModifiedAt})`);
        } else {
          // An object of another location than storage.source names its source: the download reads from there.
          const from = location === config.storage.source ? {} : { source };
          const outcome = await startPreservation(deps, {
            objectId: o.id,
            title: o.title,
            modifiedAt: o.modifiedAt,
            reason: `harvest of source ${source}`,
            ...from,
          });
          // Held (drained) is as good as started: `custody resume` starts it.
          if (outcome.action === 'started' || outcome.action === 'held') {
            // Recorded once started: a crash in between starts it again, which a running workflow refuses.
            await ledger.cursors.recordFingerprint(o.id, fingerprint);
            result.enqueuedCount++;
            if (result.enqueued.length < REPORTED_IDS) result.enqueued.push(o.id);
          } else skip(outcome.action === 'already-running' ? 'its workflow is still running' : outcome.action);
        }
        position = { at: o.changedAt, key: o.id };
        heartbeat({ step: 'enqueue', done: i + 1, of: candidates.length });
        const left = i + 1 < candidates.length;
        const full = result.enqueuedCount >= limit;
        const late = Date.now() > Date.parse(deadline);
        if (++inBatch >= config.harvest.batchSize || !left || full) {
          await moveCursor(`${result.enqueuedCount} enqueued so far this run`);
          if (left && (full || late)) {
            result.more = true;
            result.stoppedBy = full ? 'maxPerRun' : 'time budget';
            break;
          }
        }
      }
      // Nothing new: the run is still recorded (and a recorded error cleared); who moved the cursor last stays.
      if (candidates.length === 0) await ledger.cursors.recordRun(source, { location, initial: position, at: new Date().toISOString() });
      return result;
    },
  });
}
