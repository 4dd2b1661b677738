// The scheduled poller (`sync-processed-sips`): each verdict reaches its workflow once, however
// often the poller runs, and under load the poller, not the workflows' own fallback polls,
// delivers the verdicts.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { SYNC_PROCESSED_SIPS_SCHEDULE, TASK_QUEUES, preserveWorkflowId, type SyncProcessedSipsResult } from '../common/preservation';
import { referencePreservationService } from '../services/preservation-service';
import { FileStorage } from '../storage';
import { createSchedules } from '../starters/schedules';
import { enqueue } from '../starters/enqueue';
import { syncProcessedSips } from '../workflows';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { waitForStage } from './support/wait-for-stage';

const deps = (sys: CustodySystem) => ({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source });

async function signalsReceived(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'sipProcessed').length;
}

/** Waits until the service has decided every one of these SIPs. */
async function verdictsDecided(sys: CustodySystem, sipIds: string[]): Promise<void> {
  const service = referencePreservationService({ url: sys.config.service.url, transfer: new FileStorage(sys.config.service.transfer) });
  for (const sipId of sipIds) while (!(await service.verdict(sipId))) await new Promise((r) => setTimeout(r, 100));
}

/** Triggers the schedule and returns the result of the run it started. */
async function triggerAndWait(sys: CustodySystem, runsBefore: number): Promise<SyncProcessedSipsResult> {
  const schedule = sys.client.schedule.getHandle(SYNC_PROCESSED_SIPS_SCHEDULE);
  await schedule.trigger();
  for (;;) {
    const { info } = await schedule.describe();
    if (info.recentActions.length > runsBefore) {
      const { workflow } = info.recentActions[runsBefore].action;
      return (await sys.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).result()) as SyncProcessedSipsResult;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the scheduled poller', function () {
  this.timeout(600_000);

  describe('idempotent delivery', () => {
    let sys: CustodySystem;
    before(async () => {
      // No fallback poll within the test: only the poller delivers.
      sys = await startCustodySystem({
        objects: ['mus-0003', 'mus-0007'],
        config: { verdict: { pollAfter: '1h', deadline: '14d' }, schedules: { syncProcessedSips: { every: '1h', catchupWindow: '1m' } } },
      });
    });
    after(async () => sys?.close());

    it('sends each verdict once, whether the schedule is triggered again or a run starts from scratch', async () => {
      await enqueue(deps(sys), { ids: ['mus-0003', 'mus-0007'] });
      const handles = ['mus-0003', 'mus-0007'].map((id) => sys.client.workflow.getHandle(preserveWorkflowId(id)));
      const sipIds = await Promise.all(handles.map(async (h) => (await waitForStage(h, ['awaiting-verdict'])).sipId!));
      await verdictsDecided(sys, sipIds);

      await createSchedules(sys.client, sys.config);
      const first = await triggerAndWait(sys, 0);
      assert.equal(first.signalled, 2);
      assert.equal((await handles[0].result()).stage, 'confirmed');
      await waitForStage(handles[1], ['rejected']);

      // Triggered again by an operator, and a run that lost its checkpoint: nothing is sent twice.
      const second = await triggerAndWait(sys, 1);
      assert.equal(second.signalled, 0);
      const fromScratch = await sys.client.workflow.execute(syncProcessedSips, {
        taskQueue: TASK_QUEUES.io,
        workflowId: 'sync-from-scratch',
        args: [{ since: new Date(0).toISOString() }],
      });
      assert.deepEqual([fromScratch.signalled, fromScratch.alreadyDelivered], [0, 2]);

      assert.equal(await signalsReceived(handles[1]), 1, 'the rejected object, still waiting for an operator, got its verdict once');
      for (const id of ['mus-0003', 'mus-0007']) {
        const kinds = (await sys.ledger.timeline(id)).map((e) => e.kind);
        assert.equal(kinds.filter((k) => k === 'verdict-signalled').length, 1, `${id}: signalled once`);
        assert.equal(kinds.filter((k) => k === 'verdict').length, 1, `${id}: verdict recorded once`);
      }
    });
  });

  describe('under load', () => {
    const COUNT = Number(process.env.CUSTODY_POLLER_LOAD ?? 200);
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({
        // The poller runs every 2 s; the fallback poll is due 2 min after an object starts waiting,
        // so only a poller that falls behind by minutes loses the race. (With 20 s, a machine busy
        // with other work let the fallback take a quarter of them; with signals sent from the
        // workflow, one server round trip each, the poller delivered 38 of 100 even at rest.)
        config: {
          verdict: { pollAfter: '2m', deadline: '14d' },
          schedules: { syncProcessedSips: { every: '2s', catchupWindow: '1m' } },
          guards: { maxObjectBytes: 1024 ** 3, maxFiles: 1000, allowZeroLengthFiles: false, settleTime: '1ms' },
        },
      });
      for (let i = 0; i < COUNT; i++) {
        const id = `load-${String(i).padStart(4, '0')}`;
        fs.mkdirSync(path.join(sys.sourceDir, id));
        fs.writeFileSync(path.join(sys.sourceDir, id, 'object.json'), JSON.stringify({ id, title: `Load ${i}`, modifiedAt: '2026-01-01T00:00:00Z' }));
        fs.writeFileSync(path.join(sys.sourceDir, id, 'note.txt'), `object ${i}\n`);
      }
    });
    after(async () => sys?.close());

    it(`delivers nearly every verdict by its signal with objects in flight`, async () => {
      await createSchedules(sys.client, sys.config);
      const outcomes = await enqueue(deps(sys), {});
      assert.equal(outcomes.filter((o) => o.action === 'started').length, COUNT);
      const results = await Promise.all(outcomes.map((o) => sys.client.workflow.getHandle(preserveWorkflowId(o.objectId)).result()));
      assert.deepEqual([...new Set(results.map((r) => r.stage))], ['confirmed']);

      const via = { signal: 0, 'own-poll': 0 };
      for (const o of outcomes) {
        const confirming = (await sys.ledger.timeline(o.objectId)).find((e) => e.kind === 'stage' && e.stage === 'confirming');
        via[(confirming?.detail as { via: 'signal' | 'own-poll' }).via]++;
      }
      console.log(`      ${COUNT} objects: ${via.signal} verdicts by the poller's signal, ${via['own-poll']} by the workflows' own poll`);
      assert.ok(via.signal >= COUNT * 0.95, `the poller delivered ${via.signal} of ${COUNT}`);
    });
  });
});
