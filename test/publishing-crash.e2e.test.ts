// A crash loses nothing and publishes once: worker processes running the publishing pipeline are
// killed with SIGKILL while a large package is being expanded, and again while the article
// store is carrying out the publication (held there by the store's fault switch), and the
// article is still published exactly once, with every byte, and announced once.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import yazl from 'yazl';
import { approveUpdate, articleStateQuery, articleWorkflowId, type ArticleState } from '../common/articles';
import type { ArticleVersion } from '../common/article-store';
import { REPO_ROOT } from '../config/config';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { feed } from '../starters/feed';
import { articleFiles } from './support/article-packages';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal } from './support/temporal-server';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';

const KEY = 'elife-00353-vor-v1-20121213000000.zip';
const BIG = 'elife-00353-data1-v1.bin';
const BIG_BYTES = 320 * 1024 * 1024;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sha256(file: string): string {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(8 * 1024 * 1024);
  for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest('hex');
}

/** The real package's files with a large incompressible data file, stored (not deflated) so expanding it is disk-bound. */
async function writeLargePackage(file: string, bigFile: string): Promise<void> {
  const out = fs.openSync(bigFile, 'w');
  const chunk = Buffer.alloc(16 * 1024 * 1024);
  for (let written = 0; written < BIG_BYTES; written += chunk.length) fs.writeSync(out, randomFillSync(chunk));
  fs.closeSync(out);
  const zip = new yazl.ZipFile();
  for (const [name, data] of await articleFiles({ articleId: '00353' })) zip.addBuffer(data, name, { compress: true });
  zip.addFile(bigFile, BIG, { compress: false });
  zip.end();
  await new Promise<void>((resolve, reject) => {
    zip.outputStream.pipe(fs.createWriteStream(file)).on('finish', resolve).on('error', reject);
    zip.outputStream.on('error', reject);
  });
}

describe('publishing crash safety: worker processes killed with SIGKILL', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let store: RunningArticleStore;
  let webhook: WebhookReceiver;
  let configFile: string;
  let packages: string;
  let site: string;
  let bigSha: string;
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
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  before(async function () {
    this.timeout(300_000);
    sys = await startCustodySystem({ inProcessWorkers: false, config: { articles: { defaultMode: 'preview' } } });
    store = await startArticleStore({ port: 0, dataDir: path.join(sys.root, 'store') });
    webhook = await startWebhookReceiver();
    packages = path.join(sys.root, 'packages');
    site = path.join(sys.root, 'site');
    fs.mkdirSync(packages);
    const articles = { ...sys.config.articles, site, siteUrl: 'http://site.example.org', store: { url: store.url }, webhookUrl: webhook.url };
    Object.assign(sys.config.articles, articles);
    // The worker processes read this system's settings, the publishing pipeline's included.
    configFile = sys.writeWorkerConfig('custody');
    fs.writeFileSync(configFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), articles }));
    const bigFile = path.join(sys.root, 'big.bin');
    await writeLargePackage(path.join(packages, KEY), bigFile);
    bigSha = sha256(bigFile);
    fs.rmSync(bigFile);
  });
  after(async () => {
    for (const child of children) await kill(child);
    await sys?.close();
    await store?.close();
    await webhook?.close();
  });

  async function until(done: (s: ArticleState) => boolean, timeoutMs = 180_000): Promise<ArticleState> {
    const handle = sys.client.workflow.getHandle(articleWorkflowId('00353'));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await handle.query(articleStateQuery).catch(() => undefined);
      if (s && done(s)) return s;
      if (Date.now() > deadline) throw new Error(`article 00353 never got there; last state ${JSON.stringify(s)}`);
      await sleep(100);
    }
  }

  /** The activities that ran more than once: started again after a worker died. */
  async function retriedActivities(): Promise<string[]> {
    const history = await sys.client.workflow.getHandle(articleWorkflowId('00353')).fetchHistory();
    const scheduled = new Map<string, string>();
    const retried: string[] = [];
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) retried.push(scheduled.get(String(started.scheduledEventId)) ?? '');
    }
    return retried;
  }

  it('a worker killed mid-expansion and another killed mid-publication: published once, every byte there, announced once', async () => {
    let worker = startChildWorker();
    await feed({ client: sys.client, config: sys.config }, packages);

    // Mid-expansion: the large file is being written into the expansion's scratch folder.
    const expanding = path.join(sys.config.dataDir, 'scratch', 'article-00353-v1-run1-expand', 'package', BIG);
    const deadline = Date.now() + 180_000;
    while (!(fs.existsSync(expanding) && fs.statSync(expanding).size > 0)) {
      if (Date.now() > deadline) throw new Error(`the expansion never began writing ${expanding}`);
      await sleep(20);
    }
    assert.equal((await until(() => true)).stage, 'expanding');
    await kill(worker);
    worker = startChildWorker();

    // The expansion is taken up again by the new worker, once the dead one's heartbeats stop.
    await until((s) => s.stage === 'awaiting-approval');
    assert.ok((await retriedActivities()).includes('expandPackage'), 'expandPackage ran again after the kill');

    // Mid-publication: the store holds the ingest and the publish 3 s each before carrying them out.
    const faults = await fetch(`${store.url}/_faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ delayMs: 3000, delayed: 2 }),
    });
    assert.equal(faults.status, 200);
    await sys.client.workflow.getHandle(articleWorkflowId('00353')).executeUpdate(approveUpdate, { args: [{ by: 'editor@example.org' }] });
    // Both delays taken: the publish request has arrived and waits in the store. The worker dies
    // before the store answers, so it never reaches the webhook; the store carries the publish out anyway.
    const publishDeadline = Date.now() + 120_000;
    for (;;) {
      const left = (await (await fetch(`${store.url}/_faults`)).json()) as Record<string, unknown>;
      if (Object.keys(left).length === 0) break;
      if (Date.now() > publishDeadline) throw new Error(`the publication never reached the store (faults left: ${JSON.stringify(left)})`);
      await sleep(20);
    }
    assert.equal((await until(() => true)).stage, 'publishing');
    await kill(worker);
    startChildWorker();

    const done = await until((s) => s.published?.version === 1 && s.stage === 'waiting');
    assert.equal(done.lastError, undefined);
    const retried = await retriedActivities();
    assert.ok(retried.includes('publishVersion'), `publishVersion ran again after the kill (retried: ${retried.join(', ')})`);

    // Published exactly once, with every byte.
    const latest = (await (await fetch(`${store.url}/articles/00353`)).json()) as ArticleVersion;
    assert.equal(latest.version, 1);
    assert.deepEqual(
      latest.history.filter((h) => h.event === 'published').length,
      1,
      `one publication in the store's history: ${latest.history.map((h) => h.event).join(', ')}`,
    );
    const big = latest.record.assets.find((a) => a.name === BIG);
    assert.deepEqual([big?.size, big?.sha256], [BIG_BYTES, bigSha]);
    assert.equal(sha256(path.join(site, 'published', '00353', 'v1', BIG)), bigSha, 'the site serves the whole file');
    const publications = (await sys.ledger.timeline('article:00353')).filter((e) => e.key === 'article:00353:v1:published');
    assert.equal(publications.length, 1, 'one publication in the ledger');

    // Announced exactly once: the kill fell before the webhook's POST, and the retried publish
    // found the store's publication done (already-published), so one POST followed.
    const note = await webhook.nth(1);
    assert.equal((note.body as { id: string }).id, 'article:00353:v1:published');
    await sleep(2000);
    assert.equal(webhook.attempts, 1, 'one POST to the webhook');

    // Nothing left behind in scratch by the killed workers once their steps were redone.
    assert.deepEqual(fs.readdirSync(path.join(sys.config.dataDir, 'scratch')), []);
  });
});
