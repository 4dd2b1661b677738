// `approve --at` in skipped time: the real publishArticle workflow and its real activities
// (fetch, expand, validate, build, preview, publish, webhook) against the reference article store,
// on Temporal's time-skipping test server. A publication scheduled hours ahead, then moved, is
// published at the new time and not at the old one; the hours pass in seconds of wall time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { approveUpdate, articleStateQuery, articleWorkflowId, type ArticleState } from '../common/articles';
import { loadConfig, type Config } from '../config/config';
import { openLedger, type Ledger } from '../ledger';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { feed } from '../starters/feed';
import { startWorkers, type RunningWorkers } from '../workers/run-worker';
import { ELIFE_FIXTURE } from './support/article-zips';
import { startTimeSkippingEnvironment } from './support/time-skipping';
import { useWorkflowBundle } from './support/workflow-bundle';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const HOUR = 3_600_000;
const QUICK_RETRY = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5, nonRetryableErrorTypes: [] };

describe('publishing in skipped time (time-skipping test server)', function () {
  this.timeout(120_000);
  let env: TestWorkflowEnvironment;
  let root: string;
  let store: RunningArticleStore;
  let webhook: WebhookReceiver;
  let config: Config;
  let workers: RunningWorkers | undefined;
  let ledger: Ledger;

  before(async function () {
    this.timeout(180_000); // the first run installs the test server
    env = await startTimeSkippingEnvironment();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-publishing-skipped-'));
    store = await startArticleStore({ port: 0, dataDir: path.join(root, 'store') });
    webhook = await startWebhookReceiver();
    fs.mkdirSync(path.join(root, 'packages'));
    config = loadConfig(process.env, {
      dataDir: path.join(root, 'data'),
      databaseUrl: path.join(root, 'data', 'ledger.sqlite'),
      retry: { download: QUICK_RETRY, package: QUICK_RETRY, submit: QUICK_RETRY, io: QUICK_RETRY },
      heartbeatTimeout: '30s',
      articles: {
        site: path.join(root, 'site'),
        siteUrl: 'http://site.example.org',
        store: { url: store.url },
        webhookUrl: webhook.url,
        defaultMode: 'preview',
      },
    });
    fs.mkdirSync(config.dataDir, { recursive: true });
    ledger = openLedger(config.databaseUrl);
    await ledger.migrate();
    await useWorkflowBundle();
    // The production workers (workers/run-worker.ts) on the test server's connection: every stage's real activities.
    workers = await startWorkers(config, ['io', 'download', 'package'], undefined, { connection: env.nativeConnection, namespace: env.namespace ?? 'default' });
  });
  after(async () => {
    await env?.client.workflow
      .getHandle(articleWorkflowId('00353'))
      .terminate('test finished')
      .catch(() => undefined);
    workers?.shutdown();
    await workers?.done;
    await ledger?.close();
    await store?.close();
    await webhook?.close();
    await env?.teardown();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** Wall-time wait for a state (time is not skipped while the test only queries). */
  async function until(done: (s: ArticleState) => boolean, timeoutMs = 60_000): Promise<ArticleState> {
    const handle = env.client.workflow.getHandle(articleWorkflowId('00353'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await handle.query(articleStateQuery).catch(() => undefined);
      if (s && done(s)) return s;
      if (Date.now() > deadline) throw new Error(`article 00353 never got there; last state ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const storeStatus = async (route: string) => (await fetch(`${store.url}${route}`)).status;

  it('approve with a time publishes then; a second approve moves the time, and the first time passes without a publication', async () => {
    const wallStart = Date.now();
    fs.copyFileSync(ELIFE_FIXTURE, path.join(root, 'packages', path.basename(ELIFE_FIXTURE)));
    await feed({ client: env.client, config }, path.join(root, 'packages'));
    await until((s) => s.stage === 'awaiting-approval');
    const handle = env.client.workflow.getHandle(articleWorkflowId('00353'));

    const t0 = await env.currentTimeMs();
    const first = new Date(t0 + 2 * HOUR).toISOString();
    const answer = await handle.executeUpdate(approveUpdate, { args: [{ at: first, by: 'editor@example.org' }] });
    assert.deepEqual(answer, { articleId: '00353', version: 1, publishAt: first });
    await until((s) => s.stage === 'scheduled' && s.scheduledFor === first);

    await env.sleep('1h');
    assert.equal((await until(() => true)).stage, 'scheduled', 'an hour later it still waits');
    assert.equal(await storeStatus('/articles/00353'), 404, 'not published before its time');

    // Moved to six hours after the first approve, by someone else.
    const second = new Date(t0 + 6 * HOUR).toISOString();
    await handle.executeUpdate(approveUpdate, { args: [{ at: second, by: 'chief-editor@example.org' }] });
    await until((s) => s.stage === 'scheduled' && s.scheduledFor === second);

    // Past the first time: the timer it had is not the one that counts.
    await env.sleep(2.5 * HOUR);
    assert.ok((await env.currentTimeMs()) > Date.parse(first));
    const waiting = await until(() => true);
    assert.deepEqual([waiting.stage, waiting.scheduledFor, waiting.published], ['scheduled', second, undefined]);
    assert.equal(await storeStatus('/articles/00353'), 404, 'the first time passed without a publication');
    assert.equal(webhook.attempts, 0);

    // To the second time: the publication runs (its activities in wall time).
    await env.sleep(Date.parse(second) - (await env.currentTimeMs()) + 1000);
    const done = await until((s) => s.published?.version === 1 && s.stage === 'waiting');
    assert.equal(done.scheduledFor, undefined, 'nothing is scheduled any more');
    assert.equal(await storeStatus('/articles/00353'), 200);
    assert.equal(((await webhook.nth(1)).body as { version: number }).version, 1);

    const events = await ledger.timeline('article:00353');
    const scheduled = events.filter((e) => e.kind === 'article-scheduled').map((e) => (e.detail as { detail: { at: string } }).detail.at);
    assert.deepEqual(scheduled, [first, second]);
    const publishing = events.find((e) => e.kind === 'article-publishing');
    assert.ok(publishing, 'a publishing stage in the ledger');
    const late = Date.parse(publishing.at) - Date.parse(second);
    assert.ok(late >= 0 && late < 10 * 60_000, `publishing began ${late / 60_000} min of workflow time after the time set`);
    const publication = events.find((e) => e.key === 'article:00353:v1:published');
    assert.equal((publication?.detail as { approvedBy: string }).approvedBy, 'chief-editor@example.org', 'the approve that set the time is on record');
    console.log(`      6 h of workflow time in ${((Date.now() - wallStart) / 1000).toFixed(1)} s of wall time`);
  });
});
