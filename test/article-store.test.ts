// The reference article store, started in-process on its own data folder and used as the
// publishing pipeline uses it (through the client) and as an operator would (plain HTTP): ingest,
// publish, silent update, refusals with reasons, a token, a restart, requests at once, faults.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';
import {
  ArticleStoreClient,
  ArticleStoreRefused,
  ArticleStoreUnavailable,
  articleStoreClient,
  type ArticleRecord,
  type ArticleVersion,
} from '../articles/article-store-client';
import { DEFAULT_PORT, UsageError, parseArticleStoreArgs } from '../reference-article-store/main';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';

const sha = (c: string) => c.repeat(64);

/** The record of eLife 00353 as the pipeline would ingest it, with its outputs under the preview prefix. */
function record(id: string, version: number, overrides: Partial<ArticleRecord> = {}): ArticleRecord {
  const preview = `https://preview.example.org/articles/${id}/v${version}`;
  return {
    id,
    version,
    status: 'vor',
    title: 'A good life',
    doi: '10.7554/eLife.00353',
    authors: [{ name: 'Eve Marder', affiliations: ['Brandeis University'] }],
    dates: { published: '2012-12-13' },
    licence: 'http://creativecommons.org/licenses/by/3.0/',
    subjects: ['Living Science'],
    assets: [
      { name: `elife-${id}-v${version}.xml`, size: 9458, sha256: sha('a'), url: `${preview}/elife-${id}-v${version}.xml`, mediaType: 'application/xml' },
      { name: `elife-${id}-v${version}.pdf`, size: 936318, sha256: sha('b'), url: `${preview}/elife-${id}-v${version}.pdf`, mediaType: 'application/pdf' },
    ],
    previewUrl: `${preview}/`,
    ...overrides,
  };
}

interface Raw {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** A request as curl would send it, answering the status, headers and JSON body. */
async function http(url: string, init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<Raw> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined || init.rawBody !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const refused = (status: number, code: string, message?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ArticleStoreRefused, `expected ArticleStoreRefused, got ${String(e)}`);
  assert.equal(e.status, status, e.message);
  assert.equal(e.code, code, e.message);
  assert.equal(e.retryable, false);
  if (message) assert.match(e.message, message);
  return true;
};

const unavailable = (message: RegExp, status?: number) => (e: unknown) => {
  assert.ok(e instanceof ArticleStoreUnavailable, `expected ArticleStoreUnavailable, got ${String(e)}`);
  assert.equal(e.retryable, true);
  assert.equal(e.status, status, e.message);
  assert.match(e.message, message);
  return true;
};

describe('reference article store', function () {
  this.timeout(30_000);
  let root: string;
  let dataDir: string;
  let store: RunningArticleStore;
  let client: ArticleStoreClient;
  const start = async () => {
    store = await startArticleStore({ port: 0, dataDir });
    client = articleStoreClient({ url: store.url, timeoutMs: 10_000 });
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-article-store-test-'));
    dataDir = path.join(root, 'store');
    await start();
  });
  after(async () => {
    await store.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  describe('one article through its life', () => {
    const id = '00353';
    let published: ArticleVersion;

    it('ingests a version: kept unpublished with its history, not yet what the article answers', async () => {
      const first = await client.ingest(record(id, 1));
      assert.equal(first.outcome, 'created');
      assert.deepEqual(first.version.record, record(id, 1));

      const v1 = await client.getVersion(id, 1);
      assert.ok(v1);
      assert.equal(v1.state, 'unpublished');
      assert.equal(v1.publishedAt, undefined);
      assert.deepEqual(v1.record, record(id, 1));
      assert.deepEqual(
        v1.history.map((h) => h.event),
        ['ingested'],
      );

      assert.equal(await client.get(id), undefined, 'an article with no published version is not served');
      const raw = await http(`${store.url}/articles/${id}`);
      assert.equal(raw.status, 404);
      assert.equal(raw.body.code, 'not-published');
      assert.match(String(raw.body.error), /^article 00353 has no published version yet \(unpublished: version 1\)$/);
      assert.deepEqual((await client.list()).find((a) => a.id === id)?.latestPublishedVersion, null);
    });

    it('takes the same record again as unchanged, and a changed one as a replacement naming the fields', async () => {
      const again = await http(`${store.url}/articles/${id}/versions/1`, { method: 'PUT', body: record(id, 1) });
      assert.equal(again.status, 200);
      assert.equal(again.body.outcome, 'unchanged');
      assert.equal((await client.getVersion(id, 1))?.history.length, 1, 'a retried ingest leaves no trace');

      const first = await http(`${store.url}/articles/${id}/versions/1`, { method: 'PUT', body: record('other-new', 1) });
      assert.equal(first.status, 400, 'the path and the body must name the same article');
      const replaced = await client.ingest(record(id, 1, { title: 'A good life (corrected)' }));
      assert.equal(replaced.outcome, 'replaced');
      assert.deepEqual(replaced.changed, ['title']);
      await client.ingest(record(id, 1));
      const v1 = await client.getVersion(id, 1);
      assert.equal(v1?.record.title, 'A good life');
      assert.deepEqual(
        v1?.history.map((h) => [h.event, h.changed]),
        [
          ['ingested', undefined],
          ['replaced', ['title']],
          ['replaced', ['title']],
        ],
      );
    });

    it('publishes it; the article then answers that version', async () => {
      const answer = await client.publish(id, 1);
      assert.equal(answer.outcome, 'published');
      published = answer.version;
      assert.equal(published.state, 'published');
      assert.ok(published.publishedAt && Date.parse(published.publishedAt) <= Date.now());
      assert.equal(published.history.at(-1)?.event, 'published');
      assert.deepEqual(await client.get(id), published);
      assert.deepEqual(await client.getVersion(id, 1), published);
      const listed = (await client.list()).find((a) => a.id === id);
      assert.equal(listed?.latestPublishedVersion, 1);
      assert.equal(listed?.publishedAt, published.publishedAt);
    });

    it('answers a second publish with 200 and the same record (a retried activity is safe)', async () => {
      const raw = await http(`${store.url}/articles/${id}/versions/1/publish`, { method: 'POST' });
      assert.equal(raw.status, 200);
      assert.equal(raw.body.outcome, 'already-published');
      assert.deepEqual(raw.body.version, published);
      assert.deepEqual((await client.publish(id, 1)).version, published);
    });

    it('refuses to re-ingest a published version with other content, saying a silent update must be marked', async () => {
      const raw = await http(`${store.url}/articles/${id}/versions/1`, { method: 'PUT', body: record(id, 1, { title: 'A better life' }) });
      assert.equal(raw.status, 409);
      assert.equal(raw.body.code, 'published');
      assert.equal(
        raw.body.error,
        `version 1 of article 00353 is published (at ${published.publishedAt}): re-ingesting it would change title of a published record; ` +
          'mark the request as a silent update (header X-Silent-Update: true) to replace it without a new version number',
      );
      await assert.rejects(client.ingest(record(id, 1, { title: 'A better life' })), refused(409, 'published', /is published .*silent update/));
      assert.deepEqual(await client.get(id), published, 'the published record is untouched');
      // The same record again would change nothing: it is answered, not refused.
      assert.equal((await client.ingest(record(id, 1))).outcome, 'unchanged');
    });

    it('accepts a silent update: the record changes, its version and publication date stay, its history says what changed', async () => {
      const fixedPdf = { ...record(id, 1).assets[1], size: 936400, sha256: sha('c') };
      const updated = record(id, 1, { title: 'A good life', assets: [record(id, 1).assets[0], fixedPdf], abstract: 'Following a career in science…' });
      const raw = await http(`${store.url}/articles/${id}/versions/1`, { method: 'PUT', body: updated, headers: { 'X-Silent-Update': 'true' } });
      assert.equal(raw.status, 200, JSON.stringify(raw.body));
      assert.equal(raw.body.outcome, 'silent-update');
      assert.deepEqual(raw.body.changed, ['abstract', 'assets']);

      const now = await client.get(id);
      assert.ok(now);
      assert.deepEqual(now.record, updated);
      assert.equal(now.version, 1);
      assert.equal(now.state, 'published');
      assert.equal(now.publishedAt, published.publishedAt);
      const last = now.history.at(-1);
      assert.equal(last?.event, 'silent-update');
      assert.deepEqual(last?.changed, ['abstract', 'assets']);
      assert.ok(last && Date.parse(last.at) >= Date.parse(published.publishedAt!));

      // Retried, it is one silent update, not two.
      assert.equal((await client.ingest(updated, { silentUpdate: true })).outcome, 'unchanged');
      assert.equal((await client.get(id))?.history.filter((h) => h.event === 'silent-update').length, 1);
    });

    it('refuses a silent update of a version that is not published, or was never ingested', async () => {
      await client.ingest(record(id, 2));
      await assert.rejects(
        client.ingest(record(id, 2, { title: 'x' }), { silentUpdate: true }),
        refused(409, 'not-published', /version 2 of article 00353 is not published/),
      );
      await assert.rejects(
        client.ingest(record(id, 9), { silentUpdate: true }),
        refused(404, 'version-not-found', /version 9 of article 00353 was never ingested/),
      );
      assert.equal(await client.getVersion(id, 9), undefined);
      const bad = await http(`${store.url}/articles/${id}/versions/2`, { method: 'PUT', body: record(id, 2), headers: { 'X-Silent-Update': 'yes' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'header X-Silent-Update: "yes" is not true or false');
    });

    it('publishes a newer version, then refuses to publish one older than it, naming both', async () => {
      await client.ingest(record(id, 3, { status: 'vor' }));
      const v3 = await client.publish(id, 3);
      assert.equal((await client.get(id))?.version, 3, 'the article answers its latest published version');
      await assert.rejects(
        client.publish(id, 2),
        refused(
          409,
          'older-than-published',
          new RegExp(
            `version 2 of article 00353 is older than version 3, published at ${v3.version.publishedAt}: a version older than the latest published one cannot be published`,
          ),
        ),
      );
      assert.equal((await client.getVersion(id, 2))?.state, 'unpublished');
      // Version 1 stays published, and publishing it again is still the same answer.
      assert.equal((await client.publish(id, 1)).outcome, 'already-published');
      const listed = (await client.list()).find((a) => a.id === id);
      assert.deepEqual(listed, {
        id,
        latestPublishedVersion: 3,
        publishedAt: v3.version.publishedAt,
        latestVersion: 3,
        versions: [
          { version: 1, state: 'published' },
          { version: 2, state: 'unpublished' },
          { version: 3, state: 'published' },
        ],
      });
      assert.deepEqual((await http(`${store.url}/articles/${id}/versions`)).body, listed, 'the versions route answers the same summary');
    });

    it('refuses to publish what was never ingested', async () => {
      await assert.rejects(client.publish('never-seen', 1), refused(404, 'article-not-found', /article never-seen was never ingested/));
      await assert.rejects(
        client.publish(id, 7),
        refused(404, 'version-not-found', /version 7 of article 00353 was never ingested \(ingested versions: 1, 2, 3\)/),
      );
      assert.equal(await client.get('never-seen'), undefined);
    });
  });

  describe('bad requests', () => {
    const put = (id: string, v: string, body: unknown, headers?: Record<string, string>) =>
      http(`${store.url}/articles/${id}/versions/${v}`, { method: 'PUT', body, headers });

    it('answers 400 naming the field: missing title, mismatched version, version not a number, unknown field, bad asset', async () => {
      const untitled: Partial<ArticleRecord> = record('bad-1', 1);
      delete untitled.title;
      const cases: Array<[Promise<Raw>, string]> = [
        [put('bad-1', '1', untitled), 'bad article record: title: is required'],
        [put('bad-1', '2', record('bad-1', 1)), 'version: the body says 1 but the path says 2'],
        [
          put('bad-1', '1', { id: 'bad-1', version: 1 }),
          'bad article record: status: is required; title: is required; authors: is required; dates: is required; licence: is required',
        ],
        [put('bad-1', 'one', record('bad-1', 1)), 'version in the path: "one" is not a whole number from 1 to 999999999'],
        [put('bad-1', '0', record('bad-1', 1)), 'version in the path: "0" is not a whole number from 1 to 999999999'],
        [put('bad-1', '1', { ...record('bad-1', 1), version: '1' }), 'bad article record: version: Invalid input: expected number, received string'],
        [put('bad-1', '1', { ...record('bad-1', 1), license: 'CC-BY' }), 'bad article record: record: unknown field "license"'],
        [put('bad-1', '1', { ...record('bad-1', 1), status: 'final' }), 'bad article record: status: Invalid option: expected one of "poa"|"vor"'],
        [
          put('bad-1', '1', record('bad-1', 1, { assets: [{ ...record('bad-1', 1).assets[0], sha256: 'abc' }] })),
          'bad article record: assets[0].sha256: must be 64 lowercase hex digits',
        ],
        [
          put('bad-1', '1', record('bad-1', 1, { assets: [record('bad-1', 1).assets[0], record('bad-1', 1).assets[0]] })),
          'bad article record: assets[1].name: "elife-bad-1-v1.xml" is listed twice',
        ],
        [
          put('bad-1', '1', record('bad-1', 1, { assets: [{ ...record('bad-1', 1).assets[0], name: '../../etc/passwd' }] })),
          'bad article record: assets[0].name: must be a relative path with "/" separators and no empty, "." or ".." segment',
        ],
        [
          put('bad-1', '1', record('bad-1', 1, { dates: { published: '13/12/2012' } })),
          'bad article record: dates.published: must be an ISO 8601 date (2012-12-13) or date-time (2012-12-13T10:00:00Z)',
        ],
        [put('bad/1', '1', record('bad-1', 1)), 'no such resource: /articles/bad/1/versions/1'],
        [
          put('.hidden', '1', record('.hidden', 1)),
          'article id in the path: ".hidden" may contain only letters, digits, ".", "_" and "-", and must start with a letter or digit',
        ],
      ];
      for (const [answer, message] of cases) {
        const { status, body } = await answer;
        assert.equal(body.error, message);
        assert.equal(status, message.startsWith('no such resource') ? 404 : 400, message);
      }
      const notJson = await http(`${store.url}/articles/bad-1/versions/1`, { method: 'PUT', rawBody: '{"id": "bad-1",' });
      assert.equal(notJson.status, 400);
      assert.match(String(notJson.body.error), /^the body is not JSON: /);
      const form = await http(`${store.url}/articles/bad-1/versions/1`, {
        method: 'PUT',
        rawBody: 'id=bad-1',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 415);
      assert.equal(form.body.error, 'content-type: "application/x-www-form-urlencoded" is not application/json: send the body as JSON');
      assert.equal(await client.getVersion('bad-1', 1), undefined, 'nothing refused was kept');
    });

    it('refuses a body over 1 MiB with 413, whether its length is declared or streamed, and serves on', async () => {
      const huge = record('big-1', 1, { abstract: 'x'.repeat(1024 * 1024) });
      const declared = await put('big-1', '1', huge);
      assert.equal(declared.status, 413);
      assert.equal(declared.body.error, 'the body is larger than 1048576 bytes, the most the store takes');
      const text = JSON.stringify(huge);
      const streamed = await fetch(`${store.url}/articles/big-1/versions/1`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream({
          start(c) {
            for (let i = 0; i < text.length; i += 64 * 1024) c.enqueue(new TextEncoder().encode(text.slice(i, i + 64 * 1024)));
            c.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(streamed.status, 413);
      assert.equal(((await streamed.json()) as { code: string }).code, 'too-large');
      await assert.rejects(client.ingest(huge), refused(413, 'too-large'));
      assert.equal(await client.getVersion('big-1', 1), undefined);
      assert.equal((await client.ingest(record('big-1', 1, { abstract: 'x'.repeat(900 * 1024) }))).outcome, 'created', 'a body under the limit is taken');
    });

    it('answers unknown routes 404 and wrong methods 405 with the allowed ones; the client does not take a wrong URL for a missing article', async () => {
      const nowhere = await http(`${store.url}/nowhere`);
      assert.equal(nowhere.status, 404);
      assert.equal(nowhere.body.code, 'no-such-route');
      const del = await http(`${store.url}/articles/00353/versions/1`, { method: 'DELETE' });
      assert.equal(del.status, 405);
      assert.equal(del.headers.get('allow'), 'GET, PUT');
      const wrongBase = articleStoreClient({ url: `${store.url}/api/v9` });
      await assert.rejects(wrongBase.get('00353'), refused(404, 'no-such-route'));
    });
  });

  describe('state on disk', () => {
    it('keeps every version, state and history across a close and a restart on the same data folder', async () => {
      await client.ingest(record('restart-1', 1));
      await client.publish('restart-1', 1);
      await client.ingest(record('restart-1', 1, { licence: 'CC-BY-4.0' }), { silentUpdate: true });
      await client.ingest(record('restart-1', 2));
      const file = path.join(dataDir, 'articles', 'restart-1.json');
      const written = fs.statSync(file).mtimeMs;
      await client.ingest(record('restart-2', 1));
      assert.equal(fs.statSync(file).mtimeMs, written, "a change to another article does not rewrite this one's file");
      const before = { list: await client.list(), v1: await client.getVersion('restart-1', 1), v2: await client.getVersion('restart-1', 2) };

      await store.close();
      await assert.rejects(client.get('restart-1'), unavailable(/^GET \/articles\/restart-1 at http:\/\/127\.0\.0\.1:\d+: cannot reach it: /));
      // A write a crash cut short leaves a temp file beside the article: the next start drops it.
      fs.writeFileSync(path.join(dataDir, 'articles', 'restart-1.json.999.1.tmp'), '{"id": "restart-1", "vers');
      await start();

      assert.deepEqual({ list: await client.list(), v1: await client.getVersion('restart-1', 1), v2: await client.getVersion('restart-1', 2) }, before);
      assert.equal((await client.get('restart-1'))?.record.licence, 'CC-BY-4.0');
      assert.equal((await client.publish('restart-1', 1)).outcome, 'already-published');
      assert.deepEqual(
        fs.readdirSync(path.join(dataDir, 'articles')).filter((f) => f.startsWith('restart-1')),
        ['restart-1.json'],
      );
    });

    it('refuses a second store on the same data folder while the first runs', async () => {
      await assert.rejects(startArticleStore({ port: 0, dataDir }), /data folder .* is in use by another reference service \(pid \d+\)/);
      assert.ok(await client.list(), 'the first one still serves');
    });

    it('refuses to start on an article file it cannot read, naming the file', async () => {
      const other = path.join(root, 'broken');
      fs.mkdirSync(path.join(other, 'articles'), { recursive: true });
      fs.writeFileSync(path.join(other, 'articles', 'x-1.json'), JSON.stringify({ id: 'x-1', versions: [{ version: 'one' }] }));
      await assert.rejects(startArticleStore({ port: 0, dataDir: other }), (e: Error) =>
        e.message.startsWith(`${path.join(other, 'articles', 'x-1.json')} is not an article store file: versions.0.`),
      );
    });
  });

  describe('requests at once', () => {
    it('loses nothing when many versions of one article are ingested and published at the same moment', async () => {
      const id = 'busy-1';
      const versions = Array.from({ length: 25 }, (_, i) => i + 1);
      const ingested = await Promise.all(versions.map((v) => client.ingest(record(id, v))));
      assert.deepEqual(
        ingested.map((r) => r.outcome),
        versions.map(() => 'created'),
      );
      // Ten publishes of one version at once: one publishes, nine find it published.
      const publishes = await Promise.all(Array.from({ length: 10 }, () => client.publish(id, 5)));
      assert.equal(publishes.filter((p) => p.outcome === 'published').length, 1);
      assert.equal(publishes.filter((p) => p.outcome === 'already-published').length, 9);
      assert.equal(new Set(publishes.map((p) => p.version.publishedAt)).size, 1);
      // Silent updates of one published version with different fields, and ingests of new versions, at once.
      await Promise.all([
        client.ingest(record(id, 5, { title: 'T' }), { silentUpdate: true }).catch(() => undefined),
        ...versions.map((v) => client.ingest(record(id, v + 100))),
      ]);

      await store.close();
      await start();
      const summary = (await client.list()).find((a) => a.id === id);
      assert.deepEqual(
        summary?.versions.map((v) => v.version),
        [...versions, ...versions.map((v) => v + 100)],
      );
      const v5 = await client.getVersion(id, 5);
      assert.deepEqual(
        v5?.history.map((h) => h.event),
        ['ingested', 'published', 'silent-update'],
      );
      assert.equal(v5?.record.title, 'T');
    });

    it('serialises publishes of different versions at once: the article ends on the newest, none is published after a newer one', async () => {
      const id = 'busy-2';
      for (const v of [1, 2, 3, 4, 5, 6]) await client.ingest(record(id, v));
      const outcomes = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((v) => client.publish(id, v)));
      assert.equal(outcomes[5].status, 'fulfilled', 'the newest is never refused');
      assert.equal((await client.get(id))?.version, 6);
      // Whatever order they ran in, no version was published after a newer one.
      const published = (await Promise.all([1, 2, 3, 4, 5, 6].map((v) => client.getVersion(id, v)))).filter((v) => v?.state === 'published');
      for (const a of published)
        for (const b of published)
          if (a!.version < b!.version) assert.ok(a!.publishedAt! <= b!.publishedAt!, `version ${a!.version} was published after version ${b!.version}`);
      for (const v of published) assert.equal(v!.history.filter((h) => h.event === 'published').length, 1);
      for (const [i, o] of outcomes.entries()) if (o.status === 'rejected') assert.ok(refused(409, 'older-than-published')(o.reason), `version ${i + 1}`);
    });
  });

  describe('fault switch', () => {
    afterEach(async () => {
      await http(`${store.url}/_faults`, { method: 'DELETE' });
    });

    it('answers 503 to the next N requests, then serves again', async () => {
      const set = await http(`${store.url}/_faults`, { method: 'POST', body: { unavailable: 2 } });
      assert.deepEqual(set.body, { unavailable: 2 });
      await assert.rejects(client.get('00353'), unavailable(/GET \/articles\/00353 at .*: 503: the article store is unavailable/, 503));
      const raw = await http(`${store.url}/articles/00353`);
      assert.equal(raw.status, 503);
      assert.equal(raw.headers.get('retry-after'), '1');
      assert.deepEqual((await http(`${store.url}/_faults`)).body, {}, 'used up');
      assert.equal((await client.get('00353'))?.version, 3);
    });

    it('a 503 changes nothing: the retried ingest creates the version once', async () => {
      await http(`${store.url}/_faults`, { method: 'POST', body: { unavailable: 1 } });
      await assert.rejects(client.ingest(record('fault-1', 1)), unavailable(/503/, 503));
      assert.equal(await client.getVersion('fault-1', 1), undefined);
      assert.equal((await client.ingest(record('fault-1', 1))).outcome, 'created');
    });

    it('drops the connection before or after carrying a request out; a retried publish after a lost answer finds it published', async () => {
      await client.ingest(record('fault-2', 1));
      await http(`${store.url}/_faults`, { method: 'POST', body: { resetBefore: 1 } });
      await assert.rejects(client.publish('fault-2', 1), unavailable(/POST \/articles\/fault-2\/versions\/1\/publish at .*: cannot reach it/));
      assert.equal((await client.getVersion('fault-2', 1))?.state, 'unpublished');

      await http(`${store.url}/_faults`, { method: 'POST', body: { resetAfter: 1 } });
      await assert.rejects(client.publish('fault-2', 1), unavailable(/cannot reach it/));
      assert.equal((await client.getVersion('fault-2', 1))?.state, 'published', 'carried out, though the answer was lost');
      const retried = await client.publish('fault-2', 1);
      assert.equal(retried.outcome, 'already-published');
      assert.equal(retried.version.history.filter((h) => h.event === 'published').length, 1);
    });

    it('delays answers: a client with a shorter timeout gives up as unavailable, the next request is served', async () => {
      await http(`${store.url}/_faults`, { method: 'POST', body: { delayMs: 3000, delayed: 1 } });
      const impatient = articleStoreClient({ url: store.url, timeoutMs: 200 });
      await assert.rejects(impatient.get('00353'), unavailable(/GET \/articles\/00353 at .*: no answer within 200 ms/));
      assert.equal((await impatient.get('00353'))?.version, 3);
    });

    it('refuses a bad fault plan, naming the field', async () => {
      const bad = await http(`${store.url}/_faults`, { method: 'POST', body: { unavailable: -1, explode: true } });
      assert.equal(bad.status, 400);
      assert.match(String(bad.body.error), /^bad fault plan: unavailable: .*; record: unknown field "explode"$/);
    });
  });
});

describe('reference article store with a token', function () {
  this.timeout(30_000);
  const token = 's3cret-token-value';
  let dataDir: string;
  let store: RunningArticleStore;

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-article-store-token-'));
    store = await startArticleStore({ port: 0, dataDir, token });
  });
  after(async () => {
    await store.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers 401 without the token or with a wrong one, on every route, and never echoes a token', async () => {
    for (const [url, init] of [
      [`${store.url}/articles`, {}],
      [`${store.url}/articles/t-1/versions/1`, { method: 'PUT', body: record('t-1', 1) }],
      [`${store.url}/_faults`, { method: 'POST', body: { unavailable: 5 } }],
      [`${store.url}/healthz`, {}],
    ] as const) {
      const none = await http(url, init);
      assert.equal(none.status, 401, url);
      assert.equal(none.body.error, 'no bearer token: send Authorization: Bearer <token>');
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="article store"');
      const wrong = await http(url, { ...init, headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'the bearer token is wrong: send Authorization: Bearer <token>');
    }
    const wrongClient = articleStoreClient({ url: store.url, token: 'not-the-token' });
    await assert.rejects(
      wrongClient.list(),
      (e: Error) => refused(401, 'unauthorized')(e) && !e.message.includes('not-the-token') && !e.stack!.includes('not-the-token'),
    );
  });

  it('serves the client that sends it', async () => {
    const client = articleStoreClient({ url: store.url, token });
    assert.equal((await client.ingest(record('t-1', 1))).outcome, 'created');
    assert.equal((await client.publish('t-1', 1)).version.state, 'published');
    assert.equal((await client.get('t-1'))?.record.title, 'A good life');
    assert.deepEqual(
      (await client.list()).map((a) => a.id),
      ['t-1'],
    );
    assert.equal((await http(`${store.url}/articles`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });
});

describe('reference article store process (main.ts)', function () {
  this.timeout(30_000);
  const main = path.join(REPO_ROOT, 'reference-article-store', 'main.ts');

  it('takes its options from the command line, then the environment, and names a bad one', () => {
    assert.deepEqual(parseArticleStoreArgs(['--data', '/tmp/s'], {}), { port: DEFAULT_PORT, dataDir: '/tmp/s', token: undefined });
    assert.deepEqual(
      parseArticleStoreArgs(['--port', '0'], {
        REFERENCE_ARTICLE_STORE_DATA_DIR: '/tmp/e',
        REFERENCE_ARTICLE_STORE_PORT: '9',
        REFERENCE_ARTICLE_STORE_TOKEN: 'tok',
      }),
      { port: 0, dataDir: '/tmp/e', token: 'tok' },
    );
    const fails = (argv: string[], env: NodeJS.ProcessEnv, message: string) =>
      assert.throws(
        () => parseArticleStoreArgs(argv, env),
        (e: Error) => e instanceof UsageError && e.message === message,
      );
    fails(['--port', 'eighty', '--data-dir', '/tmp/s'], {}, 'bad --port: must be a whole number');
    fails([], {}, 'bad --data-dir (or REFERENCE_ARTICLE_STORE_DATA_DIR): is required');
    fails([], { REFERENCE_ARTICLE_STORE_DATA_DIR: '' }, 'bad REFERENCE_ARTICLE_STORE_DATA_DIR: must not be empty');
    fails(['--data-dir', '/a', '--data', '/b'], {}, 'give --data-dir or --data, not both');
    fails(['--data-dir', '/a'], { REFERENCE_ARTICLE_STORE_TOKEN: '' }, 'bad REFERENCE_ARTICLE_STORE_TOKEN: must not be empty when set');
  });

  it('announces its URL, serves with the token from the environment, and stops cleanly on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-article-store-main-'));
    const token = 'main-test-token';
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', main, '--port', '0', '--data', dataDir], {
        cwd: REPO_ROOT,
        env: { ...process.env, REFERENCE_ARTICLE_STORE_TOKEN: token },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let output = '';
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const line = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          output += d.toString();
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.on('exit', (code) => reject(new Error(`exited with ${code} before it listened: ${output}`)));
      });
      const m = /^reference article store listening on (http:\/\/127\.0\.0\.1:\d+), data in (.+), bearer token required$/.exec(line);
      assert.ok(m, line);
      assert.equal(m[2], dataDir);
      const client = articleStoreClient({ url: m[1], token });
      await client.ingest(record('main-1', 1));
      assert.equal((await client.getVersion('main-1', 1))?.state, 'unpublished');
      assert.equal((await http(`${m[1]}/healthz`)).status, 401);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.ok(!output.includes(token), 'the token is never printed');
      assert.ok(fs.existsSync(path.join(dataDir, 'articles', 'main-1.json')));
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
