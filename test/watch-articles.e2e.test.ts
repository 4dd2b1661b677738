// The article watch (`watch-articles`): its activity alone on a folder with a recording client
// (the cursor's rules: order, the boundary, settling, refusals, pages, another location), then
// the whole system — the schedule triggered run after run sends each package dropped into the
// folder to its article once, and the articles publish them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { ScheduleOverlapPolicy } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createWatchArticlesActivities } from '../activities/watch-articles';
import type { ActivityDeps } from '../activities';
import { articleStateQuery, articleWorkflowId, type ArticlePackage, type ArticleState } from '../common/articles';
import { WATCH_ARTICLES_SCHEDULE, type WatchArticlesResult, type WatchCursor, type WatchPage } from '../common/watch-articles';
import { defaultConfig, type Config } from '../config/config';
import { generateArticles } from '../examples/generate-articles';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { createSchedules } from '../starters/schedules';
import { openStorage } from '../storage';
import { openLedger } from '../ledger';
import { putBytes } from '../storage/small-objects';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { startTestS3 } from './support/s3-server';

const V1 = 'elife-00353-vor-v1-20121213000000.zip';
const V2 = 'elife-00353-vor-v2-20130115000000.zip';
const SECOND = 'elife-99353-vor-v1-20130301000000.zip';

/** Sets a file's modified time (and access time) to `at`. */
function touch(file: string, at: Date, content?: string): void {
  if (content !== undefined) fs.writeFileSync(file, content);
  fs.utimesSync(file, at, at);
}

/** The watch reads only the drain flag of the ledger; `drain` below runs it on a real one. */
const NOT_DRAINED = { drain: { state: async () => undefined } };

describe('the article watch', function () {
  this.timeout(300_000);

  describe('its activity, on a folder', () => {
    let root: string;
    let incoming: string;
    let config: Config;
    let sent: ArticlePackage[];
    let send: ReturnType<typeof createWatchArticlesActivities>['sendNewPackages'];
    let client: Client;
    // An hour ago: settled, whatever the settle time of the test.
    const base = Date.now() - 3600_000;
    const at = (s: number) => new Date(base + s * 1000);

    beforeEach(() => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-watch-'));
      incoming = path.join(root, 'incoming');
      fs.mkdirSync(incoming);
      const defaults = defaultConfig(root);
      config = {
        ...defaults,
        articles: { ...defaults.articles, source: incoming },
        schedules: { ...defaults.schedules, watchArticles: { every: '1h', catchupWindow: '1h', settleTime: '10m' } },
      };
      sent = [];
      client = {
        workflow: {
          signalWithStart: async (_type: string, o: { signalArgs: [ArticlePackage] }) => void sent.push(o.signalArgs[0]),
        },
      } as unknown as Client;
      send = createWatchArticlesActivities({ config, ledger: NOT_DRAINED } as unknown as ActivityDeps, client).sendNewPackages;
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const run = (cursor: WatchCursor | undefined, limit = 100): Promise<WatchPage> =>
      new MockActivityEnvironment().run(send, { cursor, since: new Date(0).toISOString(), limit });

    it('holds what it finds while custody is drained (resume sends it), moving the cursor past it', async () => {
      const ledger = openLedger(path.join(root, 'ledger.sqlite'));
      try {
        await ledger.migrate();
        await ledger.drain.set({ since: new Date().toISOString(), by: 'operator@test', reason: 'maintenance' });
        touch(path.join(incoming, V1), at(1), 'v1');
        const drainedSend = createWatchArticlesActivities({ config, ledger } as unknown as ActivityDeps, client).sendNewPackages;
        const page: WatchPage = await new MockActivityEnvironment().run(drainedSend, { cursor: undefined, since: new Date(0).toISOString(), limit: 100 });
        assert.deepEqual(sent, [], 'no workflow signalled');
        assert.deepEqual(page.cursor.keys, [V1], 'the cursor is past it');
        assert.deepEqual(
          page.sent.map((p) => p.key),
          [V1],
        );
        assert.deepEqual(
          (await ledger.drain.held()).map((w) => [w.kind, (w.args as ArticlePackage).key]),
          [['article', V1]],
        );
      } finally {
        await ledger.close();
      }
    });

    it('sends what arrived after the cursor in time order, a key at its exact time included, each once', async () => {
      touch(path.join(incoming, V2), at(1), 'v2');
      touch(path.join(incoming, V1), at(2), 'v1');
      const first = await run(undefined);
      assert.deepEqual(
        first.sent.map((s) => [s.key, s.articleId, s.version]),
        [
          [V2, '00353', 2],
          [V1, '00353', 1],
        ],
        'oldest first',
      );
      assert.deepEqual(first.cursor, { location: incoming, modifiedAt: at(2).toISOString(), keys: [V1] });
      assert.deepEqual(
        sent.map((p) => [p.location, p.key, p.etag, p.fedBy.replace(/@.*/, '')]),
        [
          [incoming, V2, `2:${at(1).toISOString()}`, 'schedule watch-articles'],
          [incoming, V1, `2:${at(2).toISOString()}`, 'schedule watch-articles'],
        ],
      );

      // Written in the same millisecond as the newest one handled: after the cursor, all the same.
      touch(path.join(incoming, SECOND), at(2), 'second');
      const second = await run(first.cursor);
      assert.deepEqual(
        second.sent.map((s) => s.key),
        [SECOND],
      );
      assert.deepEqual(second.cursor, { location: incoming, modifiedAt: at(2).toISOString(), keys: [V1, SECOND] });

      const third = await run(second.cursor);
      assert.deepEqual([third.sent, third.refused, third.cursor], [[], [], second.cursor], 'nothing new: nothing sent');
      assert.equal(sent.length, 3);
    });

    it('reports a key that is not a package name once, with its reason, and moves past it', async () => {
      touch(path.join(incoming, 'notes.txt'), at(1), 'not a package');
      touch(path.join(incoming, 'elife-00353-vor-v01.zip'), at(2), 'a leading zero');
      touch(path.join(incoming, V1), at(3), 'v1');
      const first = await run(undefined);
      assert.deepEqual(
        first.sent.map((s) => s.key),
        [V1],
      );
      assert.deepEqual(
        first.refused.map((r) => r.key),
        ['notes.txt', 'elife-00353-vor-v01.zip'],
      );
      for (const r of first.refused) assert.match(r.reason, /notes\.txt|v01/, 'the reason names the key');
      const again = await run(first.cursor);
      assert.deepEqual([again.sent, again.refused], [[], []], 'not retried');
    });

    it('leaves objects changed within the settle time for a later run, without moving the cursor past them', async () => {
      touch(path.join(incoming, V1), at(1), 'v1');
      fs.writeFileSync(path.join(incoming, V2), 'v2, still being written');
      const first = await run(undefined);
      assert.deepEqual([first.sent.map((s) => s.key), first.settling], [[V1], 1]);
      touch(path.join(incoming, V2), at(5));
      const second = await run(first.cursor);
      assert.deepEqual([second.sent.map((s) => s.key), second.settling], [[V2], 0]);
    });

    it('takes a page at a time, and the next page goes on where the last one stopped', async () => {
      touch(path.join(incoming, V1), at(1), 'v1');
      touch(path.join(incoming, SECOND), at(1), 'second');
      touch(path.join(incoming, V2), at(1), 'v2');
      const pages = [await run(undefined, 2)];
      assert.equal(pages[0].more, true);
      pages.push(await run(pages[0].cursor, 2));
      assert.equal(pages[1].more, false);
      assert.deepEqual(
        pages.map((p) => p.sent.map((s) => s.key)),
        [[V1, V2], [SECOND]],
        'one time, in key order',
      );
    });

    it('does not use the cursor of another location: a new source starts from the beginning', async () => {
      touch(path.join(incoming, V1), at(1), 'v1');
      const page = await run({ location: 's3://elsewhere/incoming', modifiedAt: at(10).toISOString(), keys: [] });
      assert.deepEqual(
        page.sent.map((s) => s.key),
        [V1],
      );
    });
  });

  describe('its activity, on S3 (modified times to the second)', () => {
    it('sends an object put after the newest one handled (as a rule in the same second), and nothing twice', async () => {
      const s3 = await startTestS3();
      const location = `s3://${await s3.bucket('watch')}/incoming`;
      const storage = openStorage(location, s3.options);
      const defaults = defaultConfig(os.tmpdir());
      const config: Config = {
        ...defaults,
        storage: { ...defaults.storage, s3: { ...defaults.storage.s3, ...s3.options } },
        articles: { ...defaults.articles, source: location },
        schedules: { ...defaults.schedules, watchArticles: { every: '1h', catchupWindow: '1h', settleTime: '1ms' } },
      };
      const sent: string[] = [];
      const client = {
        workflow: { signalWithStart: async (_type: string, o: { signalArgs: [ArticlePackage] }) => void sent.push(o.signalArgs[0].key) },
      } as unknown as Client;
      const send = createWatchArticlesActivities({ config, ledger: NOT_DRAINED } as unknown as ActivityDeps, client).sendNewPackages;
      const run = (cursor?: WatchCursor): Promise<WatchPage> =>
        new MockActivityEnvironment().run(send, { cursor, since: new Date(0).toISOString(), limit: 100 });

      await putBytes(storage, V1, Buffer.from('v1'));
      await putBytes(storage, SECOND, Buffer.from('second'));
      const first = await run();
      assert.equal(first.cursor.location, location);
      assert.match(first.cursor.modifiedAt, /\.000Z$/, 'S3 gives whole seconds');
      await putBytes(storage, V2, Buffer.from('v2'));
      const second = await run(first.cursor);
      const third = await run(second.cursor);
      assert.deepEqual([second.sent.map((s) => s.key), third.sent], [[V2], []]);
      assert.deepEqual(sent, [V1, SECOND, V2], 'each once');
    });
  });

  describe('the schedule, on the whole system', () => {
    let sys: CustodySystem;
    let store: RunningArticleStore;
    let incoming: string;
    let packages: string;

    before(async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-watch-system-'));
      store = await startArticleStore({ port: 0, dataDir: path.join(root, 'store') });
      incoming = path.join(root, 'incoming');
      packages = path.join(root, 'packages');
      fs.mkdirSync(incoming);
      await generateArticles(packages);
      sys = await startCustodySystem({
        config: {
          articles: {
            source: incoming,
            site: path.join(root, 'site'),
            siteUrl: 'http://site.example.org',
            store: { url: store.url },
            defaultMode: 'automatic',
          },
          // Only the test's triggers run it; objects an hour old are settled.
          schedules: { watchArticles: { every: '24h', catchupWindow: '1m', settleTime: '10m' } },
        },
      });
    });
    after(async () => {
      await sys?.close();
      await store?.close();
    });

    /** Triggers the schedule (paused: only the triggers run it) and returns the result of the run it started. */
    async function triggerAndWait(runsBefore: number): Promise<WatchArticlesResult> {
      const schedule = sys.client.schedule.getHandle(WATCH_ARTICLES_SCHEDULE);
      await schedule.trigger(ScheduleOverlapPolicy.SKIP);
      for (;;) {
        const { info } = await schedule.describe();
        if (info.recentActions.length > runsBefore) {
          const { workflow } = info.recentActions[runsBefore].action;
          return (await sys.client.workflow.getHandle(workflow.workflowId, workflow.firstExecutionRunId).result()) as WatchArticlesResult;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    async function until(articleId: string, done: (s: ArticleState) => boolean): Promise<ArticleState> {
      const deadline = Date.now() + 180_000;
      for (;;) {
        const s = await sys.client.workflow
          .getHandle(articleWorkflowId(articleId))
          .query(articleStateQuery)
          .catch(() => undefined);
        if (s && done(s)) return s;
        if (Date.now() > deadline) throw new Error(`${articleId} never got there; last state ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    }

    /** The packages the article's workflow was sent, by key, from its history. */
    async function packagesReceived(handle: WorkflowHandle): Promise<string[]> {
      const history = await handle.fetchHistory();
      return (history.events ?? []).flatMap((e) => {
        const a = e.workflowExecutionSignaledEventAttributes;
        if (a?.signalName !== 'articlePackage') return [];
        const payload = a.input?.payloads?.[0]?.data;
        return payload ? [(JSON.parse(Buffer.from(payload).toString()) as ArticlePackage).key] : [];
      });
    }

    it('sends each package dropped into the folder to its article once, run after run; a refused key is reported once', async () => {
      const oneHourAgo = Date.now() - 3600_000;
      const drop = (file: string, at: number) => {
        fs.copyFileSync(path.join(packages, file), path.join(incoming, file));
        touch(path.join(incoming, file), new Date(at));
      };
      drop(V1, oneHourAgo);
      drop(SECOND, oneHourAgo + 1000);
      touch(path.join(incoming, 'README.txt'), new Date(oneHourAgo + 1000), 'not a package');

      await createSchedules(sys.client, sys.config);
      await sys.client.schedule.getHandle(WATCH_ARTICLES_SCHEDULE).pause('only the test triggers it');
      const first = await triggerAndWait(0);
      assert.deepEqual([first.sent, first.sentKeys], [2, [`${V1} (00353 v1)`, `${SECOND} (99353 v1)`]]);
      assert.equal(first.refusedCount, 1);
      assert.equal(first.refused[0].key, 'README.txt');
      assert.match(first.refused[0].reason, /README\.txt/);
      assert.deepEqual(first.cursor, { location: incoming, modifiedAt: new Date(oneHourAgo + 1000).toISOString(), keys: ['README.txt', SECOND] });
      await until('00353', (s) => s.published?.version === 1 && s.stage === 'waiting');

      // v2 arrives with the very modified time of the newest package handled; the first run's
      // packages and the refused key are behind the cursor (the last run's result).
      drop(V2, oneHourAgo + 1000);
      const second = await triggerAndWait(1);
      assert.deepEqual([second.sent, second.sentKeys, second.refusedCount], [1, [`${V2} (00353 v2)`], 0]);
      const third = await triggerAndWait(2);
      assert.deepEqual([third.sent, third.refusedCount], [0, 0], 'nothing new');

      const published = await until('00353', (s) => s.published?.version === 2 && s.stage === 'waiting');
      assert.equal(published.published?.status, 'vor');
      await until('99353', (s) => s.published?.version === 1 && s.stage === 'waiting');
      const answer = (await (await fetch(`${store.url}/articles/00353`)).json()) as { version: number; record: { title: string } };
      assert.deepEqual([answer.version, answer.record.title], [2, 'A good life in science']);

      assert.deepEqual(await packagesReceived(sys.client.workflow.getHandle(articleWorkflowId('00353'))), [V1, V2], '00353: each package sent once');
      assert.deepEqual(await packagesReceived(sys.client.workflow.getHandle(articleWorkflowId('99353'))), [SECOND], '99353: sent once');
      for (const [articleId, keys] of [
        ['00353', [V1, V2]],
        ['99353', [SECOND]],
      ] as const) {
        const fetched = (await sys.ledger.timeline(`article:${articleId}`)).filter((e) => e.kind === 'article-fetching');
        assert.deepEqual(
          fetched.map((e) => (e.detail as { message: string }).message.split(' ')[1]),
          keys,
          `${articleId}: each package fetched once, in the ledger's timeline`,
        );
      }
    });
  });
});
