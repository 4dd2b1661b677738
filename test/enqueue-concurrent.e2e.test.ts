// `custody enqueue` starts its workflows several at a time (starters/enqueue.ts): on a real
// Temporal dev server, with no worker (so every started workflow stays running), each object
// gets exactly one outcome in the source's order, --limit still counts starts, a second enqueue
// finds them all already running, and while drained every object is held, none started.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { preserveWorkflowId } from '../common/preservation';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { useOwnNamespace } from './support/temporal-server';

const IDS = Array.from({ length: 40 }, (_, i) => `conc-${String(i + 1).padStart(4, '0')}`);

function writeObjects(sourceDir: string, ids: string[]): void {
  for (const id of ids) {
    fs.mkdirSync(path.join(sourceDir, id));
    fs.writeFileSync(path.join(sourceDir, id, 'object.json'), JSON.stringify({ id, title: `Object ${id}`, modifiedAt: '2024-01-01T00:00:00Z' }));
    fs.writeFileSync(path.join(sourceDir, id, 'data.txt'), id);
  }
}

async function running(sys: CustodySystem): Promise<string[]> {
  const ids: string[] = [];
  for await (const wf of sys.client.workflow.list({ query: `ExecutionStatus="Running" AND WorkflowType="preserveObject"` })) ids.push(wf.workflowId);
  return ids.sort();
}

describe('custody enqueue starts workflows concurrently', function () {
  this.timeout(180_000);
  useOwnNamespace('custody-enqueue-concurrent-test');
  let sys: CustodySystem;
  beforeEach(async () => {
    sys = await startCustodySystem({ inProcessWorkers: false });
    writeObjects(sys.sourceDir, IDS);
  });
  afterEach(async () => {
    await sys.close();
  });

  it('reports one outcome per object in source order, keeps --limit, and finds them already running the second time', async () => {
    const deps = { client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source };
    const first = await enqueue(deps, { limit: 25, concurrency: 8 });
    assert.deepEqual(
      first.map((o) => [o.objectId, o.action]),
      IDS.slice(0, 25).map((id) => [id, 'started']),
    );

    const second = await enqueue(deps, { concurrency: 8 });
    assert.deepEqual(
      second.map((o) => [o.objectId, o.action]),
      IDS.map((id, i) => [id, i < 25 ? 'already-running' : 'started']),
    );
    assert.deepEqual(await waitForVisible(sys, IDS.length), IDS.map(preserveWorkflowId).sort());
    // Each start recorded the object in the ledger with the source's modification time.
    for (const id of IDS) assert.equal((await sys.ledger.getObject(id))?.sourceModifiedAt, '2024-01-01T00:00:00Z');
  });

  it('while drained holds every object and starts none', async () => {
    await sys.ledger.drain.set({ since: new Date().toISOString(), by: 'test', reason: 'maintenance' });
    const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { concurrency: 8 });
    assert.deepEqual(
      outcomes.map((o) => [o.objectId, o.action]),
      IDS.map((id) => [id, 'held']),
    );
    assert.deepEqual((await sys.ledger.drain.held()).map((h) => h.itemId).sort(), [...IDS].sort());
    assert.deepEqual(await running(sys), []);
  });
});

/** Visibility lags a start by a moment: ask until it lists them all. */
async function waitForVisible(sys: CustodySystem, n: number): Promise<string[]> {
  const end = Date.now() + 30_000;
  for (;;) {
    const ids = await running(sys);
    if (ids.length >= n || Date.now() > end) return ids;
    await new Promise((r) => setTimeout(r, 300));
  }
}
