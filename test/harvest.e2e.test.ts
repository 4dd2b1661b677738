// The scheduled harvest (`sync-source`) on the real dev server with real folder sources and the
// reference preservation service: the schedule triggered run after run finds new and changed
// objects, ignores a touch, waits out the settle time and keeps going past a source that fails;
// a run killed mid-way or stopped by its time budget loses nothing and enqueues nothing twice;
// `custody cursors` shows and moves the cursors; and `custody enqueue`'s selection options.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ScheduleOverlapPolicy, WorkflowNotFoundError } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import { SYNC_SOURCE_SCHEDULE, type SourceHarvest, type SyncSourceResult } from '../common/harvest';
import { SCHEDULES_TASK_QUEUE, preserveWorkflowId } from '../common/preservation';
import { REPO_ROOT } from '../config/config';
import type { CursorLedger } from '../ledger/cursors';
import { enqueue } from '../starters/enqueue';
import { createSchedules } from '../starters/schedules';
import { syncSource } from '../workflows';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { useOwnNamespace } from './support/temporal-server';
import { recordHistory } from './support/record-history';
import { custody as runCustody } from './support/custody-cli';

const HOUR = 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms);

/** Sets the modified time of an object's folder contents (object.json and every file). */
function setTimes(dir: string, at: Date): void {
  for (const f of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) fs.utimesSync(path.join(dir, f), at, at);
}

/** A small object: object.json and one file, all modified at `at`. */
function writeObject(sourceDir: string, id: string, at: Date, content = `bytes of ${id}`, modifiedAt = '2024-01-01T00:00:00Z'): void {
  const dir = path.join(sourceDir, id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'object.json'), JSON.stringify({ id, title: `Test object ${id}`, modifiedAt }));
  fs.writeFileSync(path.join(dir, 'data.txt'), content);
  setTimes(dir, at);
}

/** How many workflow executions (runs) of preserve:<id> Temporal has in the describe's own namespace. */
async function preserveRuns(sys: CustodySystem, id: string): Promise<number> {
  const runs = [];
  for await (const wf of sys.client.workflow.list({ query: `WorkflowId = "${preserveWorkflowId(id)}"` })) runs.push(wf.runId);
  return runs.length;
}

/** The runs of each id, asked until they are as expected or 20 s have passed: visibility lags the starts a little. */
async function runsOf(sys: CustodySystem, ids: string[], expected: number[]): Promise<number[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const runs = await Promise.all(ids.map((id) => preserveRuns(sys, id)));
    if (JSON.stringify(runs) === JSON.stringify(expected) || Date.now() > deadline) return runs;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const main = (r: SyncSourceResult): SourceHarvest => r.sources.find((s) => s.source === 'main')!;

const custody = (args: string[], configFile: string) => runCustody(args, { CUSTODY_CONFIG: configFile });

/** The system's whole config as a CUSTODY_CONFIG file, for the CLI. */
function configFileOf(sys: CustodySystem): string {
  const file = path.join(sys.root, 'cli-config.json');
  fs.writeFileSync(file, JSON.stringify(sys.config));
  return file;
}

describe('the scheduled harvest (sync-source)', function () {
  this.timeout(300_000);

  describe('the schedule, run after run, on two sources (one of them missing)', () => {
    // Its own namespace: the describes (and other test files) preserve objects of the same ids.
    useOwnNamespace('custody-harvest-schedule-test');
    let sys: CustodySystem;
    let collection: string;

    before(async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-harvest-'));
      collection = path.join(root, 'collection');
      fs.mkdirSync(collection);
      sys = await startCustodySystem({
        config: {
          storage: { source: collection },
          // The workflows ask the service soon: a preserved object's workflow ends within seconds.
          verdict: { pollAfter: '1s', deadline: '1h' },
          schedules: { syncSource: { every: '24h', catchupWindow: '1m' } },
          harvest: {
            sources: [
              { name: 'main', location: collection },
              { name: 'missing', location: path.join(root, 'not-mounted') },
            ],
            settleTime: '10m',
          },
        },
      });
      await createSchedules(sys.client, sys.config);
    });
    after(async () => sys?.close());

    /** Triggers the schedule and returns the result of the run it started. */
    async function triggerAndWait(runsBefore: number): Promise<SyncSourceResult> {
      const schedule = sys.client.schedule.getHandle(SYNC_SOURCE_SCHEDULE);
      await schedule.trigger(ScheduleOverlapPolicy.SKIP);
      for (;;) {
        const { info } = await schedule.describe();
        if (info.recentActions.length > runsBefore) {
          const { workflow } = info.recentActions[runsBefore].action;
          return (await sys.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).result()) as SyncSourceResult;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    it('enqueues new and changed objects once each, ignores a touch, waits out the settle time, and goes past the missing source', async () => {
      for (const id of ['mus-0001', 'mus-0002']) fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', id), path.join(collection, id), { recursive: true });
      setTimes(path.join(collection, 'mus-0001'), ago(3 * HOUR));
      setTimes(path.join(collection, 'mus-0002'), ago(2 * HOUR));
      // Still being written: inside the 10 minute settle time.
      writeObject(collection, 'new-0001', ago(0));

      const first = await triggerAndWait(0);
      assert.deepEqual(main(first).enqueued, ['mus-0001', 'mus-0002'], 'in the order they changed');
      assert.equal(main(first).settling, 1);
      const missing = first.sources.find((s) => s.source === 'missing')!;
      assert.match(missing.error ?? '', /^source missing: source folder ".*not-mounted" cannot be read: ENOENT/);
      assert.equal((await sys.ledger.getObject('mus-0001'))?.sourceModifiedAt, '2024-02-12T09:15:00Z', 'recorded in the ledger');

      // Both preserved before anything changes: a change then starts a new preservation.
      for (const id of ['mus-0001', 'mus-0002']) await sys.client.workflow.getHandle(preserveWorkflowId(id)).result();
      setTimes(path.join(collection, 'new-0001'), ago(50 * 60_000));
      setTimes(path.join(collection, 'mus-0001'), ago(40 * 60_000)); // touched: same content
      fs.appendFileSync(path.join(collection, 'mus-0002', 'object.json'), '\n\n'); // same metadata, but...
      fs.appendFileSync(path.join(collection, 'mus-0002', 'transcription.txt'), 'A line transcribed later.\n'); // ...a file changed
      setTimes(path.join(collection, 'mus-0002'), ago(30 * 60_000));

      const second = await triggerAndWait(1);
      assert.deepEqual(main(second).enqueued, ['new-0001', 'mus-0002']);
      assert.equal(main(second).unchanged, 1, 'the touched mus-0001');
      assert.equal(main(second).settling, 0);
      assert.deepEqual(await runsOf(sys, ['mus-0001', 'mus-0002', 'new-0001'], [1, 2, 1]), [1, 2, 1], 'mus-0002 preserved again, mus-0001 not');

      const third = await triggerAndWait(2);
      assert.deepEqual(main(third).enqueued, [], 'nothing new: nothing enqueued');
      assert.match(third.sources.find((s) => s.source === 'missing')!.error ?? '', /cannot be read/, 'still failing, still reported');

      const cursors = await sys.ledger.cursors.list();
      assert.deepEqual(
        cursors.map((c) => [c.source, c.position.key, c.lastError === null]),
        [
          ['main', 'mus-0002', true],
          ['missing', '', false],
        ],
      );
    });

    it('custody cursors shows each cursor; cursors set refuses a rewind beyond maxBackfill without --disaster-recovery and records who and why', async () => {
      const config = configFileOf(sys);
      const shown = await custody(['cursors'], config);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, /^main {2}.*collection\n {2}cursor {4}\S+ after mus-0002\n {2}moved {5}\S+ by schedule sync-source@/m);
      assert.match(shown.stdout, /^missing {2}.*not-mounted\n(.*\n)* {2}last run {2}\S+, failed: source missing: source folder/m);

      const refused = await custody(['cursors', 'set', 'main', '--to', '40d', '--reason', 'restore after disk swap'], config);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /--to \S+ is further back than harvest.maxBackfill \(30d, \S+\); add --disaster-recovery/);
      assert.equal((await sys.ledger.cursors.get('main'))?.position.key, 'mus-0002', 'nothing moved');

      const unknown = await custody(['cursors', 'set', 'nosuch', '--to', '1d', '--reason', 'x'], config);
      assert.match(unknown.stderr, /unknown source nosuch: harvest.sources has main, missing/);

      const set = await custody(['cursors', 'set', 'main', '--to', '40d', '--reason', 'restore after disk swap', '--disaster-recovery', '--json'], config);
      assert.equal(set.code, 0, set.stderr);
      const row = JSON.parse(set.stdout) as { position: { at: string }; updatedBy: string; reason: string };
      assert.equal(row.reason, 'disaster recovery: restore after disk swap');
      assert.match(row.updatedBy, /@/);
      const events = await sys.ledger.timeline('source:main');
      assert.deepEqual(
        events.map((e) => [e.kind, (e.detail as { by: string }).by, (e.detail as { reason: string }).reason, (e.detail as { from: { key: string } }).from.key]),
        [['cursor-set', row.updatedBy, 'disaster recovery: restore after disk swap', 'mus-0002']],
      );
      // The rewound run re-reads everything and recognises it: nothing is preserved twice.
      const reread = await triggerAndWait(3);
      assert.deepEqual([main(reread).enqueued, main(reread).unchanged], [[], 3]);
    });
  });

  describe('a second source', () => {
    // Its own namespace: the describes (and other test files) preserve objects of the same ids.
    useOwnNamespace('custody-harvest-second-source-test');
    let sys: CustodySystem;
    let collection: string;
    let annex: string;

    before(async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-harvest-annex-'));
      collection = path.join(root, 'collection');
      annex = path.join(root, 'annex');
      for (const d of [collection, annex]) fs.mkdirSync(d);
      sys = await startCustodySystem({
        config: {
          storage: { source: collection },
          verdict: { pollAfter: '1s', deadline: '1h' },
          harvest: {
            sources: [
              { name: 'main', location: collection },
              { name: 'annex', location: annex },
            ],
            settleTime: '1m',
          },
        },
      });
    });
    after(async () => sys?.close());

    it('preserves an object of the second source from there, and the main one from storage.source', async () => {
      writeObject(annex, 'annex-0001', ago(HOUR), 'bytes only the annex has');
      writeObject(collection, 'main-0001', ago(HOUR));
      const result = (await sys.client.workflow.execute(syncSource, {
        workflowId: `sync-source-annex-${Date.now()}`,
        taskQueue: SCHEDULES_TASK_QUEUE,
        args: [{}],
      })) as SyncSourceResult;
      assert.deepEqual(
        result.sources.map((s) => [s.source, s.enqueued]),
        [
          ['main', ['main-0001']],
          ['annex', ['annex-0001']],
        ],
      );
      for (const id of ['annex-0001', 'main-0001']) {
        const done = (await sys.client.workflow.getHandle(preserveWorkflowId(id)).result()) as { stage: string };
        assert.equal(done.stage, 'confirmed', `${id} confirmed`);
      }
      assert.equal((await sys.ledger.getObject('annex-0001'))?.title, 'Test object annex-0001', 'read from the annex');
      const started = await sys.client.workflow.getHandle(preserveWorkflowId('annex-0001')).describe();
      assert.ok(((await started.staticDetails()) ?? '').includes(`source: annex (${annex})`), 'the Web UI names the source');
    });
  });

  describe('a run killed mid-way, and the time budget', () => {
    // Its own namespace: the describes (and other test files) preserve objects of the same ids.
    useOwnNamespace('custody-harvest-killed-run-test');
    let sys: CustodySystem;
    const ids = ['obj-1', 'obj-2', 'obj-3', 'obj-4', 'obj-5'];
    /** While set, the harvest's second cursor move waits for the test, then fails: the worker "dies" there. */
    let trap: { reached: () => void; release: Promise<void> } | undefined;
    let moves = 0;

    const withTrap = (parts: ActivityDeps): ActivityDeps => {
      const cursors: CursorLedger = Object.create(parts.ledger.cursors, {
        advance: {
          value: async (...args: Parameters<CursorLedger['advance']>) => {
            if (trap && ++moves === 2) {
              trap.reached();
              await trap.release;
              throw new Error('worker lost before the cursor moved');
            }
            return parts.ledger.cursors.advance(...args);
          },
        },
      });
      return { ...parts, ledger: Object.create(parts.ledger, { cursors: { value: cursors } }) };
    };

    before(async () => {
      sys = await startCustodySystem({
        decorate: withTrap,
        config: { harvest: { settleTime: '1m', batchSize: 2, timeBudget: '1h' }, verdict: { pollAfter: '1h', deadline: '14d' } },
      });
      ids.forEach((id, i) => writeObject(sys.sourceDir, id, ago(HOUR - i * 60_000)));
    });
    after(async () => sys?.close());

    const run = (workflowId: string) => sys.client.workflow.start(syncSource, { workflowId, taskQueue: SCHEDULES_TASK_QUEUE, args: [{}] });

    it('the cursor survives a run terminated mid-way: the next run finds everything, and nothing is enqueued twice', async () => {
      let reached!: () => void;
      const atSecondMove = new Promise<void>((r) => (reached = r));
      let release!: () => void;
      trap = { reached, release: new Promise<void>((r) => (release = r)) };
      const killed = await run('harvest-killed');
      await atSecondMove;
      await killed.terminate('killed mid-run by the test');
      release();
      trap = undefined;

      const cursor = await sys.ledger.cursors.get('main');
      assert.equal(cursor?.position.key, 'obj-2', 'moved after the first batch only');
      const next = await (await run('harvest-after-kill')).result();
      assert.deepEqual(main(next).enqueued, ['obj-5'], 'obj-3 and obj-4 were started before the kill');
      assert.equal(main(next).unchanged, 2, 'the re-read batch is recognised, not enqueued again');
      assert.deepEqual(await runsOf(sys, ids, [1, 1, 1, 1, 1]), [1, 1, 1, 1, 1]);
      assert.equal((await sys.ledger.cursors.get('main'))?.position.key, 'obj-5');
    });

    it('a run whose time budget is spent stops at its cursor after a batch, and the next run goes on', async () => {
      // The worker's activities read this very config object.
      sys.config.harvest.timeBudget = '1ms';
      const more = ['late-1', 'late-2', 'late-3'];
      more.forEach((id, i) => writeObject(sys.sourceDir, id, ago(30 * 60_000 - i * 60_000)));
      const firstRun = await run('harvest-budget-1');
      const first = await firstRun.result();
      await recordHistory('sync-source-time-budget', firstRun);
      assert.deepEqual([main(first).enqueued, main(first).stoppedBy, main(first).more], [['late-1', 'late-2'], 'time budget', true]);
      const second = await (await run('harvest-budget-2')).result();
      assert.deepEqual([main(second).enqueued, main(second).stoppedBy, main(second).more], [['late-3'], undefined, false]);
    });
  });

  describe('custody enqueue: --dry-run, --max, --match, --changed-within', () => {
    // Its own namespace: the describes (and other test files) preserve objects of the same ids.
    useOwnNamespace('custody-harvest-enqueue-test');
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({ config: { verdict: { pollAfter: '1h', deadline: '14d' } } });
      writeObject(sys.sourceDir, 'old-1', ago(HOUR), 'x', ago(10 * 24 * HOUR).toISOString());
      writeObject(sys.sourceDir, 'old-2', ago(HOUR), 'x', ago(9 * 24 * HOUR).toISOString());
      writeObject(sys.sourceDir, 'recent-1', ago(HOUR), 'x', ago(2 * 24 * HOUR).toISOString());
      writeObject(sys.sourceDir, 'recent-2', ago(HOUR), 'x', ago(3 * 24 * HOUR).toISOString());
    });
    after(async () => sys?.close());
    const deps = () => ({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source });

    it('--dry-run says what would start and starts and records nothing', async () => {
      const outcomes = await enqueue(deps(), { dryRun: true, match: /^old-/ });
      assert.deepEqual(
        outcomes.map((o) => [o.objectId, o.action]),
        [
          ['old-1', 'would-start'],
          ['old-2', 'would-start'],
        ],
      );
      await assert.rejects(sys.client.workflow.getHandle(preserveWorkflowId('old-1')).describe(), WorkflowNotFoundError);
      assert.equal(await sys.ledger.getObject('old-1'), undefined);
    });

    it('--changed-within takes only objects modified in that many days; --max stops after N; --match selects ids', async () => {
      const recent = await enqueue(deps(), { changedWithinDays: 4, max: 1 });
      assert.deepEqual(
        recent.filter((o) => o.action === 'started').map((o) => o.objectId),
        ['recent-1'],
      );
      assert.match(JSON.stringify(recent.find((o) => o.objectId === 'old-1')), /not modified within 4d/);
      const matched = await enqueue(deps(), { match: /^old-2$/ });
      assert.deepEqual(
        matched.map((o) => [o.objectId, o.action]),
        [['old-2', 'started']],
      );
      assert.deepEqual(await runsOf(sys, ['old-1', 'old-2', 'recent-1', 'recent-2'], [0, 1, 1, 0]), [0, 1, 1, 0]);
    });

    it('refuses a --changed-within that is not a number of days, naming it', async () => {
      const r = await custody(['enqueue', '--changed-within', '4h', '--dry-run'], configFileOf(sys));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /"4h" is not a number of days such as 4d/);
    });
  });
});
