// Operator control and failure handling on the real dev server: freeze, unfreeze, reenqueue,
// automatic freezing, deferral, and failures transient and permanent.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AUTOMATIC_FREEZER, preserveWorkflowId, stateQuery } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { enqueue } from '../starters/enqueue';
import { freeze, reenqueue, select, unfreeze } from '../starters/operator';
import { summarize } from '../starters/status';
import { syncProcessedSips } from '../workflows';
import { TASK_QUEUES } from '../common/preservation';
import { referencePreservationService } from '../services/preservation-service';
import { FileStorage } from '../storage';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { eventually } from './support/eventually';
import { submissions } from './support/service-api';
import { currentDetails, waitForStage } from './support/wait-for-stage';
import { recordHistory } from './support/record-history';

const OPERATOR = 'tester@custody';

const deps = (sys: CustodySystem) => ({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source });
const handleOf = (sys: CustodySystem, id: string) => sys.client.workflow.getHandle(preserveWorkflowId(id));

function writeObject(sys: CustodySystem, id: string, files: Record<string, Buffer | string>, metadata: Record<string, unknown> | string = {}) {
  const dir = path.join(sys.sourceDir, id);
  fs.mkdirSync(dir, { recursive: true });
  const meta = typeof metadata === 'string' ? metadata : JSON.stringify({ id, title: `Test object ${id}`, modifiedAt: new Date().toISOString(), ...metadata });
  fs.writeFileSync(path.join(dir, 'object.json'), meta);
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), data);
  }
}

describe('operator control and failure handling', function () {
  this.timeout(180_000);

  describe('freeze and unfreeze', () => {
    let sys: CustodySystem;
    before(async () => {
      // No poller and a far own poll: an object waits in awaiting-verdict until told.
      sys = await startCustodySystem({ objects: ['mus-0003', 'mus-0004'], config: { verdict: { pollAfter: '1h', deadline: '14d' } } });
    });
    after(async () => sys?.close());

    it('an object frozen before enqueue is skipped, listed with its reason, and taken after unfreeze', async () => {
      const unseen = await freeze(deps(sys), 'mus-0004', 'rights not cleared', OPERATOR);
      assert.equal(unseen.ok, false, 'an id the ledger has not seen needs --not-yet-enqueued');
      assert.match(unseen.message, /unknown object id mus-0004: not in custody's ledger/);
      assert.equal((await freeze(deps(sys), 'mus-9999', 'x', OPERATOR, { notYetEnqueued: true })).ok, false, 'not in the source either');
      await assert.rejects(freeze(deps(sys), '../mus-0004', 'x', OPERATOR, { notYetEnqueued: true }), /invalid object id "\.\.\/mus-0004"/);
      assert.equal((await sys.ledger.listObjects()).length, 0, 'no ghost rows');
      const frozen = await freeze(deps(sys), 'mus-0004', 'rights not cleared', OPERATOR, { notYetEnqueued: true });
      assert.equal(frozen.ok, true, frozen.message);
      const skipped = await enqueue(deps(sys), { ids: ['mus-0004'] });
      assert.equal(skipped[0].action, 'skipped');
      assert.match(skipped[0].action === 'skipped' ? skipped[0].reason : '', /frozen by tester@custody: rights not cleared/);
      const summary = await summarize(sys.ledger);
      assert.deepEqual(
        summary.needsAttention.map((o) => [o.id, o.frozen, o.reason, o.by]),
        [['mus-0004', true, 'rights not cleared', OPERATOR]],
      );
      assert.equal((await unfreeze(deps(sys), 'mus-0004', OPERATOR)).ok, true);
      const started = await enqueue(deps(sys), { ids: ['mus-0004'] });
      assert.equal(started[0].action, 'started');
      await waitForStage(handleOf(sys, 'mus-0004'), ['awaiting-verdict']);
      const busy = await reenqueue(deps(sys), 'mus-0004', OPERATOR);
      assert.equal(busy.ok, false);
      assert.match(busy.message, /mus-0004 is awaiting-verdict, not waiting for an operator/);
    });

    it('freezes a running object, acknowledged with its stage, and ends confirmed with one SIP after unfreeze', async () => {
      await enqueue(deps(sys), { ids: ['mus-0003'] });
      const handle = handleOf(sys, 'mus-0003');
      const waiting = await waitForStage(handle, ['awaiting-verdict']);
      assert.equal(await currentDetails(handle), `waiting for the service's verdict on SIP ${waiting.sipId}`);
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA.state), 'waiting-verdict');
      const frozen = await freeze(deps(sys), 'mus-0003', 'curator review', OPERATOR);
      assert.equal(frozen.ok, true, frozen.message);
      assert.match(frozen.message, /frozen before awaiting-verdict/);
      const state = await handle.query(stateQuery);
      assert.equal(state.stage, 'frozen');
      assert.equal(state.frozenReason, 'curator review');
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA.frozen), true);
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA.state), 'frozen');
      assert.equal(await currentDetails(handle), `frozen: curator review (by ${OPERATOR}) — waiting for unfreeze or reenqueue`);
      assert.equal((await sys.ledger.getObject('mus-0003'))?.frozen, true);

      // The verdict arrives while frozen: it is kept, and nothing moves until unfreeze.
      const service = referencePreservationService({ url: sys.config.service.url, transfer: new FileStorage(sys.config.service.transfer) });
      while (!(await service.verdict(state.sipId!))) await new Promise((r) => setTimeout(r, 100));
      await sys.client.workflow.execute(syncProcessedSips, { taskQueue: TASK_QUEUES.io, workflowId: 'sync-once-1', args: [{}] });
      assert.equal((await handle.query(stateQuery)).stage, 'frozen');
      assert.equal((await freeze(deps(sys), 'mus-0003', 'again', OPERATOR)).ok, true, 'freezing a frozen object is acknowledged');

      const unfrozen = await unfreeze(deps(sys), 'mus-0003', OPERATOR);
      assert.match(unfrozen.message, /continues with awaiting-verdict/);
      const result = await handle.result();
      assert.equal(result.stage, 'confirmed');
      await recordHistory('preserve-frozen-then-unfrozen', handle);
      assert.equal((await sys.ledger.packagesOf('mus-0003')).length, 1);
      const row = await sys.ledger.getObject('mus-0003');
      assert.equal(row?.frozen, false);
      assert.equal((await submissions(sys)).filter((s) => s.sipId.startsWith('mus-0003')).length, 1);
    });
  });

  describe('a freeze after the last checkpoint', () => {
    let sys: CustodySystem;
    let reached: () => void;
    const recording = new Promise<void>((r) => (reached = r));
    let release: () => void;
    const released = new Promise<void>((r) => (release = r));
    before(async () => {
      // The service watches another folder, so it never decides: the object ends in no-verdict at a
      // short deadline. The ledger write of that stage waits for the test, so a freeze arrives
      // while it is being recorded.
      sys = await startCustodySystem({
        objects: ['mus-0005'],
        serviceTransfer: new FileStorage(fs.mkdtempSync(path.join(os.tmpdir(), 'custody-elsewhere-'))),
        config: { verdict: { pollAfter: '1h', deadline: '3s' } },
        decorate: (parts) => {
          const ledger = Object.create(parts.ledger) as typeof parts.ledger;
          ledger.setState = async (id, stage, opts) => {
            if (stage === 'no-verdict') {
              reached();
              await released;
            }
            return parts.ledger.setState(id, stage, opts);
          };
          return { ...parts, ledger };
        },
      });
    });
    after(async () => sys?.close());

    it('is refused when the object ends, and the workflow does not stay open waiting for it', async () => {
      await enqueue(deps(sys), { ids: ['mus-0005'] });
      await recording;
      const handle = handleOf(sys, 'mus-0005');
      const answer = freeze(deps(sys), 'mus-0005', 'hold it', OPERATOR);
      // Accepted (the workflow still shows awaiting-verdict), waiting for a checkpoint that will not come.
      await eventually('the freeze accepted', async () =>
        ((await handle.fetchHistory()).events ?? []).some((e) => e.workflowExecutionUpdateAcceptedEventAttributes),
      );
      release();
      const refused = await answer;
      assert.equal(refused.ok, false, refused.message);
      assert.match(refused.message, /mus-0005 is no-verdict: there is no stage left to stop before/);
      assert.equal((await handle.result()).stage, 'no-verdict');
      assert.equal((await sys.ledger.getObject('mus-0005'))?.frozen, false);
    });
  });

  describe('automatic freezing and deferral', () => {
    let sys: CustodySystem;
    const reasonOf = async (id: string) => (await sys.ledger.getObject(id))?.frozenReason ?? '';
    before(async () => {
      sys = await startCustodySystem({
        objects: ['mus-0007'],
        config: {
          verdict: { pollAfter: '1s', deadline: '14d' },
          sip: { algorithms: ['sha256', 'sha512'], acceptedFormats: ['image/jpeg', 'image/png', 'text/plain', 'application/pdf'] },
          guards: { maxObjectBytes: 3_000_000, maxFiles: 20, allowZeroLengthFiles: false, settleTime: '3s' },
        },
      });
      writeObject(sys, 'bad-json', { 'a.txt': 'hello' }, '{ "id": "bad-json", "modifiedAt": "2026-01-01" }');
      writeObject(sys, 'empty', {});
      writeObject(sys, 'escape', { 'a.txt': 'hello' });
      fs.symlinkSync('/etc/hostname', path.join(sys.sourceDir, 'escape', 'outside.txt'));
      writeObject(sys, 'zero', { 'a.txt': 'hello', 'nothing.txt': '' });
      writeObject(sys, 'huge', { 'big.txt': Buffer.alloc(3_500_000, 97) });
      writeObject(sys, 'many', Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`f${i}.txt`, `file ${i}`])));
      writeObject(sys, 'fresh', { 'note.txt': 'just written' });
    });
    after(async () => sys?.close());

    it('freezes each cause no retry can fix with its reason, in the workflow, the ledger and status', async () => {
      const causes: Record<string, RegExp> = {
        'bad-json': /InvalidObjectMetadata: .*title/,
        empty: /EmptyObject/,
        escape: /UnsafePath: .*outside\.txt/,
        zero: /ZeroLengthFile: .*nothing\.txt/,
        huge: /ObjectTooLarge/,
        many: /TooManyFiles/,
        'mus-0007': /UnsupportedFormat: .*image\/gif/,
      };
      const outcomes = await enqueue(deps(sys), { ids: Object.keys(causes) });
      assert.deepEqual(
        outcomes.map((o) => o.action),
        Object.keys(causes).map(() => 'started'),
        'objects with a bad object.json are enqueued, not dropped',
      );
      for (const [id, reason] of Object.entries(causes)) {
        const state = await waitForStage(handleOf(sys, id), ['frozen', 'failed', 'confirmed']);
        assert.equal(state.stage, 'frozen', `${id}: ${state.lastError}`);
        assert.match(state.frozenReason ?? '', reason);
        assert.equal(state.frozenBy, AUTOMATIC_FREEZER);
        assert.match(await reasonOf(id), reason);
      }
      const listed = (await summarize(sys.ledger)).needsAttention.map((o) => o.id).sort();
      assert.deepEqual(listed, Object.keys(causes).sort());
      assert.deepEqual(await select(sys.ledger, { frozenReason: 'ZeroLengthFile' }), ['zero']);
    });

    it('after the source is fixed, unfreeze starts the object again and it is preserved', async () => {
      fs.writeFileSync(path.join(sys.sourceDir, 'zero', 'nothing.txt'), 'something now');
      const handle = handleOf(sys, 'zero');
      const unfrozen = await unfreeze(deps(sys), 'zero', OPERATOR);
      assert.equal(unfrozen.ok, true, unfrozen.message);
      const result = await handle.result();
      assert.equal(result.stage, 'confirmed');
      assert.equal((await sys.ledger.getObject('zero'))?.frozen, false);
    });

    it('defers an object whose files are still being written, then preserves it', async () => {
      writeObject(sys, 'fresh', { 'note.txt': 'just written, again' });
      await enqueue(deps(sys), { ids: ['fresh'] });
      const result = await handleOf(sys, 'fresh').result();
      assert.equal(result.stage, 'confirmed');
      const stages = (await sys.ledger.timeline('fresh')).filter((e) => e.kind === 'stage').map((e) => e.stage);
      assert.deepEqual(stages.slice(0, 3), ['queued', 'deferred', 'downloading']);
    });
  });

  describe('rejection and reenqueue', () => {
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({ objects: ['mus-0007'], config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
    });
    after(async () => sys?.close());

    it('a rejected object reenqueued after the fix ends accepted, both attempts in the history chain', async () => {
      const since = new Date().toISOString();
      await enqueue(deps(sys), { ids: ['mus-0007'] });
      const handle = handleOf(sys, 'mus-0007');
      const rejected = await waitForStage(handle, ['rejected']);
      assert.match(rejected.lastError ?? '', /image\/gif/);
      assert.deepEqual(await select(sys.ledger, { rejected: true }), ['mus-0007']);
      const early = await reenqueue(deps(sys), 'mus-0003-not-here', OPERATOR);
      assert.equal(early.ok, false);

      fs.rmSync(path.join(sys.sourceDir, 'mus-0007', 'moonrise-animation.gif'));
      const rejectedRun = (await handle.describe()).runId;
      const again = await reenqueue(deps(sys), 'mus-0007', OPERATOR);
      assert.match(again.message, /reenqueued as attempt 2/);
      const result = await sys.client.workflow.getHandle(preserveWorkflowId('mus-0007')).result();
      assert.equal(result.stage, 'confirmed');
      await recordHistory('preserve-rejected-then-reenqueued', sys.client.workflow.getHandle(preserveWorkflowId('mus-0007'), rejectedRun));
      const packages = await sys.ledger.packagesOf('mus-0007');
      assert.deepEqual(
        packages.map((p) => [p.attempt, p.verdict]),
        [
          [1, 'rejected'],
          [2, 'accepted'],
        ],
      );
      const runs = [];
      for await (const wf of sys.client.workflow.list({ query: `WorkflowId = "${preserveWorkflowId('mus-0007')}" AND StartTime >= "${since}"` }))
        runs.push(wf.status.name);
      assert.deepEqual(runs.sort(), ['COMPLETED', 'CONTINUED_AS_NEW']);
    });

    it('a confirmed object is preserved again only with force and a reason, as a new attempt beside the kept one', async () => {
      const accepted = (await sys.ledger.packagesOf('mus-0007'))[1];
      const refused = await reenqueue(deps(sys), 'mus-0007', OPERATOR);
      assert.equal(refused.ok, false);
      assert.equal(refused.message, `mus-0007 is confirmed (SIP ${accepted.sipId}, ${accepted.decidedAt}); use --force --reason TEXT to preserve it again`);
      await assert.rejects(reenqueue(deps(sys), 'mus-0007', OPERATOR, { force: true }), /--force needs --reason/);
      const outcome = await reenqueue(deps(sys), 'mus-0007', OPERATOR, { force: true, reason: 'metadata corrected' });
      assert.match(outcome.message, /started again as a new preservation of a confirmed object, attempt 3/);
      const result = await handleOf(sys, 'mus-0007').result();
      assert.equal(result.stage, 'confirmed');
      const title = (await sys.ledger.getObject('mus-0007'))?.title ?? '';
      assert.equal(
        await (await handleOf(sys, 'mus-0007').describe()).staticSummary(),
        `preserve mus-0007: ${title}`,
        'the new run names its object and title in the Web UI',
      );
      const packages = await sys.ledger.packagesOf('mus-0007');
      assert.deepEqual(
        packages.map((p) => [p.attempt, p.verdict]),
        [
          [1, 'rejected'],
          [2, 'accepted'],
          [3, 'accepted'],
        ],
      );
      assert.deepEqual(packages[1], accepted, 'the earlier confirmed package is untouched');
      const events = (await sys.ledger.timeline('mus-0007')).filter((e) => e.kind === 'reenqueued');
      assert.deepEqual(
        events.map((e) => e.detail),
        [
          { by: OPERATOR, attempt: 2 },
          { by: OPERATOR, attempt: 3, reason: 'metadata corrected', forced: true, previousSipId: accepted.sipId },
        ],
      );
      assert.deepEqual(events[1].detail, { by: OPERATOR, attempt: 3, reason: 'metadata corrected', forced: true, previousSipId: accepted.sipId });
    });
  });

  describe('failures', () => {
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({ objects: ['mus-0004', 'mus-0010'], config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
    });
    after(async () => sys?.close());

    it('retries while the preservation service is down for a while, then succeeds', async () => {
      await sys.stopService();
      await enqueue(deps(sys), { ids: ['mus-0004'] });
      // Down until a step has failed against it and is being retried (a fixed wait is too short on a busy machine).
      const retrying = async () => ((await handleOf(sys, 'mus-0004').describe()).raw.pendingActivities ?? []).some((a) => (a.attempt ?? 1) > 1);
      await eventually('a step of mus-0004 retried while the service is down', retrying, Boolean, { timeoutMs: 120_000 });
      await sys.startService();
      const result = await handleOf(sys, 'mus-0004').result();
      assert.equal(result.stage, 'confirmed');
      const history = await handleOf(sys, 'mus-0004').fetchHistory();
      const attempts = (history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0);
      assert.ok(Math.max(...attempts) > 1, 'some activity was retried');
      assert.equal((await submissions(sys)).filter((s) => s.sipId.startsWith('mus-0004')).length, 1);
    });

    it('a permanent failure ends in the failed state with its error, and waits for the operator', async () => {
      await sys.stopService();
      await enqueue(deps(sys), { ids: ['mus-0010'] });
      const handle = handleOf(sys, 'mus-0010');
      const failed = await waitForStage(handle, ['failed']);
      assert.match(failed.lastError ?? '', new RegExp(`preservation service at ${sys.serviceUrl.replace(/[.]/g, '\\.')}`));
      assert.ok(failed.lastErrorStack, 'the stack is kept for the operator');
      const row = await sys.ledger.getObject('mus-0010');
      assert.equal(row?.state, 'failed');
      assert.match(row?.lastError ?? '', /did not answer/);
      assert.deepEqual(await select(sys.ledger, { failed: true }), ['mus-0010']);
      assert.equal((await handle.describe()).status.name, 'RUNNING', 'a failed object does not vanish');
      assert.equal((await handle.describe()).typedSearchAttributes.get(SA.state), 'failed');
      assert.equal(await currentDetails(handle), `failed: ${failed.lastError} — waiting for reenqueue`);
      await sys.startService();
      assert.match((await reenqueue(deps(sys), 'mus-0010', OPERATOR)).message, /attempt 2/);
      assert.equal((await handle.result()).stage, 'confirmed');
    });
  });
});
