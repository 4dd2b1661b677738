// The reference article store: where custody's publishing pipeline ingests each version of an
// article, publishes it once approved, and silently updates a published one. An HTTP JSON API
// (README.md beside this file), its state in one file per article under the data folder, so
// it survives a restart. Shipped so the demo and the tests run the pipeline against a real store.
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import {
  SILENT_UPDATE_HEADER,
  articleIdSchema,
  articleRecordSchema,
  type ArticleStoreErrorBody,
  type ArticleStoreErrorCode,
  type ArticleSummary,
} from '../common/article-store';
import { BodyRefused, bearerToken, readJsonBody, sameSecret, serveHttp, withDataFolder } from '../reference-service/http-service';
import { faultPlanSchema, Faults } from './faults';
import { ArticleFiles, latestPublished, type StoredArticle } from './store';
import { Refusal, ingest, publish } from './versions';

export interface ArticleStoreOptions {
  /** 0 takes a free port. */
  port: number;
  dataDir: string;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** 127.0.0.1 unless given. */
  host?: string;
  /** Larger request bodies are refused with 413. 1 MiB unless given. */
  maxBodyBytes?: number;
}

export interface RunningArticleStore {
  url: string;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const VERSION_IN_PATH = /^[1-9]\d{0,8}$/;

/** "assets[0].sha256" for the path ["assets", 0, "sha256"]. */
function fieldName(p: readonly PropertyKey[]): string {
  return p.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const at = i.path.length ? fieldName(i.path) : 'record';
      if (i.code === 'unrecognized_keys') return `${at}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${at}: ${i.message}`;
    })
    .join('; ');
}

/** Missing fields read "is required" rather than "expected string, received undefined". */
const requiredMessage = (iss: z.core.$ZodRawIssue) => (iss.input === undefined && iss.code !== 'custom' ? 'is required' : undefined);

function parsePathId(raw: string): string {
  const parsed = articleIdSchema.safeParse(raw);
  if (!parsed.success) throw new Refusal(400, 'bad-request', `article id in the path: "${raw}" ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

function parsePathVersion(raw: string): number {
  if (!VERSION_IN_PATH.test(raw)) throw new Refusal(400, 'bad-request', `version in the path: "${raw}" is not a whole number from 1 to 999999999`);
  return Number(raw);
}

function parseSilentUpdate(req: http.IncomingMessage): boolean {
  const value = req.headers[SILENT_UPDATE_HEADER.toLowerCase()];
  if (value === undefined) return false;
  const v = String(value).trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Refusal(400, 'bad-request', `header ${SILENT_UPDATE_HEADER}: "${String(value)}" is not true or false`);
}

/** The request body as JSON, refused with 413 past `limit` bytes and 415 when it is not JSON. */
async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(type))
    throw new Refusal(415, 'unsupported-media-type', `content-type: "${type}" is not application/json: send the body as JSON`);
  try {
    return await readJsonBody(req, limit);
  } catch (e) {
    if (!(e instanceof BodyRefused)) throw e;
    throw e.status === 413 ? new Refusal(413, 'too-large', `${e.message}, the most the store takes`) : new Refusal(400, 'bad-request', e.message);
  }
}

function summaryOf(article: StoredArticle): ArticleSummary {
  const published = latestPublished(article);
  return {
    id: article.id,
    latestPublishedVersion: published?.version ?? null,
    publishedAt: published?.publishedAt ?? null,
    latestVersion: Math.max(...article.versions.map((v) => v.version)),
    versions: article.versions.map((v) => ({ version: v.version, state: v.state })),
  };
}

export async function startArticleStore(opts: ArticleStoreOptions): Promise<RunningArticleStore> {
  return await withDataFolder(opts.dataDir, (release) => serve(opts, release));
}

async function serve(opts: ArticleStoreOptions, release: () => void): Promise<RunningArticleStore> {
  const files = new ArticleFiles(path.join(opts.dataDir, 'articles'));
  const faults = new Faults();
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const closing = new AbortController();
  const now = () => new Date().toISOString();

  /** Answers one request; every route's outcome, refusal or failure is an answer with a JSON body. */
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let dropAnswer = false;
    const send = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      if (dropAnswer) return void req.socket.destroy();
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, code: ArticleStoreErrorCode, error: string, headers?: http.OutgoingHttpHeaders) =>
      send(status, { error, code } satisfies ArticleStoreErrorBody, headers);
    const method = req.method ?? 'GET';
    let pathname = '';
    try {
      pathname = new URL(req.url ?? '/', 'http://store').pathname;
      if (opts.token !== undefined) {
        const given = bearerToken(req);
        if (given === undefined || !sameSecret(given, opts.token))
          return refuse(
            401,
            'unauthorized',
            `${req.headers.authorization ? 'the bearer token is wrong' : 'no bearer token'}: send Authorization: Bearer <token>`,
            {
              'www-authenticate': 'Bearer realm="article store"',
            },
          );
      }
      const allow = (...methods: string[]) => {
        if (!methods.includes(method))
          throw new Refusal(405, 'method-not-allowed', `${method} ${pathname}: allowed are ${methods.join(', ')}`, { allow: methods.join(', ') });
      };
      if (pathname === '/healthz') {
        allow('GET');
        return send(200, { ok: true });
      }
      if (pathname === '/_faults') {
        allow('GET', 'POST', 'DELETE');
        if (method === 'GET') return send(200, faults.view());
        if (method === 'DELETE') return send(200, faults.set({}));
        const plan = faultPlanSchema.safeParse(await readJson(req, maxBody), { error: requiredMessage });
        if (!plan.success) throw new Refusal(400, 'bad-request', `bad fault plan: ${describeIssues(plan.error.issues)}`);
        return send(200, faults.set(plan.data));
      }

      const fault = faults.take();
      if (fault.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
      if (fault.action === 'resetBefore') return void req.socket.destroy();
      if (fault.action === 'unavailable')
        return refuse(503, 'unavailable', 'the article store is unavailable (a fault set through /_faults): try again', { 'retry-after': '1' });
      dropAnswer = fault.action === 'resetAfter';

      const segments = pathname.split('/').slice(1).map(decodeURIComponent);
      if (segments[0] !== 'articles') throw new Refusal(404, 'no-such-route', `no such resource: ${pathname}`);
      if (segments.length === 1) {
        allow('GET');
        return send(200, { data: files.all().map(summaryOf) });
      }
      const id = parsePathId(segments[1]);
      if (segments.length === 2) {
        allow('GET');
        const article = files.get(id);
        if (!article) throw new Refusal(404, 'article-not-found', `article ${id} was never ingested`);
        const published = latestPublished(article);
        if (!published)
          throw new Refusal(
            404,
            'not-published',
            `article ${id} has no published version yet (unpublished: version ${article.versions.map((v) => v.version).join(', ')})`,
          );
        return send(200, published);
      }
      if (segments[2] !== 'versions' || segments.length > 5 || (segments.length === 5 && segments[4] !== 'publish'))
        throw new Refusal(404, 'no-such-route', `no such resource: ${pathname}`);
      if (segments.length === 3) {
        allow('GET');
        const article = files.get(id);
        if (!article) throw new Refusal(404, 'article-not-found', `article ${id} was never ingested`);
        return send(200, summaryOf(article));
      }
      const version = parsePathVersion(segments[3]);
      if (segments.length === 5) {
        allow('POST');
        const { outcome, version: v } = await files.update(id, (article) => publish(article, id, version, now()));
        return send(200, { outcome, version: v });
      }
      allow('GET', 'PUT');
      if (method === 'GET') {
        const article = files.get(id);
        if (!article) throw new Refusal(404, 'article-not-found', `article ${id} was never ingested`);
        const v = article.versions.find((x) => x.version === version);
        if (!v) throw new Refusal(404, 'version-not-found', `version ${version} of article ${id} was never ingested`);
        return send(200, v);
      }
      const silentUpdate = parseSilentUpdate(req);
      const parsed = articleRecordSchema.safeParse(await readJson(req, maxBody), { error: requiredMessage });
      if (!parsed.success) throw new Refusal(400, 'bad-request', `bad article record: ${describeIssues(parsed.error.issues)}`);
      const record = parsed.data;
      if (record.id !== id) throw new Refusal(400, 'bad-request', `id: the body says "${record.id}" but the path says "${id}"`);
      if (record.version !== version) throw new Refusal(400, 'bad-request', `version: the body says ${record.version} but the path says ${version}`);
      const result = await files.update(id, (article) => ingest(article, record, silentUpdate, now()));
      return send(result.outcome === 'created' ? 201 : 200, result);
    } catch (e) {
      if (e instanceof Refusal) {
        // A body refused before it was read whole: the connection cannot carry another request.
        const headers: http.OutgoingHttpHeaders = { ...e.headers };
        const hasBody = Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
        if (hasBody && !req.readableEnded) headers.connection = 'close';
        req.resume();
        return refuse(e.status, e.code, e.message, headers);
      }
      if (e instanceof URIError) return refuse(400, 'bad-request', `malformed path: ${req.url}`);
      if (closing.signal.aborted) return void req.socket.destroy();
      // The method and path only: headers carry the token.
      console.error(`reference article store: ${method} ${pathname}: ${(e as Error).stack}`);
      return refuse(500, 'internal', (e as Error).message);
    }
  }

  // Changes under way are written before the folder is given up.
  return await serveHttp(handle, { port: opts.port, host: opts.host, requestsAtClose: 'finish', closing, idle: () => files.idle(), release });
}
