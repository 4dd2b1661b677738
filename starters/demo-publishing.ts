// The demo's publishing part: the reference article store, a small static server for the site
// folder (so the records' links open), and the sample packages of examples/generate-articles.ts
// dropped into the watched folder for the `watch-articles` schedule to send:
//   1. 00353 v1 (automatic mode: published at once) and 99353 v1 (preview mode, by a mode rule);
//   2. 99353 approved by the demo;
//   3. a silent update of 00353 v1 (the published version: same version, a new figure and title);
//   4. 00353 v2, published after v1.
// Then each article's published record in the store, checked with --exit against
// examples/expected-publishing-outcomes.json.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { approveUpdate, articleStateQuery, articleWorkflowId, silentUpdateUpdate, type ArticleState, type ArticleStage } from '../common/articles';
import { REPO_ROOT, type Config } from '../config/config';
import { articlePackages } from '../activities/article-packages';
import type { Ledger } from '../ledger';
import { openStorage, parseStorageUrl, sha256OfFile } from '../storage';
import { ELIFE_FIXTURE, generateArticles } from '../examples/generate-articles';
import { WATCH_ARTICLES_SCHEDULE, type WatchArticlesResult, type WatchCursor } from '../common/watch-articles';
import type { ChildProcesses } from './child-processes';

const V1 = 'elife-00353-vor-v1-20121213000000.zip';
const V2 = 'elife-00353-vor-v2-20130115000000.zip';
const SILENT = 'elife-00353-vor-v1-20121220000000.zip';
const SECOND = 'elife-99353-vor-v1-20130301000000.zip';
const ARTICLES = ['00353', '99353'];
const DEMO_BY = 'custody demo';
/** Each step's wait: the watch runs every few seconds and a package takes seconds. */
const STEP_TIMEOUT_MS = 180_000;

/** What examples/expected-publishing-outcomes.json says each article must end as. */
export interface ExpectedArticle {
  publishedVersion: number;
  title: string;
  /** Published versions the store must show a silent update of. */
  silentUpdates: number[];
}

interface StoreVersion {
  version: number;
  state: string;
  publishedAt?: string;
  record: { title: string; status: string; assets: Array<{ name: string; url: string }> };
  history: Array<{ at: string; event: string; changed?: string[] }>;
}

/** The demo's settings for the publishing part: the watch every 5 s, preview mode for the second article. */
export const DEMO_PUBLISHING_SETTINGS = {
  schedules: { watchArticles: { every: '5s', catchupWindow: '1h', settleTime: '1s' } },
  articles: { modeRules: [{ articleId: '99353', mode: 'preview' }] },
};

/** The demo's own data of its articles, left by an earlier run: the workflows, the store's data, the site's and working files. */
export async function resetDemoArticles(client: Client, config: Config, storeDir: string): Promise<string[]> {
  const reset: string[] = [];
  for (const id of ARTICLES) {
    try {
      const handle = client.workflow.getHandle(articleWorkflowId(id));
      if ((await handle.describe()).status.name !== 'RUNNING') continue;
      await handle.terminate('the demo starts its sample articles over');
      reset.push(id);
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
    }
  }
  fs.rmSync(storeDir, { recursive: true, force: true });
  const { s3 } = config.storage;
  const incoming = openStorage(config.articles.source, s3);
  for (const key of [V1, V2, SILENT, SECOND]) await incoming.remove(key);
  const site = openStorage(config.articles.site, s3);
  const work = openStorage(config.storage.work, s3);
  for (const id of ARTICLES) {
    await site.remove(`preview/${id}/`);
    await site.remove(`published/${id}/`);
    await work.remove(`articles/${id}/`);
  }
  return reset;
}

const MEDIA_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.jpg': 'image/jpeg',
  '.webp': 'image/webp',
  '.png': 'image/png',
  '.tif': 'image/tiff',
  '.html': 'text/html; charset=utf-8',
};

/**
 * Serves the site folder at `articles.siteUrl` (GET and HEAD only, nothing outside the folder),
 * so the links in the store's records open. Undefined when the site is not a local folder on a
 * local address, or the port is taken: the demo then prints paths instead.
 */
export async function serveSite(config: Config): Promise<{ url: string; close(): Promise<void> } | undefined> {
  const site = parseStorageUrl(config.articles.site);
  const url = new URL(config.articles.siteUrl);
  if (site.kind !== 'file' || !['localhost', '127.0.0.1'].includes(url.hostname) || url.protocol !== 'http:') return undefined;
  const root = path.resolve(site.path);
  const base = url.pathname.replace(/\/+$/, '');
  const server = http.createServer((req, res) => {
    const refuse = (status: number) => res.writeHead(status, { 'content-type': 'text/plain' }).end(`${status}\n`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(405);
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://site').pathname);
    if (!pathname.startsWith(`${base}/`) || pathname.split('/').some((s) => s === '..' || s === '.')) return refuse(404);
    const file = path.join(root, ...pathname.slice(base.length + 1).split('/'));
    fs.stat(file, (err, st) => {
      if (err || !st.isFile()) return refuse(404);
      res.writeHead(200, { 'content-type': MEDIA_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': st.size });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    });
  });
  const port = Number(url.port || 80);
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, url.hostname === 'localhost' ? '127.0.0.1' : url.hostname, () => resolve(true));
  });
  if (!listening) return undefined;
  return { url: config.articles.siteUrl, close: () => new Promise((r) => server.close(() => r())) };
}

/** Starts the reference article store at `articles.store.url`'s port, its data in `dataDir`. */
export function startArticleStoreProcess(children: ChildProcesses, config: Config, dataDir: string): Promise<void> {
  const port = new URL(config.articles.store.url).port || '80';
  const main = path.join(REPO_ROOT, 'reference-article-store', 'main.ts');
  const child = children.spawn(process.execPath, ['--require', 'tsx/cjs', main, '--port', port, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`reference article store exited with code ${code} during start-up`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
}

export interface PublishingDemo {
  client: Client;
  config: Config;
  ledger: Ledger;
  say: (line: string) => void;
}

/** The sequence of the header; returns the outcome lines and whether every outcome is the expected one. */
export async function runPublishingDemo({ client, config, ledger, say }: PublishingDemo): Promise<{ lines: string[]; asExpected: boolean }> {
  const started = new Date().toISOString();
  if (!fs.existsSync(ELIFE_FIXTURE)) throw new Error(`the sample article package ${ELIFE_FIXTURE} is missing: the publishing part needs it`);
  const samplesDir = path.join(config.dataDir, 'demo-articles');
  await generateArticles(samplesDir);
  const incoming = openStorage(config.articles.source, config.storage.s3);
  say(`sample packages written to ${samplesDir} (examples/generate-articles.ts)`);

  /** Puts a sample package into the watched location (complete or not at all: a partial file renamed into place). */
  const drop = async (file: string) => {
    const from = path.join(samplesDir, file);
    await incoming.putFile(file, from, { size: fs.statSync(from).size, sha256: await sha256OfFile(from) });
  };
  const state = (id: string) => client.workflow.getHandle(articleWorkflowId(id)).query(articleStateQuery);
  const until = async (id: string, what: string, done: (s: ArticleState) => boolean): Promise<ArticleState> => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const s = await state(id).catch(() => undefined);
      if (s && done(s)) return s;
      const stuck: ArticleStage[] = ['failed', 'rejected', 'frozen'];
      if ((s && stuck.includes(s.stage)) || Date.now() > deadline)
        throw new Error(`${id} did not get to "${what}": it is ${s ? `${s.stage}${s.lastError ? ` (${s.lastError})` : ''}` : 'not started'}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const every = config.schedules.watchArticles.every;

  await drop(V1);
  await drop(SECOND);
  say(`dropped ${V1} and ${SECOND} into ${config.articles.source}; the watch-articles schedule (every ${every}) sends them`);
  const first = await until('00353', 'v1 published', (s) => s.published?.version === 1);
  say(`00353 v1 published (automatic mode): ${first.published!.url}`);
  const waiting = await until('99353', 'v1 waiting for approval', (s) => s.stage === 'awaiting-approval');
  say(`99353 v1 waits for approval (preview mode, by the rule for 99353): ${waiting.lastEvent?.message.replace(/^.*preview at /, 'preview ')}`);

  await client.workflow.getHandle(articleWorkflowId('99353')).executeUpdate(approveUpdate, { args: [{ by: DEMO_BY }] });
  await until('99353', 'v1 published', (s) => s.published?.version === 1);
  say(`99353 v1 approved by ${DEMO_BY} and published`);

  // A silent update goes to the article by Update (as `custody silent-update` sends it), not
  // through the watched folder: a package of the published version found there is skipped.
  const { package: silent } = articlePackages(config, samplesDir, { fedBy: DEMO_BY })({
    key: SILENT,
    size: fs.statSync(path.join(samplesDir, SILENT)).size,
    modifiedAt: fs.statSync(path.join(samplesDir, SILENT)).mtime.toISOString(),
  });
  await client.workflow.getHandle(articleWorkflowId('00353')).executeUpdate(silentUpdateUpdate, { args: [{ package: silent!, by: DEMO_BY }] });
  const silentDone = await (async () => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const e = (await ledger.timeline('article:00353')).find((e) => e.at >= started && e.kind.startsWith('article-silent-update'));
      if (e) return e;
      if (Date.now() > deadline) throw new Error('the silent update of 00353 v1 was not recorded');
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  say(`00353 v1 ${(silentDone.detail as { message: string }).message.replace(/^silent update of v1 /, 'silently updated ')}`);

  await drop(V2);
  say(`dropped ${V2} into ${config.articles.source}`);
  await until('00353', 'v2 published', (s) => s.published?.version === 2);
  say('00353 v2 published (automatic mode)');
  const cursor = await watchCursor(client);
  if (cursor) say(`the watch's cursor (its last run's result): ${cursor.modifiedAt}, ${cursor.keys.join(', ')}`);

  return publishingOutcomes(config);
}

/** The cursor of the watch's latest finished run. */
async function watchCursor(client: Client): Promise<WatchCursor | undefined> {
  const { info } = await client.schedule.getHandle(WATCH_ARTICLES_SCHEDULE).describe();
  for (const { action } of [...info.recentActions].reverse()) {
    const run = client.workflow.getHandle(action.workflow.workflowId, action.workflow.firstExecutionRunId);
    if ((await run.describe()).status.name === 'COMPLETED') return ((await run.result()) as WatchArticlesResult).cursor;
  }
  return undefined;
}

/** The store's published records against the expected outcomes, as the lines of a table. */
export async function publishingOutcomes(config: Config): Promise<{ lines: string[]; asExpected: boolean }> {
  const expected = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'expected-publishing-outcomes.json'), 'utf8')) as Record<
    string,
    ExpectedArticle
  >;
  const store = config.articles.store.url.replace(/\/+$/, '');
  const get = async (route: string): Promise<StoreVersion | undefined> => {
    const answer = await fetch(`${store}${route}`);
    return answer.ok ? ((await answer.json()) as StoreVersion) : undefined;
  };
  const lines = [`${'article'.padEnd(8)} ${'published'.padEnd(10)} ${'title'.padEnd(24)} record in the article store`];
  let asExpected = true;
  for (const [id, want] of Object.entries(expected).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const published = await get(`/articles/${id}`);
    const problems: string[] = [];
    if (!published) problems.push('nothing published');
    else {
      if (published.version !== want.publishedVersion) problems.push(`v${published.version} published, expected v${want.publishedVersion}`);
      if (published.record.title !== want.title) problems.push(`title "${published.record.title}", expected "${want.title}"`);
    }
    const shown = published ? `v${published.version} (${published.record.status})` : '-';
    lines.push(`${id.padEnd(8)} ${shown.padEnd(10)} ${(published?.record.title ?? '-').padEnd(24)} ${store}/articles/${id}`);
    for (const v of want.silentUpdates) {
      const version = await get(`/articles/${id}/versions/${v}`);
      const update = version?.history.find((h) => h.event === 'silent-update');
      if (update)
        lines.push(
          `${''.padEnd(8)} v${v} silently updated at ${update.at} (changed: ${update.changed?.join(', ') || 'files only'}): ${store}/articles/${id}/versions/${v}`,
        );
      else problems.push(`no silent update of v${v} in the store`);
    }
    if (published?.record.assets.length) {
      const figure = published.record.assets.find((a) => a.name.endsWith('.jpg')) ?? published.record.assets[0];
      lines.push(`${''.padEnd(8)} e.g. ${figure.url}`);
    }
    for (const p of problems) lines.push(`${''.padEnd(8)} UNEXPECTED: ${p}`);
    asExpected &&= problems.length === 0;
  }
  return { lines, asExpected };
}
