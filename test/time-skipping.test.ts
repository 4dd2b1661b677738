// The preservation workflow's long waits — a verdict deadline of days, a fallback poll of
// hours, retry backoff over hours — run for real in skipped time: the real workflow, the real
// activities, ledger, folder source and reference service, on Temporal's time-skipping test
// server. Nothing is shortened by hand; each test takes seconds of wall time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stateQuery, type Stage } from '../common/preservation';
import type { WorkflowHandle } from '@temporalio/client';
import { historyFacts, startSkippedTimeSystem, startTimeSkippingEnvironment, type SkippedTimeSystem } from './support/time-skipping';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Real-time wait for a workflow stage (time is not skipped while no test awaits a result). */
async function waitForStage(handle: WorkflowHandle, stage: Stage, timeoutMs = 60_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = await handle.query(stateQuery);
    if (state.stage === stage) return state.sipId!;
    if (Date.now() > until) throw new Error(`${handle.workflowId} is ${state.stage} after ${timeoutMs} ms, not ${stage}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Real-time wait until the reference service has decided a SIP. */
async function waitForDecision(sys: SkippedTimeSystem, sipId: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await sys.service.verdict(sipId))) {
    if (Date.now() > until) throw new Error(`the reference service did not decide ${sipId} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Workflow time between two stages of the object's ledger timeline (the workflow stamps them). */
async function ledgerSpan(sys: SkippedTimeSystem, objectId: string, from: Stage, to: Stage): Promise<number> {
  const stages = (await sys.ledger.timeline(objectId)).filter((e) => e.kind === 'stage');
  const at = (stage: Stage) => {
    const e = stages.find((s) => s.stage === stage);
    assert.ok(e, `${objectId}: the ledger timeline has a ${stage} entry`);
    return Date.parse(e.at);
  };
  return at(to) - at(from);
}

function report(title: string, wallStart: number, workflowMs: number): void {
  console.log(`      ${title}: ${(workflowMs / HOUR).toFixed(1)} h of workflow time in ${((Date.now() - wallStart) / 1000).toFixed(1)} s of wall time`);
}

describe('preservation in skipped time (time-skipping test server)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let sys: SkippedTimeSystem | undefined;

  before(async function () {
    this.timeout(180_000); // the first run installs the test server
    env = await startTimeSkippingEnvironment();
  });
  afterEach(async () => {
    await sys?.close();
    sys = undefined;
  });
  after(async () => env?.teardown());

  it('ends in no-verdict at a 3-day deadline after polling the silent service every 6 hours', async () => {
    const wallStart = Date.now();
    // The service takes the SIP but never looks at its transfer folder within the test.
    sys = await startSkippedTimeSystem(env, { objects: ['mus-0001'], servicePollMs: DAY, verdict: { pollAfter: '6h', deadline: '3d' } });
    const handle = await sys.start('mus-0001');
    const result = await handle.result();

    assert.equal(result.stage, 'no-verdict');
    const row = await sys.ledger.getObject('mus-0001');
    assert.equal(row?.state, 'no-verdict');
    assert.match(row?.lastError ?? '', new RegExp(`no verdict for SIP ${result.sipId!.replace(/\./g, '\\.')} within 3d`));
    const [pkg] = await sys.ledger.packagesOf('mus-0001');
    assert.equal(pkg.sipId, result.sipId);
    assert.equal(pkg.verdict, null, 'no verdict recorded for the SIP');
    const waited = await ledgerSpan(sys, 'mus-0001', 'awaiting-verdict', 'no-verdict');
    assert.ok(waited >= 3 * DAY && waited < 3 * DAY + HOUR, `awaited the verdict for ${waited / HOUR} h of workflow time, not 72 h`);

    const history = await historyFacts(handle);
    const polls = history.scheduledActivities.filter((t) => t === 'checkVerdict').length;
    assert.equal(polls, 12, 'the workflow asked the service itself every 6 h for 3 days');
    assert.deepEqual(history.signals, []);
    report('deadline', wallStart, waited);
  });

  it('is confirmed by its own poll after 2 hours when no signal comes', async () => {
    const wallStart = Date.now();
    sys = await startSkippedTimeSystem(env, { objects: ['mus-0002'], servicePollMs: 200, verdict: { pollAfter: '2h', deadline: '14d' } });
    const handle = await sys.start('mus-0002');
    // The service decides in wall time; the workflow learns it only by its poll, 2 h later.
    await waitForDecision(sys, await waitForStage(handle, 'awaiting-verdict'));
    const result = await handle.result();

    assert.equal(result.stage, 'confirmed');
    assert.equal(result.verdict?.status, 'accepted');
    const row = await sys.ledger.getObject('mus-0002');
    assert.equal(row?.state, 'confirmed');
    const [pkg] = await sys.ledger.packagesOf('mus-0002');
    assert.equal(pkg.verdict, 'accepted');
    assert.ok(pkg.reportPath && fs.readFileSync(pkg.reportPath, 'utf8').includes(pkg.sipId), 'the report is archived');
    const waited = await ledgerSpan(sys, 'mus-0002', 'awaiting-verdict', 'confirming');
    assert.ok(waited >= 2 * HOUR && waited < 3 * HOUR, `the verdict came ${waited / HOUR} h after submission, at the first poll`);

    const history = await historyFacts(handle);
    assert.deepEqual(history.signals, [], 'no sipProcessed signal');
    assert.ok(history.scheduledActivities.includes('checkVerdict'), "the verdict came from the workflow's own poll");
    report('fallback poll', wallStart, waited);
  });

  it('retries the verdict poll with backoff over hours while the service is down, then is confirmed', async () => {
    const wallStart = Date.now();
    sys = await startSkippedTimeSystem(env, {
      objects: ['mus-0003'],
      servicePollMs: 200,
      verdict: { pollAfter: '1h', deadline: '14d' },
      retry: { io: { initialInterval: '10m', backoffCoefficient: 2, maximumInterval: '4h', maximumAttempts: 50, nonRetryableErrorTypes: [] } },
    });
    const handle = await sys.start('mus-0003');
    await waitForDecision(sys, await waitForStage(handle, 'awaiting-verdict'));
    await sys.stopService();
    // 8 h of workflow time: the first poll at 1 h fails, retries follow 10, 20, 40, 80 and 160 min later.
    const outageFrom = await env.currentTimeMs();
    await env.sleep('8h');
    assert.ok((await env.currentTimeMs()) - outageFrom >= 8 * HOUR, 'the test server skipped 8 h');
    assert.equal((await handle.query(stateQuery)).stage, 'awaiting-verdict', 'still waiting while the service is down');
    // What the Web UI shows meanwhile: the poll pending, retried, with the service's refusal.
    const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'checkVerdict');
    assert.ok(pending, 'the verdict poll is pending while the service is down');
    assert.ok((pending.attempt ?? 0) >= 6, `six polls failed within 8 h (attempt ${pending.attempt})`);
    assert.match(pending.lastFailure?.message ?? '', /did not answer .*ECONNREFUSED/);
    await sys.startService();
    const result = await handle.result();

    assert.equal(result.stage, 'confirmed');
    assert.equal((await sys.ledger.getObject('mus-0003'))?.state, 'confirmed');
    assert.equal((await sys.ledger.packagesOf('mus-0003'))[0].verdict, 'accepted');
    const history = await historyFacts(handle);
    const polls = history.activities.filter((a) => a.type === 'checkVerdict');
    assert.equal(polls.length, 1, 'one poll, retried until the service answered');
    // 1 h + 10 + 20 + 40 + 80 + 160 min = 6 h 10 min; the next retry (4 h cap) comes at 10 h 10 min.
    assert.equal(polls[0].attempt, 7, 'the poll was retried with backoff: 6 failures within 8 h, the 7th attempt answered');
    const waited = await ledgerSpan(sys, 'mus-0003', 'awaiting-verdict', 'confirming');
    assert.ok(waited >= 10 * HOUR && waited < 11 * HOUR, `confirmed ${waited / HOUR} h after submission`);
    report('retry backoff', wallStart, waited);
  });
});
