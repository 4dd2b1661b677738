// The fixity audit end to end: three objects preserved by the real pipeline (Temporal dev server,
// reference preservation service) and delivered to a folder, so custody keeps their packages.
// One kept package is corrupted, another deleted, a delivered copy corrupted: the audit reports
// each as a ledger event of its kind with the sha256 expected and found, the run's result counts
// them, and `custody status` shows them; the Schedule's runs take the next slice after the last
// run's cursor and wrap at the end.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { AUDIT_FIXITY_SCHEDULE, type AuditFixityInput, type AuditFixityResult } from '../common/fixity';
import { SCHEDULES_TASK_QUEUE, preserveWorkflowId } from '../common/preservation';
import { REPO_ROOT } from '../config/config';
import type { EventRow, PackageRow } from '../ledger';
import { enqueue } from '../starters/enqueue';
import { createSchedules } from '../starters/schedules';
import { auditFixity } from '../workflows';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal } from './support/temporal-server';
import { currentDetails, waitForStage } from './support/wait-for-stage';

const execFileP = promisify(execFile);
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const short = (h: string) => `${h.slice(0, 16)}…`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const IDS = ['mus-0001', 'mus-0002', 'mus-0003'];

describe('fixity audit of kept and delivered packages (real Temporal, real service, folder storage)', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let mirror: string;
  let kept: string;
  const pkg: Record<string, PackageRow> = {};
  let runs = 0;

  const keptFile = (id: string) => path.join(kept, id, pkg[id]!.sipId, `${pkg[id]!.sipId}.tar`);
  const mirrorFile = (id: string) => path.join(mirror, id, `${pkg[id]!.sipId}.tar`);
  const fixityEvents = async (id: string): Promise<EventRow[]> => (await sys.ledger.timeline(id)).filter((e) => e.kind.startsWith('fixity-'));

  async function audit(input: AuditFixityInput): Promise<AuditFixityResult> {
    return sys.client.workflow.execute(auditFixity, { taskQueue: SCHEDULES_TASK_QUEUE, workflowId: `audit-fixity-test-${++runs}`, args: [input] });
  }

  function cli(args: string[]) {
    const configFile = path.join(sys.root, 'operator.json');
    const { dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, delivery } = sys.config;
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, delivery }));
    const env = { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
    return execFileP(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), ...args], { env, timeout: 60_000 });
  }

  /** Flips one byte in the middle of `file`: same size, other bytes. */
  function corrupt(file: string): string {
    const bytes = fs.readFileSync(file);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0xff;
    fs.writeFileSync(file, bytes);
    return sha256(bytes);
  }

  before(async function () {
    this.timeout(240_000);
    sys = await startCustodySystem({ objects: IDS, inProcessWorkers: false, config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
    mirror = path.join(sys.root, 'mirror');
    kept = path.join(sys.root, 'packages');
    Object.assign(sys.config.delivery, {
      packages: kept,
      destinations: [{ kind: 'folder', name: 'mirror-folder', path: mirror, compress: false }],
      rules: [{ pipeline: 'preservation', to: ['mirror-folder'] }],
      retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
    });
    // Only the test's triggers run the schedule; its runs take a third of the packages.
    Object.assign(sys.config.schedules.auditFixity, { every: '24h', catchupWindow: '1m' });
    sys.config.fixity.share = 0.34;
    await sys.startWorkers();
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: IDS });
    for (const id of IDS) await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(id)), ['confirmed'], 120_000);
    for (const id of IDS) {
      pkg[id] = (await sys.ledger.packagesOf(id)).find((p) => p.verdict === 'accepted')!;
      const deadline = Date.now() + 60_000;
      while ((await sys.ledger.deliveries.of(id))[0]?.state !== 'delivered') {
        if (Date.now() > deadline) throw new Error(`${id} was never delivered to mirror-folder`);
        await sleep(200);
      }
      assert.equal(sha256(fs.readFileSync(keptFile(id))), pkg[id]!.sha256, `${id}'s package is kept`);
    }
  });
  after(async () => {
    await sys?.close();
  });

  it('reports a corrupted kept package as fixity-mismatch and a deleted one as fixity-missing, the third ok; status shows them', async () => {
    const found = corrupt(keptFile('mus-0001'));
    fs.rmSync(keptFile('mus-0002'));

    const handle = await sys.client.workflow.start(auditFixity, {
      taskQueue: SCHEDULES_TASK_QUEUE,
      workflowId: `audit-fixity-test-${++runs}`,
      args: [{ share: 1 }],
    });
    const r = await handle.result();
    const size = (id: string) => pkg[id]!.size;
    // The Web UI's current details: the progress, here at the end of the run.
    assert.equal(await currentDetails(handle), `checked 3 of 3 packages (3 audited in all): 4 copies ok, 1 mismatched, 1 missing, ${r.bytesRead} bytes read`);
    assert.deepEqual(
      { total: r.total, checked: r.checked, ok: r.ok, mismatched: r.mismatched, missing: r.missing, unreachable: r.unreachable },
      // Six copies: three kept (one corrupted, one gone) and three in the mirror, all whole.
      { total: 3, checked: 3, ok: 4, mismatched: 1, missing: 1, unreachable: [] },
    );
    assert.equal(r.bytesRead, 2 * size('mus-0001') + size('mus-0002') + 2 * size('mus-0003'), 'each copy there is read whole');
    assert.equal(r.cursor, [pkg['mus-0001']!.sipId, pkg['mus-0002']!.sipId, pkg['mus-0003']!.sipId].sort()[2]);

    // A folder storage names its objects by path.
    const where = keptFile;
    const [mismatch] = await fixityEvents('mus-0001');
    assert.equal(mismatch?.kind, 'fixity-mismatch');
    assert.equal(mismatch.sipId, pkg['mus-0001']!.sipId);
    assert.deepEqual(
      { ...(mismatch.detail as object), audit: undefined },
      {
        where: where('mus-0001'),
        sipId: pkg['mus-0001']!.sipId,
        expected: pkg['mus-0001']!.sha256,
        found,
        expectedSize: size('mus-0001'),
        foundSize: size('mus-0001'),
        audit: undefined,
      },
    );
    const [missing] = await fixityEvents('mus-0002');
    assert.equal(missing?.kind, 'fixity-missing');
    assert.deepEqual(
      { ...(missing.detail as object), audit: undefined },
      {
        where: where('mus-0002'),
        sipId: pkg['mus-0002']!.sipId,
        expected: pkg['mus-0002']!.sha256,
        found: null,
        expectedSize: size('mus-0002'),
        foundSize: null,
        audit: undefined,
      },
    );
    assert.deepEqual(await fixityEvents('mus-0003'), []);
    assert.deepEqual(
      r.problems.map((p) => [p.kind, p.objectId, p.where, p.found]),
      [
        ['fixity-mismatch', 'mus-0001', where('mus-0001'), found],
        ['fixity-missing', 'mus-0002', where('mus-0002'), null],
      ],
    );

    // The status line, unwrapped (status wraps at 80 columns, inside the URL too).
    const one = (await cli(['status', 'mus-0001'])).stdout;
    assert.match(one, /^ {4}\S+ {2}fixity-mismatch\s+\//m);
    assert.ok(one.replace(/\s+/g, '').includes(`fixity-mismatch${where('mus-0001')}:expectedsha256${short(pkg['mus-0001']!.sha256)}found${short(found)}`), one);
    const two = (await cli(['status', 'mus-0002'])).stdout;
    assert.ok(two.replace(/\s+/g, '').includes(`fixity-missing${where('mus-0002')}:expectedsha256${short(pkg['mus-0002']!.sha256)},notthere`), two);
    assert.match((await cli(['status'])).stdout, /\nfixity problems: 2 \(mus-0001, mus-0002\)$/m);
  });

  it('each scheduled run takes the next slice after the last run’s cursor, wrapping at the end', async () => {
    await createSchedules(sys.client, sys.config);
    const schedule = sys.client.schedule.getHandle(AUDIT_FIXITY_SCHEDULE);
    await schedule.pause('only the test triggers it');
    async function triggerAndWait(runsBefore: number): Promise<AuditFixityResult> {
      await schedule.trigger(ScheduleOverlapPolicy.SKIP);
      for (;;) {
        const { info } = await schedule.describe();
        if (info.recentActions.length > runsBefore) {
          const { workflow } = info.recentActions[runsBefore].action;
          return (await sys.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).result()) as AuditFixityResult;
        }
        await sleep(100);
      }
    }
    const [a, b, c] = IDS.map((id) => pkg[id]!.sipId).sort();
    const sipsOf = (r: AuditFixityResult) => r.problems.map((p) => p.sipId);
    // 0.34 of three packages: two a run. The first run has no cursor: the first two.
    const first = await triggerAndWait(0);
    assert.equal(first.checked, 2);
    assert.equal(first.cursor, b);
    // The second goes on after b and wraps to a.
    const second = await triggerAndWait(1);
    assert.equal(second.checked, 2);
    assert.equal(second.cursor, a);
    // The third goes on after a.
    const third = await triggerAndWait(2);
    assert.equal(third.cursor, c);
    // Which problems each run found says which packages it read: mus-0001 and mus-0002 stay broken.
    const bySip = Object.fromEntries(IDS.map((id) => [pkg[id]!.sipId, id]));
    const broken = new Set([pkg['mus-0001']!.sipId, pkg['mus-0002']!.sipId]);
    assert.deepEqual(
      sipsOf(first),
      [a, b].filter((s) => broken.has(s)),
      `first run read ${a}, ${b} (${bySip[a]}, ${bySip[b]})`,
    );
    assert.deepEqual(sipsOf(second).sort(), [c, a].filter((s) => broken.has(s)).sort(), 'second run read c, then a');
    assert.deepEqual(sipsOf(third).sort(), [b, c].filter((s) => broken.has(s)).sort(), 'third run read b and c');
    // Each run recorded its own events: the ledger keeps every audit's finding.
    const kinds = (await fixityEvents('mus-0001')).map((e) => e.kind);
    assert.equal(kinds.length, 1 + [first, second, third].filter((r) => sipsOf(r).includes(pkg['mus-0001']!.sipId)).length);
  });

  it('a run stops taking packages at maxBytesPerRun, one package at least', async () => {
    const sizes = IDS.map((id) => pkg[id]!.size).sort((x, y) => x - y);
    assert.equal((await audit({ share: 1, maxBytesPerRun: 1 })).checked, 1);
    const [a, b] = IDS.map((id) => pkg[id]!.sipId).sort();
    const bySip = Object.fromEntries(IDS.map((id) => [pkg[id]!.sipId, pkg[id]!.size]));
    const r = await audit({ share: 1, maxBytesPerRun: bySip[a]! + bySip[b]! });
    assert.equal(r.checked, 2, `sizes ${sizes.join(', ')}: the first two fit, the third would pass the limit`);
    assert.equal(r.cursor, b);
  });

  it('reports a corrupted delivered copy with its destination named', async () => {
    const found = corrupt(mirrorFile('mus-0003'));
    const r = await audit({ share: 1 });
    assert.equal(r.mismatched, 2);
    assert.equal(r.missing, 1);
    const problem = r.problems.find((p) => p.objectId === 'mus-0003');
    const where = `${pathToFileURL(mirror).href}/mus-0003/${pkg['mus-0003']!.sipId}.tar`;
    assert.deepEqual(problem, {
      kind: 'fixity-mismatch',
      objectId: 'mus-0003',
      sipId: pkg['mus-0003']!.sipId,
      where,
      destination: 'mirror-folder',
      expected: pkg['mus-0003']!.sha256,
      found,
    });
    const [event] = await fixityEvents('mus-0003');
    assert.equal(event?.kind, 'fixity-mismatch');
    assert.equal((event.detail as { destination: string }).destination, 'mirror-folder');
    const status = (await cli(['status', 'mus-0003'])).stdout;
    assert.ok(
      status.replace(/\s+/g, '').includes(`fixity-mismatchatmirror-folder${where}:expectedsha256${short(pkg['mus-0003']!.sha256)}found${short(found)}`),
      status,
    );
    assert.match((await cli(['status'])).stdout, /\nfixity problems: 3 \(mus-0001, mus-0002, mus-0003\)$/m);
  });

  it('a copy restored by hand is found ok and resolves the problem; reenqueue --force preserves a broken object again', async () => {
    fs.copyFileSync(keptFile('mus-0003'), mirrorFile('mus-0003'));
    const r = await audit({ share: 1 });
    assert.equal(r.mismatched, 1);
    assert.equal((await fixityEvents('mus-0003')).at(-1)?.kind, 'fixity-ok');
    assert.match((await cli(['status'])).stdout, /\nfixity problems: 2 \(mus-0001, mus-0002\)$/m);

    const before = (await sys.ledger.timeline('mus-0002')).filter((e) => e.kind === 'confirmed').length;
    await cli(['reenqueue', '--force', '--reason', 'fixity-missing: kept package gone', 'mus-0002']);
    const deadline = Date.now() + 120_000;
    while ((await sys.ledger.timeline('mus-0002')).filter((e) => e.kind === 'confirmed').length === before) {
      if (Date.now() > deadline) throw new Error('mus-0002 was not confirmed again');
      await sleep(300);
    }
    assert.match((await cli(['status'])).stdout, /\nfixity problems: 1 \(mus-0001\)$/m);
  });
});
