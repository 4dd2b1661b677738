// The chaos run's publishing: the sample article packages (examples/generate-articles.ts) fed
// from a folder to the reference article store (in this process, with a token): 00353 v1 and
// 99353 v1, then a silent update of 00353 v1, then 00353 v2. The steps run beside the faults
// and wait them out; the store's fault switch makes it fail for a while. At the end the store's
// own histories must show each version published once and the silent update once.
import fs from 'node:fs';
import path from 'node:path';
import { articleStateQuery, articleWorkflowId, silentUpdateUpdate, type ArticleState } from '../../common/articles';
import type { ArticleVersion } from '../../common/article-store';
import { articlePackages } from '../../activities/article-packages';
import { generateArticles } from '../../examples/generate-articles';
import { startArticleStore, type RunningArticleStore } from '../../reference-article-store/server';
import { feed } from '../../starters/feed';
import type { CustodySystem } from '../../test/support/custody-system';

export const ARTICLE_STORE_TOKEN = 'chaos-article-store-token-91af0c';
const V1 = 'elife-00353-vor-v1-20121213000000.zip';
const V2 = 'elife-00353-vor-v2-20130115000000.zip';
const SILENT = 'elife-00353-vor-v1-20121220000000.zip';
const SECOND = 'elife-99353-vor-v1-20130301000000.zip';
/** What each article must end with: its published versions, and the versions silently updated. */
const WANTED: Record<string, { versions: number[]; silent: number[] }> = { '00353': { versions: [1, 2], silent: [1] }, '99353': { versions: [1], silent: [] } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STEP_TRY_MS = 20_000;

export interface ChaosArticles {
  count: number;
  /** Feeds every package in the folder again (those sent already must not be published again). */
  feedAgain(): Promise<void>;
  fail(n: number): Promise<void>;
  settled(): Promise<number>;
  check(): Promise<{ outcomes: Record<string, number>; lost: string[]; duplicates: string[] }>;
  /** Ends the steps' waiting: before the Temporal connection closes, so no new call goes out on it. */
  stop(): void;
  close(): Promise<void>;
}

/** Sets ARTICLE_STORE_TOKEN and the article settings before the workers start: they take both from there. */
export async function startChaosArticles(sys: CustodySystem, say: (line: string) => void): Promise<ChaosArticles> {
  process.env.ARTICLE_STORE_TOKEN = ARTICLE_STORE_TOKEN;
  const store: RunningArticleStore = await startArticleStore({ port: 0, dataDir: path.join(sys.root, 'article-store'), token: ARTICLE_STORE_TOKEN });
  const samples = path.join(sys.root, 'article-samples');
  const packages = path.join(sys.root, 'article-packages');
  const site = path.join(sys.root, 'site');
  fs.mkdirSync(packages);
  await generateArticles(samples);
  Object.assign(sys.config.articles, {
    source: packages,
    site,
    siteUrl: 'http://site.example.org',
    store: { url: store.url },
    webhookUrl: null,
    defaultMode: 'automatic',
  });
  const api = async (p: string, init?: RequestInit) =>
    fetch(`${store.url}${p}`, { ...init, headers: { authorization: `Bearer ${ARTICLE_STORE_TOKEN}`, 'content-type': 'application/json' } });
  const stateOf = (id: string): Promise<ArticleState | undefined> =>
    sys.client.workflow
      .getHandle(articleWorkflowId(id))
      .query(articleStateQuery)
      .catch(() => undefined);
  const put = (name: string) => fs.copyFileSync(path.join(samples, name), path.join(packages, name));
  const feedAll = () => feed({ client: sys.client, config: sys.config, ledger: sys.ledger }, packages);
  /** Tries `step` until it answers (a restarted server, a drain): the harness's own patience. */
  async function persist<T>(what: string, step: () => Promise<T | undefined>): Promise<T> {
    const since = Date.now();
    let told = false;
    for (;;) {
      if (stopped) throw new Error(`the run ended while waiting for ${what}`);
      // A call in flight when the server stopped can hang: each try has its own time limit.
      const v = await Promise.race([step().catch(() => undefined), sleep(STEP_TRY_MS).then(() => undefined)]);
      if (v !== undefined) return v;
      if (!told && Date.now() - since > 120_000) {
        told = true;
        say(`articles: still waiting for ${what} after 2 minutes`);
      }
      await sleep(300);
    }
  }
  let done = false;
  let stopped = false;
  let failed: string | undefined;
  // The scenario runs beside the faults; its end is part of "settled".
  void (async () => {
    put(V1);
    put(SECOND);
    await persist('feed v1', feedAll);
    await persist('00353 v1 published', async () => ((await stateOf('00353'))?.published?.version === 1 ? true : undefined));
    say('articles: 00353 v1 published; sending the silent update of v1');
    const { package: silent } = articlePackages(sys.config, samples, { fedBy: 'chaos harness' })({
      key: SILENT,
      size: fs.statSync(path.join(samples, SILENT)).size,
      modifiedAt: fs.statSync(path.join(samples, SILENT)).mtime.toISOString(),
    });
    // One update id: a retry after a lost answer is the same update, not a second one.
    await persist('silent update', () =>
      sys.client.workflow
        .getHandle(articleWorkflowId('00353'))
        .executeUpdate(silentUpdateUpdate, { args: [{ package: silent!, by: 'chaos harness' }], updateId: 'chaos-silent-update-00353-v1' })
        .then(() => true),
    );
    put(V2);
    await persist('feed v2', feedAll);
    await persist('00353 v2 published', async () => ((await stateOf('00353'))?.published?.version === 2 ? true : undefined));
    say('articles: 00353 v2 published');
    done = true;
  })().catch((e: unknown) => {
    failed = (e as Error).message;
  });

  const history = async (id: string, version: number): Promise<ArticleVersion | undefined> => {
    const res = await api(`/articles/${id}/versions/${version}`);
    if (res.status === 404) return undefined;
    // Any other failure is the check's own, not a version lost: it must not count as one.
    if (!res.ok) throw new Error(`article store GET /articles/${id}/versions/${version}: ${res.status} ${await res.text()}`);
    return (await res.json()) as ArticleVersion;
  };

  return {
    count: Object.keys(WANTED).length,
    async feedAgain() {
      await feedAll();
    },
    async fail(n) {
      const res = await api('/_faults', { method: 'POST', body: JSON.stringify({ unavailable: n, resetAfter: 1 }) });
      if (!res.ok) throw new Error(`article store /_faults: ${res.status} ${await res.text()}`);
    },
    async settled() {
      const second = (await stateOf('99353'))?.published?.version === 1;
      return (done ? 1 : 0) + (second ? 1 : 0);
    },
    async check() {
      const outcomes: Record<string, number> = {};
      const lost: string[] = [];
      const duplicates: string[] = [];
      if (failed) lost.push(`articles: the harness's steps stopped: ${failed}`);
      // A fault armed near the end and not used up yet would answer these reads with 503s, and the
      // versions would count as never published: the store's faults end before the check reads it.
      const cleared = await api('/_faults', { method: 'DELETE' });
      if (!cleared.ok) throw new Error(`article store DELETE /_faults: ${cleared.status} ${await cleared.text()}`);
      for (const [id, want] of Object.entries(WANTED)) {
        const state = await stateOf(id);
        const ok = state?.published?.version === Math.max(...want.versions);
        outcomes[ok ? 'article-published' : `article-${state?.stage ?? 'missing'}`] =
          (outcomes[ok ? 'article-published' : `article-${state?.stage ?? 'missing'}`] ?? 0) + 1;
        if (!ok) lost.push(`article ${id}: ${state ? `${state.stage}, published v${state.published?.version ?? 'none'}` : 'no workflow'}`);
        for (const v of want.versions) {
          const events = (await history(id, v))?.history.map((h) => h.event) ?? [];
          const published = events.filter((e) => e === 'published').length;
          const silent = events.filter((e) => e === 'silent-update').length;
          if (published === 0) lost.push(`article ${id} v${v}: never published in the store`);
          if (published > 1) duplicates.push(`article ${id} v${v}: published ${published} times in the store`);
          const wantSilent = want.silent.includes(v) ? 1 : 0;
          if (silent < wantSilent) lost.push(`article ${id} v${v}: no silent update in the store`);
          if (silent > wantSilent) duplicates.push(`article ${id} v${v}: ${silent} silent updates in the store`);
        }
      }
      return { outcomes, lost, duplicates };
    },
    stop() {
      stopped = true;
    },
    async close() {
      await store.close();
      delete process.env.ARTICLE_STORE_TOKEN;
    },
  };
}
