// Run by `npm run test:cluster` only (its name is not *.test.ts): against the Temporal server on
// PostgreSQL, two worker processes share the queues while the server is stopped and started again
// with objects in flight. Every object must end confirmed, none confirmed or submitted twice.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { preserveWorkflowId } from '../../common/preservation';
import { REPO_ROOT } from '../../config/config';
import { enqueue } from '../../starters/enqueue';
import { startCustodySystem, type CustodySystem } from '../support/custody-system';
import { submissions } from '../support/service-api';
import { restartTemporalServer, testTemporal } from '../support/temporal-server';

// The example objects the reference service accepts, each twice (a copy under a new id).
const ACCEPTED = Object.entries(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'expected-outcomes.json'), 'utf8')) as Record<string, string>)
  .filter(([, outcome]) => outcome === 'confirmed')
  .map(([id]) => id);
const IDS = [...ACCEPTED, ...ACCEPTED.map((id) => `${id}-b`)];
const WORKERS = ['a', 'b'];

describe('cluster: two worker processes and a Temporal server restart mid-run', function () {
  this.timeout(600_000);
  let sys: CustodySystem;
  const children = new Map<string, ChildProcess>();

  before(async () => {
    sys = await startCustodySystem({ objects: ACCEPTED, config: { verdict: { pollAfter: '1s', deadline: '14d' } }, inProcessWorkers: false });
    for (const id of ACCEPTED) {
      fs.cpSync(path.join(sys.sourceDir, id), path.join(sys.sourceDir, `${id}-b`), { recursive: true });
      const file = path.join(sys.sourceDir, `${id}-b`, 'object.json');
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), id: `${id}-b` }));
    }
    const configFile = sys.writeWorkerConfig('cluster');
    for (const name of WORKERS) {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'], {
        env: { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace },
        stdio: 'ignore',
      });
      children.set(name, child);
    }
  });
  after(async () => {
    for (const child of children.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await sys?.close();
  });

  it('every object ends confirmed once, the work spread over both processes', async () => {
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: IDS });

    // The restart lands when the first object is being packaged: the others are queued or mid-way.
    for (;;) {
      const states = await Promise.all(IDS.map(async (id) => (await sys.ledger.getObject(id))?.state));
      if (states.some((s) => s === 'packaging' || s === 'submitting' || s === 'awaiting-verdict' || s === 'confirmed')) {
        const confirmedBefore = states.filter((s) => s === 'confirmed').length;
        assert.ok(confirmedBefore < IDS.length, 'objects still in flight when the server restarts');
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await restartTemporalServer();

    for (const id of IDS) assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId(id)).result()).stage, 'confirmed', id);
    const subs = await submissions(sys);
    const ranOn = new Set<string>();
    const pids = new Map([...children].map(([name, child]) => [String(child.pid), name]));
    for (const id of IDS) {
      const confirmed = (await sys.ledger.timeline(id)).filter((e) => e.kind === 'stage' && e.stage === 'confirmed');
      assert.equal(confirmed.length, 1, `${id} confirmed exactly once`);
      const packages = await sys.ledger.packagesOf(id);
      assert.equal(packages.length, 1, `${id}: one SIP`);
      assert.deepEqual(
        subs.filter((s) => s.sipId === packages[0].sipId).map((s) => s.count),
        [1],
        `${id}: exactly one submission`,
      );
      const history = await sys.client.workflow.getHandle(preserveWorkflowId(id)).fetchHistory();
      for (const e of history.events ?? []) {
        const identity = e.activityTaskStartedEventAttributes?.identity;
        if (identity) ranOn.add(pids.get(identity.split('@')[1]) ?? `unknown ${identity}`);
      }
    }
    assert.deepEqual([...ranOn].sort(), WORKERS, 'activities ran in both worker processes and nowhere else');
  });
});
