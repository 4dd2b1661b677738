// The publishing pipeline on real parts: the Temporal dev server, a worker, the reference article
// store and a webhook receiver, with the real eLife package fed from a folder.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { articleStateQuery, articleWorkflowId, type ArticleState } from '../common/articles';
import { REPO_ROOT } from '../config/config';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { feed } from '../starters/feed';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const ELIFE = path.resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'elife', 'elife-00353-vor-v1-20121213000000.zip');

describe('publishing pipeline: article packages to the article store', function () {
  this.timeout(180_000);
  let sys: CustodySystem;
  let store: RunningArticleStore;
  let webhook: WebhookReceiver;
  let packages: string;
  let site: string;

  before(async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-publishing-'));
    store = await startArticleStore({ port: 0, dataDir: path.join(root, 'store') });
    webhook = await startWebhookReceiver();
    packages = path.join(root, 'packages');
    site = path.join(root, 'site');
    fs.mkdirSync(packages);
    sys = await startCustodySystem({
      config: { articles: { site, siteUrl: 'http://site.example.org', store: { url: store.url }, webhookUrl: webhook.url, defaultMode: 'automatic' } },
    });
  });
  after(async () => {
    await sys?.close();
    await store?.close();
    await webhook?.close();
  });

  async function stateOf(articleId: string): Promise<ArticleState> {
    return sys.client.workflow.getHandle(articleWorkflowId(articleId)).query(articleStateQuery);
  }

  async function until(articleId: string, done: (s: ArticleState) => boolean): Promise<ArticleState> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await stateOf(articleId).catch(() => undefined);
      if (s && done(s)) return s;
      if (Date.now() > deadline) throw new Error(`${articleId} never got there; last state ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  it('publishes the real eLife package in automatic mode: the store serves it, the site holds it, the webhook is told once', async () => {
    fs.copyFileSync(ELIFE, path.join(packages, path.basename(ELIFE)));
    const outcomes = await feed({ client: sys.client, config: sys.config }, packages);
    assert.deepEqual(
      outcomes.map((o) => [o.key, o.action, o.articleId, o.version]),
      [[path.basename(ELIFE), 'sent', '00353', 1]],
    );
    const state = await until('00353', (s) => s.published?.version === 1 && s.stage === 'waiting');
    assert.equal(state.published?.status, 'vor');

    const published = (await (await fetch(`${store.url}/articles/00353`)).json()) as {
      version: number;
      state: string;
      record: { title: string; assets: Array<{ name: string; url: string }> };
    };
    assert.equal(published.version, 1);
    assert.equal(published.state, 'published');
    assert.equal(published.record.title, 'A good life');
    assert.ok(published.record.assets.some((a) => a.name.endsWith('.jpg') && a.url.startsWith('http://site.example.org/published/00353/v1/')));
    assert.ok(fs.existsSync(path.join(site, 'published', '00353', 'v1', 'record.json')));
    assert.ok(fs.existsSync(path.join(site, 'published', '00353', 'v1', 'elife-00353-v1.xml')));

    const note = await webhook.nth(1);
    assert.equal((note.body as { articleId: string }).articleId, '00353');
    assert.equal((note.body as { version: number }).version, 1);

    // Fed again: the same bytes are handled once; nothing new is published or notified.
    await feed({ client: sys.client, config: sys.config }, packages);
    await new Promise((r) => setTimeout(r, 2000));
    const again = await stateOf('00353');
    assert.equal(again.stage, 'waiting');
    assert.equal(webhook.notifications.length, 1);
  });
});
