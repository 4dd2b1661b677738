// What the archive-scale changes keep: `custody status` counts and lists what reading every
// object said, and `enqueue` decides per object what it decided with one lookup per object,
// now with the source streamed and the ledger read in batches (more objects here than one
// batch). On both databases, with the bench's generator and every query answered by an index.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { dbOf, ensureFolderSource, fillLedger, objectIdOf, PRESERVED_AT } from '../bench/archive-ledger';
import { explainAll, StatementCatcher } from '../bench/query-plans';
import { loadConfig } from '../config/config';
import { openLedger, type Ledger } from '../ledger';
import { enqueue } from '../starters/enqueue';
import { objectStatus, summarize } from '../starters/status';
import { folderSource } from '../sources';
import { freshPostgresDatabase } from './support/postgres';

const OBJECTS = 5200;
const IN_SOURCE = 1200;

for (const db of ['SQLite', 'PostgreSQL'] as const) {
  describe(`archive scale on ${db}`, function () {
    this.timeout(120_000);
    let dir: string;
    let ledger: Ledger;
    const catcher = new StatementCatcher();

    before(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-scale-'));
      const url = db === 'SQLite' ? path.join(dir, 'ledger.sqlite') : await freshPostgresDatabase();
      await fillLedger(openLedger(url), OBJECTS, IN_SOURCE);
      ledger = openLedger(url, { onQuery: catcher.onQuery });
    });
    after(async () => {
      await ledger?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('status counts and lists the objects waiting for an operator as reading every object does', async () => {
      const summary = await summarize(ledger);
      const all = await ledger.listObjects();
      const counts: Record<string, number> = {};
      for (const o of all) counts[o.state] = (counts[o.state] ?? 0) + 1;
      assert.equal(summary.total, OBJECTS);
      assert.deepEqual(summary.counts, counts);
      const attention = all.filter((o) => ['rejected', 'failed', 'frozen', 'no-verdict'].includes(o.state) || o.frozen);
      assert.deepEqual(
        summary.needsAttention.map((o) => o.id),
        attention.map((o) => o.id),
      );
      // The generator's mix: some rejected, some frozen while confirmed (not in the state counts' attention states).
      assert.ok(summary.counts.rejected! > 0 && summary.needsAttention.some((o) => o.frozen && o.state === 'confirmed'));
      const rejected = summary.needsAttention.find((o) => o.state === 'rejected')!;
      assert.equal(rejected.reason, 'the service rejected it: unsupported format');
    });

    it('answers status and status ID with no full scan of a table', async () => {
      const { statements: forSummary } = await catcher.during(() => summarize(ledger));
      const { result, statements: forOne } = await catcher.during(() => objectStatus(ledger, undefined, objectIdOf(150)));
      assert.deepEqual(
        result.timeline.map((e) => e.stage),
        ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'confirmed'],
      );
      assert.equal(result.packages[0].verdict, 'accepted');
      const plans = await explainAll(dbOf(ledger), [...forSummary, ...forOne]);
      assert.ok(plans.some((p) => /from "objects"/.test(p.sql)) && plans.some((p) => /from "events"/.test(p.sql)));
      for (const p of plans) assert.deepEqual(p.fullScans, [], `${p.sql}\n${p.lines.join('\n')}`);
    });

    it('enqueue skips the preserved and frozen ones and takes the changed and new ones, in id order', async () => {
      const root = ensureFolderSource(dir, IN_SOURCE);
      // Changed since it was preserved; frozen by an operator; new to the ledger; a name that cannot be an id.
      const changed = objectIdOf(700);
      const json = path.join(root, changed, 'object.json');
      fs.writeFileSync(json, JSON.stringify({ ...JSON.parse(fs.readFileSync(json, 'utf8')), modifiedAt: '2026-02-01T00:00:00.000Z' }));
      const frozen = objectIdOf(13);
      await ledger.setFrozen(frozen, { reason: 'donor asked to wait', by: 'test' }, { key: 'freeze-13', at: new Date().toISOString() });
      for (const id of ['zz-new', 'bad name!']) {
        fs.mkdirSync(path.join(root, id));
        fs.writeFileSync(path.join(root, id, 'object.json'), JSON.stringify({ id, title: 'New', modifiedAt: '2026-03-01T00:00:00.000Z' }));
      }
      const config = loadConfig({}, { storage: { source: root } });
      // A dry run starts nothing, so no Temporal client is asked.
      const outcomes = await enqueue({ client: undefined as unknown as Client, config, ledger, source: folderSource(root) }, { dryRun: true });
      assert.equal(outcomes.length, IN_SOURCE + 2);
      assert.deepEqual(
        outcomes.map((o) => o.objectId),
        [...outcomes.map((o) => o.objectId)].sort(),
      );
      const notSkippedAsPreserved = outcomes.filter(
        (o) => !(o.action === 'skipped' && o.reason === `already preserved (source unchanged since ${PRESERVED_AT})`),
      );
      assert.deepEqual(
        notSkippedAsPreserved.map((o) => [o.objectId, o.action]),
        [
          ['bad name!', 'refused'],
          [frozen, 'skipped'],
          [changed, 'would-start'],
          ['zz-new', 'would-start'],
        ],
      );
      const limited = await enqueue({ client: undefined as unknown as Client, config, ledger, source: folderSource(root) }, { dryRun: true, max: 1 });
      assert.deepEqual(
        limited.filter((o) => o.action === 'would-start').map((o) => o.objectId),
        [changed],
      );
    });
  });
}
