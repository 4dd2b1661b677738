// Drain and resume on a whole custody system (real Temporal dev server, reference service,
// SQLite ledger, in-process workers): with work in every stage — one object mid-download, one
// deferred, one awaiting its verdict, one enqueued while drained — `custody drain --wait`
// returns once no step runs, no new step starts, and after `custody resume` every object is
// confirmed without anything enqueued by hand.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT } from '../config/config';
import { preserveWorkflowId } from '../common/preservation';
import type { ActivityDeps } from '../activities';
import { createSchedules, listSchedules } from '../starters/schedules';
import { enqueue } from '../starters/enqueue';
import { drain, drainRound, formatRunning, resume, stillRunning, type RunningStep } from '../starters/drain';
import { feed } from '../starters/feed';
import { sendCopies } from '../starters/copies';
import { articleWorkflowId } from '../common/articles';
import { copyWorkflowId } from '../common/copies';
import { packageName } from './support/article-packages';
import { writeDatasetVersion } from './support/datasets';
import { formatSummary, summarize } from '../starters/status';
import { AUDIT_FIXITY_SCHEDULE } from '../common/fixity';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { currentDetails, waitForStage } from './support/wait-for-stage';
import { testTemporal, useOwnNamespace } from './support/temporal-server';
import { historyFacts } from './support/time-skipping';
import { recordHistory } from './support/record-history';
import { custody as runCustody } from './support/custody-cli';
import { eventually as until } from './support/eventually';

const VERDICT = 'mus-0001';
const DOWNLOADING = 'mus-0002';
const DEFERRED = 'mus-0003';
const HELD = 'mus-0004';

const custody = (args: string[], env: Record<string, string>) => runCustody(args, env, 120_000);

describe('what drain says is still running', () => {
  const step = (workflowId: string, activities: RunningStep['activities'], retrying: RunningStep['retrying'] = []): RunningStep => ({
    workflowId,
    workflowType: 'preserveObject',
    activities,
    retrying,
  });
  it('a step between retries (a destination that is down) does not hold the stop up, and is listed', () => {
    const steps = [
      step('deliver:mus-0001', [], [{ name: 'deliverToDestination', attempt: 7, nextAttemptAt: '2026-11-30T15:00:00.000Z' }]),
      step('preserve:mus-0002', [{ name: 'createSip', attempt: 2 }]),
    ];
    assert.deepEqual(
      stillRunning(steps).map((s) => s.workflowId),
      ['preserve:mus-0002'],
    );
    assert.deepEqual(formatRunning(steps), [
      'still running: 1 workflow with a step under way',
      '  preserve:mus-0002  createSip (attempt 2)',
      'waiting to retry (safe to stop; they go on after): 1',
      '  deliver:mus-0001  deliverToDestination attempt 7 at 2026-11-30T15:00:00.000Z',
    ]);
    assert.deepEqual(formatRunning([steps[0]]).slice(0, 1), ['nothing running: safe to stop workers and server']);
  });
});

describe('drain and resume (custody drain, custody resume)', function () {
  this.timeout(240_000);
  // A drain acts on every workflow of its namespace: none of another test file's may be there.
  useOwnNamespace('custody-drain-test');
  let sys: CustodySystem;
  let env: Record<string, string>;
  /** The slow parts: the download of one object waits for the test; the service has not decided until told. */
  let releaseDownload!: () => void;
  const downloadReleased = new Promise<void>((r) => (releaseDownload = r));
  let downloadStarted = false;
  let serviceDecided = false;

  const slowParts = (parts: ActivityDeps): ActivityDeps => {
    const source = Object.assign(Object.create(parts.source) as ActivityDeps['source'], {
      download: async (...args: Parameters<ActivityDeps['source']['download']>) => {
        if (args[0] === DOWNLOADING) {
          downloadStarted = true;
          // A big object: progress (heartbeats) until the test lets it finish.
          const beat = setInterval(() => args[2]?.(0, 1), 500);
          await downloadReleased.finally(() => clearInterval(beat));
        }
        return parts.source.download(...args);
      },
    });
    const service = Object.assign(Object.create(parts.service) as ActivityDeps['service'], {
      verdict: async (sipId: string) => (serviceDecided ? parts.service.verdict(sipId) : null),
    });
    return { ...parts, source, service };
  };

  before(async () => {
    sys = await startCustodySystem({
      objects: [VERDICT, DOWNLOADING, DEFERRED, HELD],
      config: {
        verdict: { pollAfter: '1s', deadline: '14d' },
        // No scheduled run within the test: the schedules are there to be paused and unpaused.
        schedules: {
          syncProcessedSips: { every: '1d', catchupWindow: '1d' },
          watchArticles: { every: '1d', catchupWindow: '1h', settleTime: '30s' },
          auditFixity: { every: '7d', catchupWindow: '1d' },
          syncSource: { every: '1d', catchupWindow: '1d' },
        },
      },
      decorate: slowParts,
    });
    env = { CUSTODY_CONFIG: sys.writeWorkerConfig('operator'), TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE! };
  });
  after(async () => {
    releaseDownload(); // a failed test must not leave the download waiting
    await sys?.close();
  });

  it('holds new work, starts no new step, and after resume every object is confirmed', async () => {
    await createSchedules(sys.client, sys.config);
    // Paused by an operator before the drain: resume must leave it paused.
    await sys.client.schedule.getHandle(AUDIT_FIXITY_SCHEDULE).pause('paused by an operator');
    // Still being written (a file changed 15 s from now): deferred.
    const later = new Date(Date.now() + 15_000);
    const deferredDir = path.join(sys.sourceDir, DEFERRED);
    fs.utimesSync(path.join(deferredDir, 'object.json'), later, later);

    const started = await enqueue(
      { client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source },
      { ids: [VERDICT, DOWNLOADING, DEFERRED] },
    );
    assert.deepEqual(
      started.map((o) => o.action),
      ['started', 'started', 'started'],
    );
    const handle = (id: string) => sys.client.workflow.getHandle(preserveWorkflowId(id));
    await waitForStage(handle(VERDICT), ['awaiting-verdict']);
    await waitForStage(handle(DOWNLOADING), ['downloading']);
    await until('the download under way', async () => downloadStarted);
    await waitForStage(handle(DEFERRED), ['deferred']);

    // Drain: schedules paused (not the one already paused), the step under way listed.
    const request = { by: 'operator@test', reason: 'database upgrade' };
    const drained = await drain({ client: sys.client, ledger: sys.ledger }, request);
    assert.equal(drained.already, false);
    assert.deepEqual(drained.paused.sort(), ['notify', 'sync-processed-sips', 'sync-source', 'watch-articles']);
    const signalled = new Set<string>();
    const busy = await drainRound(sys.client, request, signalled);
    assert.equal(signalled.size, 3, 'each running pipeline signalled');
    const downloading = busy.find((b) => b.workflowId === preserveWorkflowId(DOWNLOADING));
    assert.deepEqual(downloading?.activities, [{ name: 'downloadObject', attempt: 1 }], 'the download is still running');
    const paused = Object.fromEntries((await listSchedules(sys.client)).map((s) => [s.id, s.paused]));
    assert.deepEqual(paused, { 'audit-fixity': true, notify: true, 'sync-processed-sips': true, 'sync-source': true, 'watch-articles': true });

    // Enqueued while drained: held, not refused and not started.
    const held = await custody(['enqueue', '--ids', HELD], env);
    assert.equal(held.code, 0, held.stderr);
    assert.deepEqual(held.stdout.trimEnd().split('\n'), [`${HELD}: held (drained); custody resume starts it`, '0 started, 1 not started', 'held (drained): 1']);
    await assert.rejects(handle(HELD).describe(), /not found/i, 'no workflow for the held object');
    const summary = formatSummary(await summarize(sys.ledger)).split('\n');
    assert.match(summary[0], /^drained since \S+Z by operator@test: held 1 \(oldest \d+s\)$/);
    assert.equal(summary[1], '  reason: database upgrade; held preserve 1');

    // A second drain (no --wait) says so, and prints what still runs.
    const again = await custody(['drain', '--reason', 'database upgrade'], env);
    assert.equal(again.code, 0, again.stderr);
    const lines = again.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^already drained since \S+Z by operator@test$/);
    assert.equal(lines[1], '  reason: database upgrade');
    assert.deepEqual(lines.slice(-2), ['still running: 1 workflow with a step under way', `  ${preserveWorkflowId(DOWNLOADING)}  downloadObject`]);

    // drain --wait blocks while the download runs, and returns once it has finished.
    const waiting = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'drain', '--reason', 'database upgrade', '--wait'], {
      env: { ...process.env, ...env },
    });
    let out = '';
    waiting.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => waiting.on('close', r));
    await until('drain --wait listing the download', async () => out.includes(`${preserveWorkflowId(DOWNLOADING)}  downloadObject`));
    assert.ok(!out.includes('nothing running'));
    releaseDownload();
    assert.equal(await exited, 0);
    assert.equal(out.trimEnd().split('\n').at(-1), 'nothing running: safe to stop workers and server');

    // Stopped at a safe point: the downloaded object went no further, the verdict is not asked for.
    assert.equal((await sys.ledger.getObject(DOWNLOADING))?.state, 'downloading');
    assert.match((await currentDetails(handle(DOWNLOADING))) ?? '', /^drained: waiting for resume \(then packaging\) — downloading mus-0002$/);
    const afterDrain = await historyFacts(handle(DOWNLOADING));
    assert.ok(!afterDrain.scheduledActivities.includes('createSip'), 'no SIP built while drained');
    // The deferred object's timer ends while drained: it waits at the checkpoint, it does not look again.
    await until('the deferred object waiting for resume', async () =>
      (await currentDetails(handle(DEFERRED)))?.startsWith('drained: waiting for resume (then queued)'),
    );
    const checks = (await historyFacts(handle(DEFERRED))).scheduledActivities.filter((a) => a === 'checkObject').length;
    assert.equal(checks, 1, 'checked once, before the drain');
    await until('the verdict poll waiting for resume', async () =>
      (await currentDetails(handle(VERDICT)))?.startsWith('drained: waiting for resume (then asking the service)'),
    );
    const status = await custody(['status'], env);
    assert.match(status.stdout.split('\n')[0], /^drained since \S+Z by operator@test: held 1 \(oldest \d+[sm]/);

    // Resume: the service has decided meanwhile; nothing is enqueued by hand.
    serviceDecided = true;
    const resumed = await custody(['resume'], env);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /^resumed \(drained since \S+ by operator@test\)$/m);
    assert.match(resumed.stdout, /^unpaused schedules: sync-processed-sips, watch-articles, sync-source, notify$/m);
    assert.match(resumed.stdout, /^signalled 3 running workflows to go on$/m);
    assert.match(resumed.stdout, /^preserve mus-0004: started$/m);
    assert.match(resumed.stdout, /^held work started: 1$/m);

    for (const id of [VERDICT, DOWNLOADING, DEFERRED, HELD]) {
      const result = await (handle(id) as WorkflowHandle).result();
      assert.equal(result.stage, 'confirmed', `${id} confirmed`);
      assert.equal((await sys.ledger.getObject(id))?.state, 'confirmed');
    }
    // Runs that took the drain and resume signals, for the replay test.
    await recordHistory('preserve-drained-awaiting-verdict', handle(VERDICT));
    await recordHistory('preserve-drained-after-download', handle(DOWNLOADING));
    const after = Object.fromEntries((await listSchedules(sys.client)).map((s) => [s.id, s.paused]));
    assert.deepEqual(after, { 'audit-fixity': true, notify: false, 'sync-processed-sips': false, 'sync-source': false, 'watch-articles': false });
    assert.deepEqual(await sys.ledger.drain.held(), []);
    assert.equal(await sys.ledger.drain.state(), undefined);
    assert.doesNotMatch((await custody(['status'], env)).stdout, /drained/);
  });

  it('holds article packages (feed) and dataset versions (copy) while drained; resume sends them', async () => {
    await drain({ client: sys.client, ledger: sys.ledger }, { by: 'operator@test', reason: 'storage move' });
    const incoming = path.join(sys.root, 'incoming');
    fs.mkdirSync(incoming);
    // feed reads names only: the package's content is the workflow's business.
    fs.writeFileSync(path.join(incoming, packageName('00353')), 'a package');
    const fed = await feed({ client: sys.client, config: sys.config, ledger: sys.ledger }, incoming);
    assert.deepEqual(
      fed.map((o) => [o.articleId, o.action]),
      [['00353', 'held']],
    );
    const datasets = path.join(sys.root, 'datasets');
    writeDatasetVersion(datasets, 'ds-drain', 1, { 'one.csv': 'x,1\n' });
    const config = { ...sys.config, copies: { ...sys.config.copies, source: datasets } };
    const copied = await sendCopies({ client: sys.client, config, ledger: sys.ledger }, { datasetId: 'ds-drain', type: 'data' }, 'operator@test');
    assert.deepEqual(copied, [{ copyId: copyWorkflowId('ds-drain', 'data'), version: 1, action: 'held' }]);
    for (const id of [articleWorkflowId('00353'), copyWorkflowId('ds-drain', 'data')])
      await assert.rejects(sys.client.workflow.getHandle(id).describe(), /not found/i, `no workflow ${id} while drained`);
    assert.deepEqual((await summarize(sys.ledger)).drain.held.counts, { article: 1, copy: 1 });

    const out = await resume({ client: sys.client, ledger: sys.ledger, config }, { by: 'operator@test' });
    assert.deepEqual(
      out.started.map((w) => `${w.kind} ${w.itemId}: ${w.action}`),
      [`article 00353 ${packageName('00353')}: sent`, 'copy copy:ds-drain:data v1: sent'],
    );
    const signals = async (id: string) => (await historyFacts(sys.client.workflow.getHandle(id))).signals;
    assert.deepEqual(await signals(articleWorkflowId('00353')), ['articlePackage']);
    assert.deepEqual(await signals(copyWorkflowId('ds-drain', 'data')), ['copyRequest']);
    assert.deepEqual(await sys.ledger.drain.held(), []);
  });

  it('refuses a resume when custody is not drained, in one line with exit code 1', async () => {
    // On its own if the test above stopped half-way.
    await sys.ledger.drain.clear();
    for (const w of await sys.ledger.drain.held()) await sys.ledger.drain.release(w.kind, w.itemId);
    const r = await custody(['resume'], env);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim(), 'custody: not drained: nothing to resume (custody drain stops new work)');
  });

  it('refuses a drain without a reason', async () => {
    const r = await custody(['drain'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /required option '--reason <text>' not specified/);
    assert.equal(await sys.ledger.drain.state(), undefined, 'not drained');
  });
});
