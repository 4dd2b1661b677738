// The publishing pipeline on real parts: the Temporal dev server, a worker, the reference article
// store and a webhook receiver, with the real eLife package (and packages made from it) fed from
// a folder. Each test has a system, a store and a receiver of its own, so what one leaves behind
// cannot make another pass.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import {
  approveUpdate,
  articleStateQuery,
  articleWorkflowId,
  rejectUpdate,
  silentUpdateUpdate,
  type ArticlePackage,
  type ArticleState,
} from '../common/articles';
import type { ArticleSummary, ArticleVersion } from '../common/article-store';
import { REPO_ROOT, type Config } from '../config/config';
import { generateArticles } from '../examples/generate-articles';
import type { EventRow } from '../ledger';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { feed, type FeedOptions } from '../starters/feed';
import { patchEntry, rawEntries, tree } from './support/article-zips';
import { articleFiles, packageName, zipOf } from './support/article-packages';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { currentDetails } from './support/wait-for-stage';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const ELIFE = path.resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'elife', 'elife-00353-vor-v1-20121213000000.zip');
const V1 = 'elife-00353-vor-v1-20121213000000.zip';
const V2 = 'elife-00353-vor-v2-20130115000000.zip';
const SILENT_V1 = 'elife-00353-vor-v1-20121220000000.zip';
const SECOND = 'elife-99353-vor-v1-20130301000000.zip';
const EDITOR = 'editor@example.org';

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ArticlesConfig = Partial<Omit<Config['articles'], 'limits'>> & { limits?: Partial<Config['articles']['limits']> };

/** One test's world: a custody system, an article store, a webhook receiver, a packages folder and a site folder. */
interface Publishing {
  sys: CustodySystem;
  store: RunningArticleStore;
  webhook: WebhookReceiver;
  packages: string;
  site: string;
  /** Articles whose workflows this test reached: ended by id on close (a run just continued-as-new may not be listed yet). */
  articles: Set<string>;
  close(): Promise<void>;
}

async function startPublishing(settings: ArticlesConfig = {}, more: Record<string, unknown> = {}): Promise<Publishing> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-publishing-'));
  const store = await startArticleStore({ port: 0, dataDir: path.join(root, 'store') });
  const webhook = await startWebhookReceiver();
  const packages = path.join(root, 'packages');
  const site = path.join(root, 'site');
  fs.mkdirSync(packages);
  const sys = await startCustodySystem({
    config: {
      articles: { site, siteUrl: 'http://site.example.org', store: { url: store.url }, webhookUrl: webhook.url, defaultMode: 'automatic', ...settings },
      ...more,
    },
  });
  const articles = new Set<string>();
  return {
    sys,
    store,
    webhook,
    packages,
    site,
    articles,
    async close() {
      for (const id of articles) {
        await sys.client.workflow
          .getHandle(articleWorkflowId(id))
          .terminate('test finished')
          .catch(() => undefined);
      }
      await sys.close();
      await store.close();
      await webhook.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

describe('publishing pipeline: article packages to the article store', function () {
  this.timeout(180_000);
  let samples: string;
  let p: Publishing | undefined;

  before(async () => {
    samples = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-publishing-samples-'));
    await generateArticles(samples);
  });
  after(() => fs.rmSync(samples, { recursive: true, force: true }));
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  const world = (): Publishing => p ?? assert.fail('no publishing system');

  /** A generated sample (or bytes) into the packages folder, under `name`. */
  function put(name: string, from: string | Buffer = name): void {
    const target = path.join(world().packages, name);
    if (typeof from === 'string') fs.writeFileSync(target, fs.readFileSync(path.join(samples, from)));
    else fs.writeFileSync(target, from);
  }

  async function feedAll(opts: FeedOptions = {}) {
    const { sys, packages, articles } = world();
    const outcomes = await feed({ client: sys.client, config: sys.config }, packages, opts);
    for (const o of outcomes) if (o.articleId) articles.add(o.articleId);
    return outcomes;
  }

  const handleOf = (articleId: string): WorkflowHandle => {
    world().articles.add(articleId);
    return world().sys.client.workflow.getHandle(articleWorkflowId(articleId));
  };

  async function stateOf(articleId: string): Promise<ArticleState> {
    return handleOf(articleId).query(articleStateQuery);
  }

  async function until(articleId: string, done: (s: ArticleState) => boolean, timeoutMs = 120_000): Promise<ArticleState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await stateOf(articleId).catch(() => undefined);
      if (s && done(s)) return s;
      if (Date.now() > deadline) throw new Error(`${articleId} never got there; last state ${JSON.stringify(s)}`);
      await sleep(200);
    }
  }

  const published = (version: number) => (s: ArticleState) => s.published?.version === version && s.stage === 'waiting';

  async function storeGet<T>(route: string): Promise<{ status: number; body: T }> {
    const answer = await fetch(`${world().store.url}${route}`);
    return { status: answer.status, body: (await answer.json()) as T };
  }

  async function timeline(articleId: string): Promise<EventRow[]> {
    return world().sys.ledger.timeline(`article:${articleId}`);
  }

  /** The versions the ledger records as published (publishVersion's own record, one per version), in order. */
  async function publications(articleId: string): Promise<number[]> {
    return (await timeline(articleId))
      .filter((e) => e.key.startsWith(`article:${articleId}:v`) && e.key.endsWith(':published'))
      .map((e) => (e.detail as { version: number }).version);
  }

  async function untilEvent(articleId: string, kind: string, timeoutMs = 60_000): Promise<EventRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await timeline(articleId)).find((e) => e.kind === kind);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${kind} event for article ${articleId} within ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** The package as `custody feed` describes it, for an update that takes one. */
  function describePackage(name: string, articleId: string, version: number): ArticlePackage {
    const stat = fs.statSync(path.join(world().packages, name));
    return {
      location: world().packages,
      key: name,
      etag: `${stat.size}:${stat.mtime.toISOString()}`,
      size: stat.size,
      articleId,
      version,
      status: 'vor',
      fedBy: 'test',
      fedAt: new Date().toISOString(),
    };
  }

  /** The validator's message of an update it refused. */
  async function refusal(update: Promise<unknown>): Promise<string> {
    try {
      await update;
    } catch (e) {
      assert.ok(e instanceof WorkflowUpdateFailedError, `a WorkflowUpdateFailedError, not ${String(e)}`);
      return e.cause?.message ?? '';
    }
    return assert.fail('the update was accepted');
  }

  it('publishes the real eLife package in automatic mode: the store serves it, the site holds it, the webhook is told once', async () => {
    p = await startPublishing();
    const { store, site, webhook } = p;
    fs.copyFileSync(ELIFE, path.join(p.packages, path.basename(ELIFE)));
    const outcomes = await feedAll();
    assert.deepEqual(
      outcomes.map((o) => [o.key, o.action, o.articleId, o.version]),
      [[path.basename(ELIFE), 'sent', '00353', 1]],
    );
    const state = await until('00353', published(1));
    assert.equal(state.published?.status, 'vor');

    const latest = (await (await fetch(`${store.url}/articles/00353`)).json()) as ArticleVersion;
    assert.equal(latest.version, 1);
    assert.equal(latest.state, 'published');
    assert.equal(latest.record.title, 'A good life');
    assert.ok(latest.record.assets.some((a) => a.name.endsWith('.jpg') && a.url.startsWith('http://site.example.org/published/00353/v1/')));
    assert.ok(fs.existsSync(path.join(site, 'published', '00353', 'v1', 'record.json')));
    assert.ok(fs.existsSync(path.join(site, 'published', '00353', 'v1', 'elife-00353-v1.xml')));

    const note = await webhook.nth(1);
    assert.equal((note.body as { articleId: string }).articleId, '00353');
    assert.equal((note.body as { version: number }).version, 1);

    // Fed again: the same bytes are handled once; nothing new is published or notified.
    await feedAll();
    await sleep(2000);
    const again = await stateOf('00353');
    assert.equal(again.stage, 'waiting');
    assert.equal(webhook.notifications.length, 1);
  });

  it('delivers a published version to the destinations the publishing rules select, each file checked', async () => {
    const mirror = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-article-mirror-'));
    p = await startPublishing(
      {},
      {
        delivery: {
          packages: path.join(mirror, 'kept'),
          destinations: [{ kind: 'folder', name: 'article-mirror', path: path.join(mirror, 'out') }],
          rules: [{ pipeline: 'publishing', match: '^article:00353$', to: ['article-mirror'] }],
          retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
          slots: 2,
        },
      },
    );
    fs.copyFileSync(ELIFE, path.join(p.packages, path.basename(ELIFE)));
    await feedAll();
    await until('00353', published(1));
    const deadline = Date.now() + 60_000;
    let rows = await p.sys.ledger.deliveries.of('article:00353');
    while (rows[0]?.state !== 'delivered') {
      if (Date.now() > deadline) throw new Error(`never delivered: ${JSON.stringify(rows)}`);
      await sleep(200);
      rows = await p.sys.ledger.deliveries.of('article:00353');
    }
    assert.deepEqual(
      rows.map((r) => [r.destination, r.state]),
      [['article-mirror', 'delivered']],
    );
    const published1 = path.join(p.site, 'published', '00353', 'v1');
    const delivered = path.join(mirror, 'out', '00353', 'v1');
    const names = fs.readdirSync(published1).sort();
    assert.ok(names.includes('record.json'));
    assert.deepEqual(fs.readdirSync(delivered).sort(), names);
    for (const n of names) assert.ok(fs.readFileSync(path.join(delivered, n)).equals(fs.readFileSync(path.join(published1, n))), `${n} delivered as published`);
    fs.rmSync(mirror, { recursive: true, force: true });
  });

  it('preview mode: the version waits for approval, unpublished in the store and unannounced, until approve publishes it', async () => {
    p = await startPublishing({ defaultMode: 'preview' });
    const { site, webhook } = p;
    put(V1);
    await feedAll();
    const waiting = await until('00353', (s) => s.stage === 'awaiting-approval');
    assert.deepEqual(waiting.current, { version: 1, status: 'vor', run: 1, mode: 'preview', key: V1 });
    assert.equal(waiting.published, undefined);

    // The store has the version, unpublished, with its preview; the public route has nothing.
    const version = await storeGet<ArticleVersion>('/articles/00353/versions/1');
    assert.equal(version.status, 200);
    assert.equal(version.body.state, 'unpublished');
    assert.equal(version.body.record.previewUrl, 'http://site.example.org/preview/00353/v1/run1/record.json');
    assert.ok(version.body.record.assets.every((a) => a.url.startsWith('http://site.example.org/preview/00353/v1/run1/')));
    const latest = await storeGet<{ code: string }>('/articles/00353');
    assert.equal(latest.status, 404);
    assert.equal(latest.body.code, 'not-published');
    assert.ok(fs.existsSync(path.join(site, 'preview', '00353', 'v1', 'run1', 'elife-00353-fig1-v1.jpg')));
    assert.ok(!fs.existsSync(path.join(site, 'published')), 'nothing under the published prefix');
    await sleep(1500);
    assert.equal((await stateOf('00353')).stage, 'awaiting-approval', 'it stays waiting');
    assert.equal(webhook.attempts, 0, 'nobody is told of a preview');

    // Approving another version than the one waiting is refused, naming the one that waits.
    const handle = handleOf('00353');
    assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ version: 2, by: EDITOR }] })), /v2 is not waiting for approval; v1 is/);

    const approved = await handle.executeUpdate(approveUpdate, { args: [{ by: EDITOR }] });
    assert.deepEqual([approved.articleId, approved.version, approved.publishAt], ['00353', 1, undefined]);
    const done = await until('00353', published(1));
    assert.equal(done.current, undefined);

    const now = await storeGet<ArticleVersion>('/articles/00353');
    assert.equal(now.status, 200);
    assert.equal(now.body.version, 1);
    assert.equal(now.body.state, 'published');
    assert.ok(now.body.record.assets.every((a) => a.url.startsWith('http://site.example.org/published/00353/v1/')));
    assert.equal(now.body.history.filter((h) => h.event === 'published').length, 1);
    assert.equal(
      sha256(path.join(site, 'published', '00353', 'v1', 'elife-00353-v1.xml')),
      sha256(path.join(site, 'preview', '00353', 'v1', 'run1', 'elife-00353-v1.xml')),
    );
    const note = await webhook.nth(1);
    assert.deepEqual([(note.body as { articleId: string }).articleId, (note.body as { version: number }).version], ['00353', 1]);
    await sleep(1000);
    assert.equal(webhook.notifications.length, 1, 'told once');
    const publication = (await timeline('00353')).find((e) => e.key === 'article:00353:v1:published');
    assert.equal((publication?.detail as { approvedBy?: string }).approvedBy, EDITOR, 'the ledger says who approved it');
    assert.deepEqual(await publications('00353'), [1]);

    // Nothing waits any more: another approve is refused.
    assert.match(await refusal(handle.executeUpdate(approveUpdate, { args: [{ by: EDITOR }] })), /has no version waiting for approval \(it is waiting\)/);
  });

  it('reject in preview: recorded with who and why, nothing published, and a later package of the version is handled', async () => {
    p = await startPublishing({ defaultMode: 'preview' });
    const { site, webhook } = p;
    put(V1);
    await feedAll();
    await until('00353', (s) => s.stage === 'awaiting-approval');
    const handle = handleOf('00353');
    assert.match(await refusal(handle.executeUpdate(rejectUpdate, { args: [{ reason: '  ', by: EDITOR }] })), /a rejection needs a reason/);
    const answer = await handle.executeUpdate(rejectUpdate, { args: [{ reason: 'figure 1 is upside down', by: EDITOR }] });
    assert.deepEqual(answer, { articleId: '00353', version: 1 });

    const back = await until('00353', (s) => s.stage === 'waiting');
    assert.equal(back.published, undefined);
    assert.equal(back.current, undefined);
    const rejected = (await timeline('00353')).filter((e) => e.kind === 'article-rejected');
    assert.equal(rejected.length, 1);
    assert.deepEqual((rejected[0].detail as { detail: unknown }).detail, { version: 1, reason: 'figure 1 is upside down', by: EDITOR });
    assert.match((rejected[0].detail as { message: string }).message, /v1 rejected by editor@example\.org: figure 1 is upside down/);
    assert.equal((await storeGet('/articles/00353')).status, 404);
    assert.equal((await storeGet<ArticleVersion>('/articles/00353/versions/1')).body.state, 'unpublished');
    assert.ok(!fs.existsSync(path.join(site, 'published')));
    assert.equal(webhook.attempts, 0);

    // The same bytes fed again stay rejected (handled once); a corrected package of v1 is taken.
    await feedAll();
    await sleep(1500);
    assert.equal((await stateOf('00353')).stage, 'waiting');
    put(SILENT_V1);
    await feedAll();
    const again = await until('00353', (s) => s.stage === 'awaiting-approval');
    assert.deepEqual(again.current, { version: 1, status: 'vor', run: 2, mode: 'preview', key: SILENT_V1 });
    await handle.executeUpdate(approveUpdate, { args: [{ version: 1, by: EDITOR }] });
    await until('00353', published(1));
    const latest = await storeGet<ArticleVersion>('/articles/00353');
    assert.equal(latest.body.record.title, 'A Good Life', 'the corrected package is the one published');
    assert.deepEqual([((await webhook.nth(1)).body as { version: number }).version, webhook.notifications.length], [1, 1], 'told once, of the corrected v1');
  });

  it('v2 fed before v1 waits for v1, saying so; then v1 and v2 publish in that order', async () => {
    p = await startPublishing();
    const { webhook } = p;
    put(V2);
    await feedAll();
    const waiting = await until('00353', (s) => s.pending.length === 1);
    assert.equal(waiting.stage, 'waiting');
    assert.deepEqual(waiting.pending, [{ version: 2, status: 'vor', key: V2 }]);
    assert.equal(waiting.current, undefined);
    const message = `waiting for v1 of 00353 before v2 (${V2})`;
    await until('00353', (s) => s.details === message);
    await sleep(1500);
    const still = await stateOf('00353');
    assert.deepEqual([still.stage, still.pending.length, still.details], ['waiting', 1, message], 'v2 still waits, saying for what');
    assert.equal(await currentDetails(handleOf('00353')), message, 'the Web UI says what it waits for');
    assert.equal((await storeGet<{ code: string }>('/articles/00353/versions')).body.code, 'article-not-found', 'nothing of v2 went to the store');
    assert.equal(webhook.attempts, 0);

    put(V1);
    await feedAll();
    const done = await until('00353', published(2));
    assert.deepEqual(done.pending, []);
    const latest = await storeGet<ArticleVersion>('/articles/00353');
    assert.equal(latest.body.version, 2);
    assert.equal(latest.body.record.title, 'A good life in science');
    const summary = await storeGet<ArticleSummary>('/articles/00353/versions');
    assert.equal(summary.body.latestPublishedVersion, 2);
    assert.deepEqual(summary.body.versions, [
      { version: 1, state: 'published' },
      { version: 2, state: 'published' },
    ]);
    await webhook.nth(2);
    assert.deepEqual(
      webhook.notifications.map((n) => (n.body as { version: number }).version),
      [1, 2],
    );
    assert.deepEqual(await publications('00353'), [1, 2]);
  });

  it('a stale version (v1 fed again with other bytes after v2 is published) is skipped with its reason; nothing is republished', async () => {
    // Continue-as-new after every two packages: the skip happens in a fresh run that carried the state.
    p = await startPublishing({ continueAsNewAfter: 2 });
    const { site, webhook } = p;
    put(V1);
    put(V2);
    await feedAll();
    await until('00353', published(2));
    await webhook.nth(2);
    const v1Record = sha256(path.join(site, 'published', '00353', 'v1', 'record.json'));
    const v1Before = await storeGet<ArticleVersion>('/articles/00353/versions/1');

    // The same key with other bytes (another ETag), and v2 changed too.
    put(V1, SILENT_V1);
    fs.appendFileSync(path.join(p.packages, V2), Buffer.from('trailing bytes'));
    await feedAll();
    const skipped = await waitForSkips(2);
    assert.deepEqual(
      skipped.map((e) => [(e.detail as { version: number }).version, (e.detail as { detail: { key: string; reason: string } }).detail]),
      [
        [1, { key: V1, reason: 'v1 is older than the published v2' }],
        [2, { key: V2, reason: 'v2 is already published (a change to it is a silent update)' }],
      ],
    );
    const after = await until('00353', (s) => s.stage === 'waiting' && s.pending.length === 0);
    assert.equal(after.published?.version, 2, 'the published version is carried into the new run');
    // The workflow stamps each ledger event with its run: the skips came from a later run than the publications.
    const runOf = (e: EventRow) => e.key.split(':')[0];
    const firstRun = runOf((await timeline('00353'))[0]);
    assert.ok(
      skipped.every((e) => runOf(e) !== firstRun),
      'the workflow continued as new before the stale packages',
    );
    assert.deepEqual((await storeGet<ArticleVersion>('/articles/00353/versions/1')).body, v1Before.body, 'the store is untouched');
    assert.equal((await storeGet<ArticleVersion>('/articles/00353')).body.version, 2);
    assert.equal(sha256(path.join(site, 'published', '00353', 'v1', 'record.json')), v1Record);
    await sleep(1000);
    assert.equal(webhook.notifications.length, 2, 'nobody is told again');
    assert.deepEqual(await publications('00353'), [1, 2]);

    async function waitForSkips(n: number): Promise<EventRow[]> {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const skips = (await timeline('00353')).filter((e) => e.kind === 'article-skipped');
        if (skips.length >= n) return skips;
        if (Date.now() > deadline) throw new Error(`${skips.length} of ${n} skips recorded`);
        await sleep(200);
      }
    }
  });

  it('silent update: replaces the published files and record in place, same version, no webhook, the diff in the ledger', async () => {
    p = await startPublishing();
    const { site, webhook } = p;
    put(V1);
    await feedAll();
    await until('00353', published(1));
    await webhook.nth(1);
    const prefix = path.join(site, 'published', '00353', 'v1');
    const before = (await storeGet<ArticleVersion>('/articles/00353')).body;
    const figure = (v: ArticleVersion) => v.record.assets.find((a) => a.name === 'elife-00353-fig1-v1.tif')?.sha256;
    const figureOnSite = sha256(path.join(prefix, 'elife-00353-fig1-v1.tif'));
    assert.equal(figure(before), figureOnSite);

    const handle = handleOf('00353');
    put(SILENT_V1);
    const accepted = await handle.executeUpdate(silentUpdateUpdate, {
      args: [{ package: describePackage(SILENT_V1, '00353', 1), by: 'production@example.org' }],
    });
    assert.deepEqual(accepted, { articleId: '00353', version: 1, accepted: true });
    const event = await untilEvent('00353', 'article-silent-update');
    const diff = (event.detail as { detail: { added: string[]; removed: string[]; replaced: string[]; changedFields: string[]; by: string } }).detail;
    assert.deepEqual(diff.added, []);
    assert.deepEqual(diff.removed, []);
    assert.deepEqual([...diff.replaced].sort(), ['elife-00353-fig1-v1.jpg', 'elife-00353-fig1-v1.tif', 'elife-00353-v1.xml']);
    assert.ok(diff.changedFields.includes('title') && diff.changedFields.includes('assets'), diff.changedFields.join(', '));
    assert.equal(diff.by, 'production@example.org');

    const after = (await storeGet<ArticleVersion>('/articles/00353')).body;
    assert.equal(after.version, 1);
    assert.equal(after.state, 'published');
    assert.equal(after.publishedAt, before.publishedAt, 'still published when it was');
    assert.equal(after.record.title, 'A Good Life');
    assert.notEqual(figure(after), figure(before), "the figure's checksum changed");
    assert.equal(sha256(path.join(prefix, 'elife-00353-fig1-v1.tif')), figure(after), 'the site serves the new figure');
    assert.equal(JSON.parse(fs.readFileSync(path.join(prefix, 'record.json'), 'utf8')).title, 'A Good Life');
    // Ingested with the preview's links, replaced with the published ones, published, then silently updated.
    assert.deepEqual(
      after.history.map((h) => h.event),
      ['ingested', 'replaced', 'published', 'silent-update'],
    );
    const state = await until('00353', (s) => s.stage === 'waiting');
    assert.equal(state.published?.version, 1);

    // A second silent update adds a file; a third (the first package again) takes it away.
    const extra = Buffer.from('x,y\n1,2\n');
    const files = [...(await articleFiles({ articleId: '00353', title: 'A Good Life' }))];
    const withData = 'elife-00353-vor-v1-20121221000000.zip';
    put(withData, await zipOf(files, [{ name: 'elife-00353-data1-v1.csv', data: extra }]));
    await handle.executeUpdate(silentUpdateUpdate, { args: [{ package: describePackage(withData, '00353', 1), by: 'production@example.org' }] });
    const diffs = async (n: number) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const found = (await timeline('00353')).filter((e) => e.kind === 'article-silent-update');
        if (found.length >= n) return found.map((e) => (e.detail as { detail: typeof diff }).detail);
        if (Date.now() > deadline) throw new Error(`${found.length} of ${n} silent updates recorded`);
        await sleep(200);
      }
    };
    const second = (await diffs(2))[1];
    assert.deepEqual(second.added, ['elife-00353-data1-v1.csv']);
    assert.deepEqual(second.removed, []);
    assert.deepEqual([...second.replaced].sort(), ['elife-00353-fig1-v1.jpg', 'elife-00353-fig1-v1.tif']);
    assert.ok(fs.existsSync(path.join(prefix, 'elife-00353-data1-v1.csv')));
    await handle.executeUpdate(silentUpdateUpdate, { args: [{ package: describePackage(SILENT_V1, '00353', 1), by: 'production@example.org' }] });
    const third = (await diffs(3))[2];
    assert.deepEqual([third.added, third.removed], [[], ['elife-00353-data1-v1.csv']]);
    assert.ok(!fs.existsSync(path.join(prefix, 'elife-00353-data1-v1.csv')), 'the removed file is gone from the site');
    assert.ok(!(await storeGet<ArticleVersion>('/articles/00353')).body.record.assets.some((a) => a.name.endsWith('.csv')));
    await sleep(1000);
    assert.equal(webhook.attempts, 1, 'silent updates tell nobody');

    // Refused at once, with the reason: another version, another article, an article with nothing published.
    put(V2);
    assert.match(
      await refusal(handle.executeUpdate(silentUpdateUpdate, { args: [{ package: describePackage(V2, '00353', 2), by: 'production@example.org' }] })),
      /the package elife-00353-vor-v2-20130115000000\.zip is v2; a silent update replaces the published version, v1/,
    );
    put(SECOND);
    assert.match(
      await refusal(handle.executeUpdate(silentUpdateUpdate, { args: [{ package: describePackage(SECOND, '99353', 1), by: 'production@example.org' }] })),
      /the package elife-99353-vor-v1-20130301000000\.zip is for article 99353, not 00353/,
    );
    await feedAll({ filter: /99353/, mode: 'preview' });
    await until('99353', (s) => s.stage === 'awaiting-approval');
    assert.match(
      await refusal(
        handleOf('99353').executeUpdate(silentUpdateUpdate, { args: [{ package: describePackage(SECOND, '99353', 1), by: 'production@example.org' }] }),
      ),
      /99353 has nothing published: a silent update replaces a published version/,
    );
    assert.equal((await timeline('00353')).filter((e) => e.kind.startsWith('article-silent-update')).length, 3, 'the refused ones left nothing to do');
  });

  it('a webhook that refuses is asked again; the version is published once and announced once, with an id to deduplicate by', async () => {
    p = await startPublishing();
    const { webhook } = p;
    webhook.failNext(2);
    put(V1);
    await feedAll();
    await until('00353', published(1));
    const note = await webhook.nth(1);
    assert.equal(webhook.attempts, 3, 'two refusals, then delivered');
    assert.deepEqual(note.body, {
      id: 'article:00353:v1:published',
      event: 'article-published',
      articleId: '00353',
      version: 1,
      status: 'vor',
      url: `${p.store.url}/articles/00353/versions/1`,
      publishedAt: (await storeGet<ArticleVersion>('/articles/00353')).body.publishedAt,
    });
    assert.equal(note.headers['idempotency-key'], 'article:00353:v1:published');
    assert.equal((await storeGet<ArticleVersion>('/articles/00353')).body.history.filter((h) => h.event === 'published').length, 1);
  });

  it('a webhook down past every retry leaves the version published, says so, and the next version goes ahead', async () => {
    p = await startPublishing();
    const { sys, webhook } = p;
    // The test system retries io steps 5 times: every POST of v1's notification is refused.
    assert.equal(sys.config.retry.io.maximumAttempts, 5);
    webhook.failNext(5);
    put(V1);
    await feedAll();
    const failed = await untilEvent('00353', 'article-notify-failed');
    assert.match((failed.detail as { message: string }).message, /^published v1, but the webhook was not told: .*answered 503/);
    const state = await until('00353', published(1));
    assert.match(state.lastError ?? '', /^published v1, but the webhook was not told/);
    assert.equal(webhook.attempts, 5);
    assert.equal((await storeGet<ArticleVersion>('/articles/00353')).body.version, 1, 'the publication stands');

    put(V2);
    await feedAll();
    const next = await until('00353', published(2));
    assert.equal(next.lastError, undefined);
    assert.deepEqual(
      webhook.notifications.map((n) => (n.body as { version: number }).version),
      [2],
    );
  });

  it('a store slower than the heartbeat timeout does not get the publication run twice: one publication, one notification', async () => {
    p = await startPublishing({ defaultMode: 'preview' });
    const { store, webhook, sys } = p;
    put(V1);
    await feedAll();
    await until('00353', (s) => s.stage === 'awaiting-approval');
    // The publication's two store calls (ingest, publish) held 6 s each: 12 s without a byte to
    // count, against a heartbeat timeout of 5 s (and the SDK's last throttled beat some 4 s after the copy).
    assert.equal(sys.config.heartbeatTimeout, '5s');
    const faults = await fetch(`${store.url}/_faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ delayMs: 6000, delayed: 2 }),
    });
    assert.equal(faults.status, 200);
    await handleOf('00353').executeUpdate(approveUpdate, { args: [{ by: EDITOR }] });
    await until('00353', published(1));
    await webhook.nth(1);
    await sleep(3000); // a late POST from a second attempt, had there been one
    const history = await handleOf('00353').fetchHistory();
    const retried = (history.events ?? []).filter((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1).length;
    assert.equal(retried, 0, 'no activity was started a second time');
    assert.equal(webhook.attempts, 1, 'one POST to the webhook');
    assert.equal((await storeGet<ArticleVersion>('/articles/00353')).body.history.filter((h) => h.event === 'published').length, 1);
  });

  describe('hostile packages', () => {
    // Each package is its own article, all fed at once.
    const cases: Array<{ articleId: string; what: string; make: () => Promise<Buffer>; error: RegExp; refusedZip?: true }> = [
      {
        articleId: '70001',
        refusedZip: true,
        what: 'zip-slip entry',
        make: async () =>
          patchEntry(await zipOf(await articleFiles({ articleId: '70001' }), [{ name: 'xx/evil-70001.txt', data: 'escaped' }]), 'xx/evil-70001.txt', {
            name: '../evil-70001.txt',
          }),
        error: /^PackageRefused: Zip elife-70001-vor-v1-20240101000000\.zip refused .*\n.*entry "\.\.\/evil-70001\.txt": path-traversal/,
      },
      {
        articleId: '70002',
        refusedZip: true,
        what: 'absolute path',
        make: async () =>
          patchEntry(await zipOf(await articleFiles({ articleId: '70002' }), [{ name: 'xtmp/evil-70002.txt', data: 'escaped' }]), 'xtmp/evil-70002.txt', {
            name: '/tmp/evil-70002.txt',
          }),
        error: /entry "\/tmp\/evil-70002\.txt": absolute-path/,
      },
      {
        articleId: '70003',
        refusedZip: true,
        what: 'symlink',
        make: async () =>
          patchEntry(
            await zipOf(await articleFiles({ articleId: '70003' }), [{ name: 'evil-70003-link', data: '../../../../../etc/passwd' }]),
            'evil-70003-link',
            {
              externalAttributes: (0o120777 << 16) >>> 0,
            },
          ),
        error: /entry "evil-70003-link": symlink/,
      },
      {
        articleId: '70004',
        refusedZip: true,
        what: 'zip bomb by compression ratio',
        make: async () => zipOf(await articleFiles({ articleId: '70004' }), [{ name: 'elife-70004-data1-v1.tif', data: Buffer.alloc(64 * 1024 * 1024) }]),
        error: /entry "elife-70004-data1-v1\.tif": compression-ratio: expands \d+ bytes to 67108864/,
      },
      {
        articleId: '70005',
        refusedZip: true,
        what: 'zip bomb by count of files',
        make: async () =>
          zipOf(
            await articleFiles({ articleId: '70005' }),
            Array.from({ length: 60 }, (_, i) => ({ name: `parts/${i}.txt`, data: 'x' })),
          ),
        error: /too-many-files: 63 files to write; the limit is 50/,
      },
      {
        articleId: '70006',
        refusedZip: true,
        what: 'zip bomb of overlapping entries',
        make: async () => {
          const kernel = Buffer.alloc(512 * 1024, 7);
          let zip = await zipOf(await articleFiles({ articleId: '70006' }), [
            { name: 'kernel.bin', data: kernel },
            { name: 'copy-1.bin', data: kernel },
            { name: 'copy-2.bin', data: kernel },
          ]);
          const local = rawEntries(zip).find((e) => e.name === 'kernel.bin')!.local;
          zip = patchEntry(zip, 'copy-1.bin', { localHeaderOffset: local });
          return patchEntry(zip, 'copy-2.bin', { localHeaderOffset: local });
        },
        error: /overlapping-entries/,
      },
      {
        articleId: '70007',
        refusedZip: true,
        what: 'duplicate names',
        make: async () => {
          const files = await articleFiles({ articleId: '70007' });
          return zipOf(files, [{ name: `./${files[0][0]}`, data: 'a second file of the same name' }]);
        },
        error: /duplicate: names the same file as entry/,
      },
      {
        articleId: '70008',
        what: 'malformed XML',
        make: async () => zipOf(await articleFiles({ articleId: '70008', editXml: (xml) => xml.replace('</article-meta>', '') })),
        error: /^InvalidArticle: Article elife-70008-v1\.xml is invalid .*\n.*malformed-xml/,
      },
      {
        articleId: '70009',
        what: 'wrong article id',
        make: async () => zipOf(await articleFiles({ articleId: '70009', xmlArticleId: '00353' })),
        error: /article-id-mismatch: <article-id pub-id-type="publisher-id"> is "00353"; the package name says article 70009/,
      },
      {
        articleId: '70010',
        what: 'missing referenced asset',
        make: async () => zipOf(await articleFiles({ articleId: '70010', without: ['elife-70010-fig1-v1.tif'] })),
        error: /missing-asset: .*elife-70010-fig1-v1/,
      },
      {
        articleId: '70011',
        what: 'a file where custody puts the record',
        make: async () => zipOf(await articleFiles({ articleId: '70011' }), [{ name: 'record.json', data: '{"title":"not the record"}' }]),
        error: /^InvalidArticle: .*record\.json.*the article's record/,
      },
      {
        articleId: '70012',
        what: "a file where a figure's web derivative goes",
        make: async () => zipOf(await articleFiles({ articleId: '70012' }), [{ name: 'elife-70012-fig1-v1.jpg', data: 'not the derivative' }]),
        error: /^InvalidArticle: .*elife-70012-fig1-v1\.jpg.*web derivative of elife-70012-fig1-v1\.tif/,
      },
    ];

    it('each ends rejected with a clear reason; nothing is written outside its run, published or announced', async function () {
      this.timeout(240_000);
      p = await startPublishing({ limits: { maxFiles: 50, maxTotalBytes: 1024 ** 3, maxCompressionRatio: 100 } });
      const { sys, site, webhook } = p;
      for (const c of cases) put(packageName(c.articleId), await c.make());
      const outcomes = await feedAll();
      assert.equal(outcomes.filter((o) => o.action === 'sent').length, cases.length);

      for (const c of cases) {
        const state = await until(c.articleId, (s) => s.stage === 'rejected');
        assert.match(state.lastError ?? '', c.error, `${c.what}: ${state.lastError}`);
        assert.equal(state.published, undefined, c.what);
        assert.equal(state.current?.version, 1);
        assert.match((await currentDetails(handleOf(c.articleId))) ?? '', /^rejected: .* — waiting for reenqueue, reject or freeze$/s);
      }

      // Nothing outside each run's folder: the work storage holds only run folders, scratch is empty, the site is empty.
      const work = tree(path.join(sys.config.dataDir, 'work'));
      const outside = work.filter((f) => !/^articles(\/\d{5}(\/v1(\/run1(\/.*)?)?)?)?$/.test(f));
      assert.deepEqual(outside, [], 'work storage: only articles/<id>/v1/run1/');
      for (const c of cases.filter((x) => x.refusedZip)) {
        assert.ok(!work.some((f) => f.startsWith(`articles/${c.articleId}/v1/run1/package/`)), `${c.what}: nothing was expanded`);
      }
      assert.deepEqual(tree(path.join(sys.config.dataDir, 'scratch')), [], 'scratch folders removed');
      assert.deepEqual(tree(site), [], 'nothing on the site, not even a preview');
      const escaped = [...tree(sys.root), ...tree(path.dirname(site)), ...fs.readdirSync(os.tmpdir()), ...fs.readdirSync('/tmp')].filter((f) =>
        /evil-700/.test(f),
      );
      assert.deepEqual(escaped, [], 'no entry escaped');

      assert.deepEqual((await storeGet<{ data: unknown[] }>('/articles')).body.data, [], 'the store has nothing');
      assert.equal(webhook.attempts, 0);
    });
  });
});
