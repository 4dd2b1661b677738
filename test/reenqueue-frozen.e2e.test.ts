// Reenqueue of an object frozen in the middle of the pipeline: the new attempt is a
// continue-as-new, not a failure, so the ledger goes frozen → queued with no `failed` between.
import assert from 'node:assert/strict';
import { freezeUpdate, preserveWorkflowId, reenqueueUpdate } from '../common/preservation';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { waitForStage } from './support/wait-for-stage';

const OPERATOR = 'tester@custody';

describe('reenqueue of an object frozen mid-pipeline', function () {
  this.timeout(180_000);
  let sys: CustodySystem;
  before(async () => {
    // A far own poll and no poller: the object waits in awaiting-verdict until frozen.
    sys = await startCustodySystem({ objects: ['mus-0003'], config: { verdict: { pollAfter: '1h', deadline: '14d' } } });
  });
  after(async () => sys?.close());

  it('starts a new attempt from download and records no failure', async () => {
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: ['mus-0003'] });
    const handle = sys.client.workflow.getHandle(preserveWorkflowId('mus-0003'));
    await waitForStage(handle, ['awaiting-verdict']);
    const ack = await handle.executeUpdate(freezeUpdate, { args: [{ reason: 'curator review', by: OPERATOR }] });
    assert.equal(ack.stoppedBefore, 'awaiting-verdict');
    const frozenRun = (await handle.describe()).runId;

    const next = await handle.executeUpdate(reenqueueUpdate, { args: [{ by: OPERATOR }] });
    assert.equal(next.nextAttempt, 2);
    const secondRun = await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId('mus-0003')), ['awaiting-verdict']);
    assert.equal(secondRun.attempt, 2);

    const old = await sys.client.workflow.getHandle(preserveWorkflowId('mus-0003'), frozenRun).describe();
    assert.equal(old.status.name, 'CONTINUED_AS_NEW');
    const stages = (await sys.ledger.timeline('mus-0003')).filter((e) => e.kind === 'stage').map((e) => e.stage);
    assert.ok(!stages.includes('failed'), `no failure recorded: ${stages.join(' → ')}`);
    const frozenAt = stages.indexOf('frozen');
    assert.deepEqual(stages.slice(frozenAt, frozenAt + 3), ['frozen', 'queued', 'downloading']);
    const row = await sys.ledger.getObject('mus-0003');
    assert.equal(row?.frozen, false);
    assert.equal(row?.lastError, null);
  });
});
