// The reference deposit service: the subset of Zenodo's REST deposit API that custody uses to
// copy each version of a dataset to a general-purpose repository (README.md beside this file).
// Its state is one JSON file per deposition plus the files' bytes under the data folder, so it
// survives a restart. Shipped so the tests and the demo run the copy against a real API.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { BodyRefused, bearerToken, readJsonBody, sameSecret, serveHttp, withDataFolder } from '../reference-service/http-service';
import { ApiError, Depositions, fileJson } from './depositions';
import { DepositFaults, depositFaultPlanSchema } from './faults';
import { DepositionFiles } from './store';
import { mimetypeOf, receiveUpload } from './uploads';

export interface DepositServiceOptions {
  /** 0 takes a free port. */
  port: number;
  dataDir: string;
  /** Every request needs it, as `Authorization: Bearer <token>` or `?access_token=<token>`. */
  token: string;
  /** 127.0.0.1 unless given. */
  host?: string;
}

export interface RunningDepositService {
  url: string;
  close(): Promise<void>;
}

/** What GET /_stats answers: counts since the service started, for tests to assert "once". */
export interface DepositStats {
  requests: number;
  uploadsStarted: number;
  uploadsFailed: number;
  /** Completed uploads by deposition id, then filename. */
  uploads: Record<string, Record<string, number>>;
  /** Successful publishes by deposition id. */
  publishes: Record<string, number>;
}

const MAX_JSON_BYTES = 1024 * 1024;
const UNAUTHORIZED =
  "The server could not verify that you are authorized to access the URL requested. You either supplied the wrong credentials (e.g. a bad password), or your browser doesn't understand how to supply the credentials required.";

/** The token of a request, from its header or its query; undefined when it sent none. */
function tokenOf(req: http.IncomingMessage, url: URL): string | undefined {
  return bearerToken(req) ?? url.searchParams.get('access_token') ?? undefined;
}

/** A JSON body (an empty one is `{}`), refused in Zenodo's words. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  try {
    return await readJsonBody(req, MAX_JSON_BYTES, {});
  } catch (e) {
    if (!(e instanceof BodyRefused)) throw e;
    throw e.status === 413
      ? new ApiError(413, `The body is larger than ${MAX_JSON_BYTES} bytes.`)
      : new ApiError(400, `The browser (or proxy) sent a request that this server could not understand: ${e.message}`);
  }
}

/** The `metadata` of a body, which must be an object when given. */
function metadataOf(body: unknown, required: boolean): Record<string, unknown> {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(body)) throw new ApiError(400, 'Validation error.', [{ field: '', message: 'The body must be a JSON object.' }]);
  if (body.metadata === undefined && !required) return {};
  if (!isObject(body.metadata)) throw new ApiError(400, 'Validation error.', [{ field: 'metadata', message: 'Missing data for required field: an object.' }]);
  return body.metadata;
}

function parseId(raw: string): number {
  if (!/^[1-9]\d{0,14}$/.test(raw)) throw new ApiError(404, 'PID does not exist.');
  return Number(raw);
}

export async function startDepositService(opts: DepositServiceOptions): Promise<RunningDepositService> {
  if (!opts.token) throw new Error('the deposit service needs a token');
  return await withDataFolder(opts.dataDir, (release) => serve(opts, release));
}

async function serve(opts: DepositServiceOptions, release: () => void): Promise<RunningDepositService> {
  const files = new DepositionFiles(opts.dataDir);
  const depositions = new Depositions(files);
  const faults = new DepositFaults();
  const closing = new AbortController();
  const stats: DepositStats = { requests: 0, uploadsStarted: 0, uploadsFailed: 0, uploads: {}, publishes: {} };
  const count = (table: Record<string, Record<string, number>>, a: string, b: string) => {
    table[a] ??= {};
    table[a][b] = (table[a][b] ?? 0) + 1;
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let dropAnswer = false;
    const send = (status: number, body?: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      if (dropAnswer) return void req.socket.destroy();
      if (body === undefined) {
        res.writeHead(status, headers);
        return void res.end();
      }
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const method = req.method ?? 'GET';
    let url = new URL('http://x/');
    try {
      url = new URL(req.url ?? '/', 'http://x');
      const given = tokenOf(req, url);
      if (given === undefined || !sameSecret(given, opts.token)) throw new ApiError(401, UNAUTHORIZED, undefined, { 'www-authenticate': 'Bearer' });
      const base = `http://${req.headers.host ?? 'localhost'}`;
      const allow = (...methods: string[]) => {
        if (!methods.includes(method)) throw new ApiError(405, 'The method is not allowed for the requested URL.', undefined, { allow: methods.join(', ') });
      };
      const segments = url.pathname.split('/').slice(1).map(decodeURIComponent);

      if (url.pathname === '/_faults') {
        allow('GET', 'POST', 'DELETE');
        if (method === 'GET') return send(200, faults.view());
        if (method === 'DELETE') return send(200, faults.set({}));
        const plan = depositFaultPlanSchema.safeParse(await readJson(req));
        if (!plan.success)
          throw new ApiError(
            400,
            'Validation error.',
            plan.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message })),
          );
        return send(200, faults.set(plan.data));
      }
      if (url.pathname === '/_stats') {
        allow('GET');
        return send(200, stats);
      }
      if (segments[0] !== 'api') throw new ApiError(404, 'The requested URL was not found on the server.');

      stats.requests++;
      const fault = faults.take();
      if (fault.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
      if (fault.action === 'resetBefore') return void req.socket.destroy();
      if (fault.action === 'unavailable')
        throw new ApiError(503, 'Service unavailable (a fault set through /_faults): try again.', undefined, { 'retry-after': '1' });
      if (fault.action === 'rateLimited')
        throw new ApiError(429, 'Too many requests (a fault set through /_faults): try again later.', undefined, {
          'retry-after': String(fault.retryAfterSeconds),
        });
      dropAnswer = fault.action === 'resetAfter';

      // /api/files/:bucket/:filename
      if (segments[1] === 'files') {
        if (segments.length !== 4) {
          if (segments.length > 4) throw new ApiError(400, 'A filename must not contain "/".');
          throw new ApiError(404, 'The requested URL was not found on the server.');
        }
        const [, , bucket, key] = segments;
        if (!key) throw new ApiError(400, 'A filename must not be empty.');
        if (key.includes('/') || key === '.' || key === '..') throw new ApiError(400, 'A filename must not contain "/" or be "." or "..".');
        const owner = files.byBucketId(bucket);
        if (!owner) throw new ApiError(404, 'Bucket does not exist.');
        allow('GET', 'PUT');
        if (method === 'GET') {
          const file = owner.files.find((f) => f.key === key);
          if (!file) throw new ApiError(404, 'Object does not exist.');
          res.writeHead(200, { 'content-type': file.mimetype, 'content-length': file.size });
          return void fs.createReadStream(files.blobPath(bucket, file.id)).pipe(res);
        }
        if (owner.state !== 'unsubmitted') throw new ApiError(403, 'Bucket is locked for modifications: the deposition is published.');
        stats.uploadsStarted++;
        const upload = faults.takeUpload();
        let received;
        try {
          received = await receiveUpload(req, files.bucketPath(bucket), upload, closing.signal);
        } catch (e) {
          stats.uploadsFailed++;
          throw e;
        }
        const stored = await depositions.commitUpload(bucket, key, received.tmp, received.size, received.md5, mimetypeOf(key)).catch(async (e: unknown) => {
          await fs.promises.rm(received.tmp, { force: true });
          throw e;
        });
        count(stats.uploads, String(owner.id), key);
        const md5 = upload.wrongChecksum ? crypto.createHash('md5').update(`not ${stored.md5}`).digest('hex') : stored.md5;
        const self = `${base}/api/files/${bucket}/${encodeURIComponent(key)}`;
        return send(201, {
          key,
          mimetype: stored.mimetype,
          checksum: `md5:${md5}`,
          version_id: stored.id,
          size: stored.size,
          created: stored.created,
          updated: stored.created,
          is_head: true,
          delete_marker: false,
          links: { self, version: `${self}?versionId=${stored.id}`, uploads: `${self}?uploads` },
        });
      }

      if (segments[1] !== 'deposit' || segments[2] !== 'depositions' || segments.length > 6)
        throw new ApiError(404, 'The requested URL was not found on the server.');
      if (segments.length === 3) {
        allow('GET', 'POST');
        if (method === 'GET')
          return send(
            200,
            files.all().map((d) => depositions.json(base, d)),
          );
        const created = await depositions.create(metadataOf(await readJson(req), false));
        return send(201, depositions.json(base, created));
      }
      const id = parseId(segments[3]);
      if (segments.length === 4) {
        allow('GET', 'PUT', 'DELETE');
        if (method === 'GET') return send(200, depositions.json(base, depositions.get(id)));
        if (method === 'DELETE') {
          await depositions.delete(id);
          return send(204);
        }
        const updated = await depositions.updateMetadata(id, metadataOf(await readJson(req), true));
        return send(200, depositions.json(base, updated));
      }
      if (segments[4] === 'files') {
        const d = depositions.get(id);
        if (segments.length === 5) {
          allow('GET');
          return send(
            200,
            d.files.map((f) => fileJson(base, d, f)),
          );
        }
        allow('GET', 'DELETE');
        const file = d.files.find((f) => f.id === segments[5]);
        if (!file) throw new ApiError(404, 'File does not exist.');
        if (method === 'GET') return send(200, fileJson(base, d, file));
        await depositions.deleteFile(id, file.id);
        return send(204);
      }
      if (segments[4] === 'actions' && segments.length === 6) {
        allow('POST');
        if (segments[5] === 'publish') {
          const published = await depositions.publish(id);
          stats.publishes[String(id)] = (stats.publishes[String(id)] ?? 0) + 1;
          return send(202, depositions.json(base, published));
        }
        if (segments[5] === 'newversion') return send(201, depositions.json(base, await depositions.newVersion(id)));
      }
      throw new ApiError(404, 'The requested URL was not found on the server.');
    } catch (e) {
      const refusal =
        e instanceof ApiError
          ? e
          : e instanceof URIError
            ? new ApiError(400, `Malformed path: ${url.pathname}`)
            : closing.signal.aborted || req.destroyed
              ? undefined
              : e;
      if (refusal === undefined) return void req.socket.destroy();
      if (refusal instanceof ApiError) {
        // A body refused before it was read whole: the connection cannot carry another request.
        const headers: http.OutgoingHttpHeaders = { ...refusal.headers };
        if (!req.readableEnded) headers.connection = 'close';
        req.resume();
        return send(refusal.status, refusal.body(), headers);
      }
      // The method and path only: the query may carry the token.
      console.error(`reference deposit service: ${method} ${url.pathname}: ${(refusal as Error).stack}`);
      return send(500, { status: 500, message: (refusal as Error).message });
    }
  }

  // Uploads under way are cut (their temp files removed); changes under way are written.
  return await serveHttp(handle, { port: opts.port, host: opts.host, requestTimeout: 0, requestsAtClose: 'cut', closing, idle: () => files.idle(), release });
}
