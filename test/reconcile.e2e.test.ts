// `custody reconcile`: a ledger that lost rows (restored from an older backup) is compared with
// Temporal and the preservation service, each disagreement is listed with its fix, --apply makes
// the ledger agree again, and a second run finds nothing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { REPO_ROOT } from '../config/config';
import { preserveWorkflowId, sipProcessedSignal, stateQuery } from '../common/preservation';
import type { Verdict } from '../common/sip';
import { referencePreservationService } from '../services/preservation-service';
import { FileStorage } from '../storage';
import { enqueue } from '../starters/enqueue';
import { freeze } from '../starters/operator';
import type { ReconcileReport } from '../starters/reconcile';
import { summarize } from '../starters/status';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal, useOwnNamespace } from './support/temporal-server';
import { waitForStage } from './support/wait-for-stage';
import { custody as runCustody, type CliRun } from './support/custody-cli';

// Ids of this file's own: other test files preserve the example ids in the same namespace.
const ACCEPTED = 'rcn-accepted';
const REJECTED = 'rcn-rejected';
const FROZEN = 'rcn-frozen';
const WAITING = 'rcn-waiting';
const LOST = 'rcn-lost';
/** Frozen before it was ever enqueued: a row in progress without a workflow that is not lost. */
const HELD = 'rcn-held';
const ALL = [ACCEPTED, REJECTED, FROZEN, WAITING, LOST, HELD];

/** An example object under another id. */
function copyAs(sys: CustodySystem, example: string, id: string): void {
  const to = path.join(sys.sourceDir, id);
  fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', example), to, { recursive: true });
  const meta = JSON.parse(fs.readFileSync(path.join(to, 'object.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(to, 'object.json'), JSON.stringify({ ...meta, id }));
}

/** The service's verdict on the SIP the object's workflow waits for, once decided. */
async function decidedVerdict(sys: CustodySystem, id: string): Promise<Verdict> {
  const { sipId } = await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(id)), ['awaiting-verdict'], 300_000);
  const service = referencePreservationService({ url: sys.config.service.url, transfer: new FileStorage(sys.config.service.transfer) });
  for (;;) {
    const v = await service.verdict(sipId!);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each line of the human report, with the lines a long one wrapped onto joined back. */
const reportLines = (run: CliRun) =>
  run.stdout
    .trimEnd()
    .replace(/\n {4,}/g, ' ')
    .split('\n');

/** The disagreements of a --json report as "id kind" strings, sorted. */
const kinds = (r: ReconcileReport) => r.disagreements.map((d) => `${d.id} ${d.kind}`).sort();

const custody = (args: string[], env: Record<string, string>) => runCustody(args, env, 120_000);

describe('custody reconcile: the ledger against Temporal and the preservation service', function () {
  this.timeout(600_000);
  // Reconcile reads every preservation workflow of its namespace: none of another test file's may be there.
  useOwnNamespace('custody-reconcile-test');
  let sys: CustodySystem;
  let env: Record<string, string>;
  const reconcile = (...args: string[]) => custody(['reconcile', '--ids', ALL.join(','), ...args], env);

  before(async function () {
    this.timeout(600_000);
    // No fallback poll: a verdict reaches a workflow only when signalled, so one can be left undelivered.
    sys = await startCustodySystem({ config: { verdict: { pollAfter: '1h', deadline: '14d' } } });
    copyAs(sys, 'mus-0003', ACCEPTED);
    copyAs(sys, 'mus-0007', REJECTED);
    copyAs(sys, 'mus-0007', FROZEN);
    copyAs(sys, 'mus-0001', WAITING);
    copyAs(sys, 'mus-0004', LOST);
    copyAs(sys, 'mus-0002', HELD);
    const configFile = path.join(sys.root, 'reconcile.json');
    fs.writeFileSync(configFile, JSON.stringify(sys.config));
    env = { CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: process.env.TEMPORAL_NAMESPACE! };

    const deps = { client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source };
    await enqueue(deps, { ids: [ACCEPTED, REJECTED, FROZEN] });
    for (const id of [ACCEPTED, REJECTED, FROZEN])
      await sys.client.workflow.getHandle(preserveWorkflowId(id)).signal(sipProcessedSignal, await decidedVerdict(sys, id));
    assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId(ACCEPTED)).result()).stage, 'confirmed');
    await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(REJECTED)), ['rejected'], 300_000);
    await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(FROZEN)), ['rejected'], 300_000);
    assert.equal((await freeze(deps, FROZEN, 'checking the drawings', 'curator@museum')).ok, true);
    await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(FROZEN)), ['frozen'], 300_000);
    assert.equal((await freeze(deps, HELD, 'rights unclear', 'curator@museum', { notYetEnqueued: true })).ok, true);
  });
  after(async () => sys?.close());

  it('finds nothing in a ledger that agrees (exit 0)', async () => {
    const run = await reconcile();
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(reportLines(run), [
      'the ledger agrees with Temporal and the preservation service (4 ledger objects, 3 workflows, 3 service SIPs compared)',
    ]);
  });

  it('lists each disagreement after ledger rows are deleted (exit 1), --apply fixes them, a second run finds none', async () => {
    // One more object waits for a verdict the service has given but nobody delivered.
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: [WAITING] });
    const waitingVerdict = await decidedVerdict(sys, WAITING);
    // One the ledger shows in progress that Temporal never heard of.
    await sys.ledger.setState(LOST, 'downloading', { key: 'test:lost', at: '2026-01-01T00:00:00.000Z' });
    const acceptedSip = (await sys.ledger.getObject(ACCEPTED))!.lastSipId!;

    // The restored backup: rows gone, a state and a freeze out of date.
    const db = new Database(sys.config.databaseUrl);
    try {
      db.prepare('DELETE FROM objects WHERE id = ?').run(ACCEPTED);
      db.prepare('DELETE FROM packages WHERE object_id = ?').run(ACCEPTED);
      db.prepare('DELETE FROM events WHERE object_id = ?').run(ACCEPTED);
      db.prepare('DELETE FROM packages WHERE object_id = ?').run(REJECTED);
      db.prepare("UPDATE objects SET state = 'confirmed', last_error = NULL WHERE id = ?").run(REJECTED);
      db.prepare('UPDATE objects SET frozen = 0, frozen_reason = NULL, frozen_by = NULL WHERE id = ?').run(FROZEN);
    } finally {
      db.close();
    }

    const listed = await reconcile();
    assert.equal(listed.code, 1, listed.stderr);
    const lines = reportLines(listed);
    assert.ok(lines.includes(`${ACCEPTED}  no object row  workflow closed (completed), confirmed  fix: insert the object, state confirmed`), lines.join('\n'));
    assert.ok(lines.includes(`${REJECTED}  confirmed  workflow running, rejected  fix: set the state to rejected`), lines.join('\n'));
    assert.ok(lines.includes(`${FROZEN}  not frozen  workflow running, frozen  fix: freeze it in the ledger`), lines.join('\n'));
    assert.ok(
      lines.includes(`${LOST}  downloading (in progress)  no workflow in Temporal  fix: re-enqueue: start preserve:${LOST}, attempt 1`),
      lines.join('\n'),
    );
    assert.ok(
      lines.includes(
        `${WAITING}  no verdict yet  service: accepted at ${waitingVerdict.decidedAt}; workflow awaits it  fix: signal the verdict to preserve:${WAITING} (as the sync-processed-sips poller does)`,
      ),
      lines.join('\n'),
    );
    assert.match(lines.at(-1)!, /^9 disagreements \(1 missing-object, 1 state, 1 frozen, 2 missing-package, 2 missing-verdict, 1 verdict-undelivered, 1 lost;/);

    const json = await reconcile('--json');
    assert.equal(json.code, 1);
    assert.deepEqual(kinds(JSON.parse(json.stdout) as ReconcileReport), [
      `${ACCEPTED} missing-object`,
      `${ACCEPTED} missing-package`,
      `${ACCEPTED} missing-verdict`,
      `${FROZEN} frozen`,
      `${LOST} lost`,
      `${REJECTED} missing-package`,
      `${REJECTED} missing-verdict`,
      `${REJECTED} state`,
      `${WAITING} verdict-undelivered`,
    ]);

    const applied = await reconcile('--apply');
    assert.equal(applied.code, 0, `${applied.stdout}\n${applied.stderr}`);
    assert.equal(reportLines(applied)[0], 'applied 9 fixes');

    // The verdict delivered and the lost object started again: both end confirmed (the new SIP's verdict signalled here, as the poller would).
    await sys.client.workflow.getHandle(preserveWorkflowId(LOST)).signal(sipProcessedSignal, await decidedVerdict(sys, LOST));
    for (const id of [WAITING, LOST]) assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId(id)).result()).stage, 'confirmed');
    const again = await reconcile();
    assert.equal(again.code, 0, again.stdout);
    assert.deepEqual(reportLines(again), [
      'the ledger agrees with Temporal and the preservation service (6 ledger objects, 5 workflows, 5 service SIPs compared)',
    ]);

    // The ledger now says what Temporal says, object by object.
    for (const id of ALL.filter((i) => i !== HELD)) {
      const row = (await sys.ledger.getObject(id))!;
      const live = await sys.client.workflow.getHandle(preserveWorkflowId(id)).query(stateQuery);
      assert.equal(row.state, live.stage, id);
      assert.equal(row.frozen, id === FROZEN, id);
    }
    const summary = await summarize(sys.ledger);
    assert.deepEqual(summary.counts, { queued: 1, confirmed: 3, rejected: 1, frozen: 1 });
    assert.deepEqual(
      summary.needsAttention.map((o) => [o.id, o.state, o.reason]),
      [
        [FROZEN, 'frozen', 'checking the drawings'],
        [HELD, 'queued', 'rights unclear'],
        [REJECTED, 'rejected', summary.needsAttention[2]?.reason],
      ],
    );
    assert.match(summary.needsAttention[2]?.reason ?? '', /image\/gif/, 'the rejection reasons are back');
    const [pkg] = await sys.ledger.packagesOf(ACCEPTED);
    assert.equal(pkg.sipId, acceptedSip);
    assert.equal(pkg.verdict, 'accepted');
    assert.ok(pkg.size > 0 && pkg.payloadFiles > 0, 'sizes from the workflow history');
    assert.match(fs.readFileSync(pkg.reportPath!, 'utf8'), /<premis/, `report archived at ${pkg.reportPath}`);
    const reconciled = (await sys.ledger.timeline(ACCEPTED)).filter((e) => e.kind === 'reconciled');
    assert.deepEqual(
      reconciled.map((e) => (e.detail as { what: string }).what),
      ['missing-object', 'missing-package', 'missing-verdict'],
    );

    // --apply again: nothing to do, nothing recorded twice.
    const events = (await sys.ledger.timeline(ACCEPTED)).length;
    const twice = await reconcile('--apply');
    assert.equal(twice.code, 0, twice.stdout);
    assert.equal((await sys.ledger.timeline(ACCEPTED)).length, events);
  });

  it('with the service down, names it and still compares the ledger with Temporal (exit 1)', async () => {
    const db = new Database(sys.config.databaseUrl);
    try {
      db.prepare("UPDATE objects SET state = 'confirmed' WHERE id = ?").run(REJECTED);
    } finally {
      db.close();
    }
    await sys.stopService();
    try {
      const run = await reconcile();
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(`^custody: preservation service ${sys.config.service.url} did not answer \\(.*\\): packages and verdicts were not compared\\n$`),
      );
      const lines = reportLines(run);
      assert.ok(lines.includes(`${REJECTED}  confirmed  workflow running, rejected  fix: set the state to rejected`), lines.join('\n'));
    } finally {
      await sys.startService();
    }
  });
});
