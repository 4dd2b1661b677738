// Webhook notifications end to end (real Temporal dev server, reference service, SQLite ledger,
// a loopback receiver): a rejection, a final failure (retries spent), an automatic freeze, a
// fixity mismatch and the objects held longer than `heldLongerThan` each reach the receiver
// exactly once — after it refused the first POSTs, which the notify runs retry — with the JSON
// fields, the bearer token and the Idempotency-Key; a retried recording adds no second row, and
// another run of the notifier sends nothing new.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { NOTIFY_SCHEDULE, type NotificationBody, type NotifyResult } from '../common/notifications';
import { SCHEDULES_TASK_QUEUE, preserveWorkflowId } from '../common/preservation';
import type { ActivityDeps } from '../activities';
import { enqueue } from '../starters/enqueue';
import { createSchedules } from '../starters/schedules';
import { formatSummary, summarize } from '../starters/status';
import { auditFixity, notify } from '../workflows';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal } from './support/temporal-server';
import { waitForStage } from './support/wait-for-stage';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TOKEN_ENV = 'CUSTODY_TEST_NOTIFY_TOKEN';
const TOKEN = 'notify-test-token-5c1f';

/** The service's submit for mus-0010 fails every time: its retries are spent and it ends failed. */
function failingSubmitFor(objectId: string) {
  return (parts: ActivityDeps): ActivityDeps => ({
    ...parts,
    service: new Proxy(parts.service, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (prop !== 'submit' || typeof value !== 'function') return typeof value === 'function' ? value.bind(target) : value;
        return (sip: { sipId: string }, ...rest: unknown[]) =>
          sip.sipId.startsWith(`${objectId}.`)
            ? Promise.reject(new Error(`test: the service's inbox for ${objectId} is full`))
            : (value as (...a: unknown[]) => Promise<unknown>).call(target, sip, ...rest);
      },
    }),
  });
}

describe('webhook notifications (real Temporal, real service, loopback receiver)', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let receiver: WebhookReceiver;
  let runs = 0;
  let kept = '';

  const runNotifier = (): Promise<NotifyResult> =>
    sys.client.workflow.execute(notify, { taskQueue: SCHEDULES_TASK_QUEUE, workflowId: `notify-test-${++runs}` });

  before(async function () {
    this.timeout(240_000);
    receiver = await startWebhookReceiver();
    process.env[TOKEN_ENV] = TOKEN;
    sys = await startCustodySystem({
      objects: ['mus-0001', 'mus-0007', 'mus-0010'],
      inProcessWorkers: false,
      decorate: failingSubmitFor('mus-0010'),
      config: {
        verdict: { pollAfter: '1s', deadline: '14d' },
        notifications: {
          url: `${receiver.url}/hooks/custody`,
          tokenEnv: TOKEN_ENV,
          // Whatever waits when the notifier runs has waited long enough.
          heldLongerThan: '1ms',
          retry: { initialInterval: '1ms', maximumInterval: '1ms' },
        },
      },
    });
    // An object without files: custody freezes it itself (EmptyObject).
    fs.mkdirSync(path.join(sys.sourceDir, 'empty'));
    fs.writeFileSync(
      path.join(sys.sourceDir, 'empty', 'object.json'),
      JSON.stringify({ id: 'empty', title: 'Nothing inside', modifiedAt: new Date().toISOString() }),
    );
    // mus-0001's package is kept for delivery, so the fixity audit reads it.
    Object.assign(sys.config.delivery, {
      packages: path.join(sys.root, 'packages'),
      destinations: [{ kind: 'folder', name: 'mirror-folder', path: path.join(sys.root, 'mirror'), compress: false }],
      rules: [{ pipeline: 'preservation', match: '^mus-0001$', to: ['mirror-folder'] }],
      retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
    });
    await sys.startWorkers();
  });
  after(async () => {
    await sys?.close();
    await receiver?.close();
    delete process.env[TOKEN_ENV];
  });

  it('sends each event once, retried past the receiver refusing, and nothing again on the next run', async () => {
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: ['mus-0001', 'mus-0007', 'mus-0010', 'empty'] });
    const handle = (id: string) => sys.client.workflow.getHandle(preserveWorkflowId(id));
    assert.equal((await waitForStage(handle('mus-0001'), ['confirmed'], 120_000)).stage, 'confirmed');
    assert.equal((await waitForStage(handle('mus-0007'), ['rejected'], 120_000)).stage, 'rejected');
    assert.equal((await waitForStage(handle('mus-0010'), ['failed'], 120_000)).stage, 'failed');
    assert.equal((await waitForStage(handle('empty'), ['frozen'], 120_000)).stage, 'frozen');
    const deadline = Date.now() + 60_000;
    while ((await sys.ledger.deliveries.of('mus-0001'))[0]?.state !== 'delivered') {
      if (Date.now() > deadline) throw new Error('mus-0001 was never delivered');
      await sleep(200);
    }

    // One byte of the kept package flipped: the audit finds a mismatch.
    const pkg = (await sys.ledger.packagesOf('mus-0001')).find((p) => p.verdict === 'accepted')!;
    kept = path.join(sys.root, 'packages', 'mus-0001', pkg.sipId, `${pkg.sipId}.tar`);
    const bytes = fs.readFileSync(kept);
    bytes[bytes.length >> 1]! ^= 0xff;
    fs.writeFileSync(kept, bytes);
    const audit = await sys.client.workflow.execute(auditFixity, { taskQueue: SCHEDULES_TASK_QUEUE, workflowId: 'notify-test-audit', args: [{ share: 1 }] });
    assert.equal(audit.mismatched, 1);

    // A retried recording writes the same event key; entering the same stage again (after an
    // unfreeze) writes another key for the same attempt: neither adds a notification.
    const before = (await sys.ledger.notifications.list()).map((n) => n.key);
    assert.deepEqual((await sys.ledger.notifications.list()).map((n) => `${n.what} ${n.subject}`).sort(), [
      'failed mus-0010',
      'fixity mus-0001',
      'frozen empty',
      'rejected mus-0007',
    ]);
    const failedEvent = (await sys.ledger.timeline('mus-0010')).find((e) => e.kind === 'stage' && e.stage === 'failed')!;
    const again = { at: failedEvent.at, sipId: failedEvent.sipId ?? undefined, error: (await sys.ledger.getObject('mus-0010'))!.lastError! };
    await sys.ledger.setState('mus-0010', 'failed', { ...again, key: failedEvent.key });
    await sys.ledger.setState('mus-0010', 'failed', { ...again, key: `${failedEvent.key}:re-entered` });
    assert.deepEqual(
      (await sys.ledger.notifications.list()).map((n) => n.key),
      before,
    );

    // The receiver refuses the first three POSTs: each run stops at its first refusal, and the
    // rows wait, visible in status, for the next run.
    receiver.failNext(3);
    const first = await runNotifier();
    assert.deepEqual({ held: first.held, sent: first.sent, failed: first.failed }, { held: 3, sent: 0, failed: 1 });
    assert.match(
      formatSummary(await summarize(sys.ledger)),
      /^notifications: 7 waiting \(oldest \S+\)\n {2}last error: http:\/\/127\.0\.0\.1:\d+ answered 503$/m,
    );
    const results = [first];
    while (results.at(-1)!.waiting > 0 && results.length < 10) results.push(await runNotifier());
    assert.deepEqual(
      results.map((r) => [r.sent, r.failed]),
      [
        [0, 1],
        [0, 1],
        [0, 1],
        [7, 0],
      ],
    );
    assert.equal(receiver.attempts, 10);
    assert.equal((await summarize(sys.ledger)).notifications, undefined, 'status shows no waiting notifications');

    const bodies = receiver.notifications.map((n) => n.body as NotificationBody);
    const ns = encodeURIComponent(testTemporal.namespace);
    const link = (id: string) => `${sys.config.temporal.webUiUrl.replace(/\/+$/, '')}/namespaces/${ns}/workflows/${encodeURIComponent(preserveWorkflowId(id))}`;
    const byEvent = Object.fromEntries(bodies.map((b) => [`${b.what} ${b.id}`, b]));
    assert.deepEqual(Object.keys(byEvent).sort(), [
      'failed mus-0010',
      'fixity mus-0001',
      'frozen empty',
      'held empty',
      'held mus-0007',
      'held mus-0010',
      'rejected mus-0007',
    ]);
    assert.equal(bodies.length, 7, 'one POST per event');
    for (const b of bodies) {
      assert.equal(b.link, link(b.id));
      assert.ok(b.reason, `${b.what} ${b.id} says why`);
    }
    assert.match(byEvent['rejected mus-0007']!.reason!, /image\/gif/);
    assert.equal(byEvent['rejected mus-0007']!.stage, 'rejected');
    assert.match(byEvent['failed mus-0010']!.reason!, /inbox for mus-0010 is full/);
    assert.equal(byEvent['failed mus-0010']!.stage, 'failed');
    assert.match(byEvent['frozen empty']!.reason!, /EmptyObject/);
    assert.equal(byEvent['fixity mus-0001']!.stage, 'fixity-mismatch');
    assert.match(byEvent['fixity mus-0001']!.reason!, new RegExp(`expected sha256 ${pkg.sha256}, found [0-9a-f]{64}`));
    assert.match(byEvent['held empty']!.reason!, /^frozen since \S+: EmptyObject/);
    assert.equal(byEvent['held mus-0007']!.stage, 'rejected');
    for (const n of receiver.notifications) {
      assert.equal(n.path, '/hooks/custody');
      assert.equal(n.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(n.headers['idempotency-key'], (n.body as NotificationBody).key);
    }
    // The token is in no workflow history.
    const history = JSON.stringify(await sys.client.workflow.getHandle('notify-test-1').fetchHistory());
    assert.ok(!history.includes(TOKEN));

    // Nothing new happened: the next run sends nothing and adds no held notification again.
    const last = await runNotifier();
    assert.deepEqual(last, { held: 0, sent: 0, failed: 0, skipped: 0, waiting: 0 });
    assert.equal(receiver.attempts, 10);
  });

  it('the notify Schedule sends a new finding: the same copy corrupted otherwise is a new problem', async () => {
    const bytes = fs.readFileSync(kept);
    bytes[0]! ^= 0xff;
    fs.writeFileSync(kept, bytes);
    const audit = await sys.client.workflow.execute(auditFixity, { taskQueue: SCHEDULES_TASK_QUEUE, workflowId: 'notify-test-audit-2', args: [{ share: 1 }] });
    assert.equal(audit.mismatched, 1);
    const created = await createSchedules(sys.client, sys.config);
    assert.ok(created.includes(`created schedule ${NOTIFY_SCHEDULE} (every 1m, sending failed, rejected, frozen, fixity, held)`), created.join('\n'));
    await sys.client.schedule.getHandle(NOTIFY_SCHEDULE).trigger();
    const eighth = (await receiver.nth(8, 60_000)).body as NotificationBody;
    assert.deepEqual([eighth.what, eighth.id, eighth.stage], ['fixity', 'mus-0001', 'fixity-mismatch']);
    assert.equal(receiver.notifications.length, 8);
  });
});
