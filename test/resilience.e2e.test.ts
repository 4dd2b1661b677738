// A crash loses nothing: a worker killed with SIGKILL while it builds a SIP and again while it
// submits one, and the Temporal server stopped and started mid-run, still leave every object
// confirmed exactly once with exactly one submission each.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { preserveWorkflowId, type Stage } from '../common/preservation';
import { REPO_ROOT } from '../config/config';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { submissions } from './support/service-api';
import { restartTemporalServer, testTemporal } from './support/temporal-server';

async function waitForLedgerState(sys: CustodySystem, id: string, state: Stage, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while ((await sys.ledger.getObject(id))?.state !== state) {
    if (Date.now() > until) throw new Error(`${id} never reached ${state}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every object confirmed once (one confirmed event, one SIP) and submitted once. */
async function assertEachConfirmedOnce(sys: CustodySystem, ids: string[]): Promise<void> {
  for (const id of ids) {
    const result = await sys.client.workflow.getHandle(preserveWorkflowId(id)).result();
    assert.equal(result.stage, 'confirmed', id);
  }
  const subs = await submissions(sys);
  for (const id of ids) {
    const confirmed = (await sys.ledger.timeline(id)).filter((e) => e.kind === 'stage' && e.stage === 'confirmed');
    assert.equal(confirmed.length, 1, `${id} confirmed exactly once`);
    const packages = await sys.ledger.packagesOf(id);
    assert.equal(packages.length, 1, `${id}: one SIP`);
    const mine = subs.filter((s) => s.sipId === packages[0].sipId);
    assert.deepEqual(
      mine.map((s) => s.count),
      [1],
      `${id}: exactly one submission`,
    );
  }
}

describe('crash recovery', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let configFile: string;
  const children: ChildProcess[] = [];

  function startChildWorker(): ChildProcess {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'], {
      env: { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }
  const kill = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  before(async () => {
    sys = await startCustodySystem({ objects: ['mus-0001', 'mus-0004'], config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
    // A large object, so the kills land while its SIP is being built and submitted.
    const big = path.join(sys.sourceDir, 'big-0001');
    fs.mkdirSync(big);
    fs.writeFileSync(path.join(big, 'object.json'), JSON.stringify({ id: 'big-0001', title: 'A large scan', modifiedAt: '2026-01-01T00:00:00Z' }));
    const out = fs.openSync(path.join(big, 'scan.txt'), 'w');
    const chunk = Buffer.alloc(16 * 1024 * 1024);
    for (let i = 0; i < 24; i++) fs.writeSync(out, crypto.randomFillSync(chunk).toString('base64').slice(0, chunk.length));
    fs.closeSync(out);
    await sys.stopWorkers(); // the work is done by child processes only
    configFile = sys.writeWorkerConfig('custody');
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await sys?.startWorkers().catch(() => undefined);
    await sys?.close();
  });

  it('a worker killed while building a SIP and again while submitting loses nothing', async () => {
    const ids = ['big-0001', 'mus-0001', 'mus-0004'];
    let worker = startChildWorker();
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });

    await waitForLedgerState(sys, 'big-0001', 'packaging');
    await new Promise((r) => setTimeout(r, 300));
    await kill(worker);
    worker = startChildWorker();

    await waitForLedgerState(sys, 'big-0001', 'submitting');
    await kill(worker);
    startChildWorker();

    await assertEachConfirmedOnce(sys, ids);
    // The kills hit running steps: the killed worker's SIP build was retried by the next one.
    const history = await sys.client.workflow.getHandle(preserveWorkflowId('big-0001')).fetchHistory();
    const scheduled = new Map<string, string>();
    const retried: string[] = [];
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) retried.push(scheduled.get(String(started.scheduledEventId)) ?? '');
    }
    assert.ok(retried.includes('createSip'), `createSip ran again after the kill (retried: ${retried.join(', ') || 'none'})`);
  });

  it('the Temporal server stopped and started again mid-run (its SQLite file kept) loses nothing', async () => {
    for (const id of ['mus-0001', 'mus-0004']) fs.cpSync(path.join(sys.sourceDir, id), path.join(sys.sourceDir, `${id}-b`), { recursive: true });
    for (const id of ['mus-0001-b', 'mus-0004-b']) {
      const file = path.join(sys.sourceDir, id, 'object.json');
      fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), id }));
    }
    const ids = ['mus-0001-b', 'mus-0004-b'];
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });
    await waitForLedgerState(sys, 'mus-0001-b', 'downloading');
    await restartTemporalServer();
    await assertEachConfirmedOnce(sys, ids);
  });
});
