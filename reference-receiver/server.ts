// The reference receiver: an HTTP file receiver with an upload_file / file_info API like an
// observatory archive's export targets, for custody's http destinations. Streams each upload to
// disk (never into memory), its state in the data folder so it survives a restart. API in
// README.md beside this file.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { destinationPathProblem } from '../common/destinations';
import { BodyRefused, bearerToken, readJsonBody, sameSecret, serveHttp, withDataFolder } from '../reference-service/http-service';
import { receiverFaultPlanSchema, ReceiverFaults } from './faults';
import { BodyMismatch, ReceivedFiles, type FileInfo } from './files';

export interface ReceiverOptions {
  /** 0 takes a free port. */
  port: number;
  dataDir: string;
  /** When set, every request needs `Authorization: Bearer <token>`. */
  token?: string;
  /** 127.0.0.1 unless given. */
  host?: string;
}

export interface RunningReceiver {
  url: string;
  close(): Promise<void>;
}

const SHA256 = /^[0-9a-f]{64}$/;
const FAULT_PLAN_LIMIT = 64 * 1024;

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: http.OutgoingHttpHeaders = {},
  ) {
    super(message);
  }
}

function nameParam(url: URL): string {
  const name = url.searchParams.get('name');
  if (name === null) throw new Refusal(400, 'bad-request', 'the query parameter name is required: ?name=<path>');
  const problem = destinationPathProblem(name);
  if (problem) throw new Refusal(400, 'bad-name', `name ${JSON.stringify(name)}: ${problem}`);
  return name;
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

function sha256Header(req: http.IncomingMessage, name: string): string | undefined {
  const v = header(req, name)?.trim().toLowerCase();
  if (v !== undefined && !SHA256.test(v)) throw new Refusal(400, 'bad-request', `header ${name}: "${v}" is not 64 hex digits`);
  return v;
}

function originalOf(req: http.IncomingMessage): FileInfo['original'] {
  const sha256 = sha256Header(req, 'X-Original-Sha256');
  const size = header(req, 'X-Original-Size');
  if (sha256 === undefined && size === undefined) return undefined;
  if (sha256 === undefined || size === undefined || !/^\d+$/.test(size))
    throw new Refusal(400, 'bad-request', 'headers X-Original-Sha256 and X-Original-Size go together, the size a whole number');
  return { size: Number(size), sha256 };
}

async function readSmallJson(req: http.IncomingMessage): Promise<unknown> {
  try {
    return await readJsonBody(req, FAULT_PLAN_LIMIT, {});
  } catch (e) {
    if (!(e instanceof BodyRefused)) throw e;
    throw new Refusal(e.status, e.status === 413 ? 'too-large' : 'bad-request', e.message);
  }
}

export async function startReceiver(opts: ReceiverOptions): Promise<RunningReceiver> {
  // Two receivers on one folder would each trust records the other rewrites.
  return await withDataFolder(opts.dataDir, (release) => serve(opts, release));
}

async function serve(opts: ReceiverOptions, release: () => void): Promise<RunningReceiver> {
  const files = new ReceivedFiles(opts.dataDir);
  const faults = new ReceiverFaults();
  const closing = new AbortController();

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let dropAnswer = false;
    const send = (status: number, body: unknown, headers: http.OutgoingHttpHeaders = {}) => {
      if (dropAnswer) return void req.socket.destroy();
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const method = req.method ?? 'GET';
    let pathname = '';
    try {
      const url = new URL(req.url ?? '/', 'http://receiver');
      pathname = url.pathname;
      if (opts.token !== undefined) {
        const given = bearerToken(req);
        if (given === undefined || !sameSecret(given, opts.token))
          throw new Refusal(
            401,
            'unauthorized',
            `${req.headers.authorization ? 'the bearer token is wrong' : 'no bearer token'}: send Authorization: Bearer <token>`,
            {
              'www-authenticate': 'Bearer realm="reference receiver"',
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
        const plan = receiverFaultPlanSchema.safeParse(await readSmallJson(req));
        if (!plan.success)
          throw new Refusal(400, 'bad-request', `bad fault plan: ${plan.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
        return send(200, faults.set(plan.data));
      }

      const fault = faults.take();
      if (fault.delayMs) await sleep(fault.delayMs, undefined, { signal: closing.signal });
      if (fault.action === 'resetBefore') return void req.socket.destroy();
      if (fault.action === 'unavailable')
        throw new Refusal(503, 'unavailable', 'the receiver is unavailable (a fault set through /_faults): try again', { 'retry-after': '1' });
      dropAnswer = fault.action === 'resetAfter';

      if (pathname === '/upload_file') {
        allow('POST');
        const name = nameParam(url);
        const contentSha256 = sha256Header(req, 'X-Content-Sha256');
        const original = originalOf(req);
        try {
          const info = await files.put(name, req, { contentSha256, original, corrupt: faults.takeCorruption() });
          return send(201, info);
        } catch (e) {
          if (e instanceof BodyMismatch) throw new Refusal(400, 'checksum-mismatch', `${name}: ${e.message}`);
          throw e;
        }
      }
      if (pathname === '/file_info') {
        allow('GET');
        const name = nameParam(url);
        const info = await files.info(name);
        if (!info) throw new Refusal(404, 'not-found', `no file ${JSON.stringify(name)}`);
        return send(200, info);
      }
      if (pathname === '/files') {
        allow('DELETE');
        const name = nameParam(url);
        if (!(await files.remove(name))) throw new Refusal(404, 'not-found', `no file ${JSON.stringify(name)}`);
        return send(200, { name, deleted: true });
      }
      throw new Refusal(404, 'no-such-route', `no such resource: ${pathname}`);
    } catch (e) {
      if (e instanceof Refusal) {
        // A body refused before it was read whole: the connection cannot carry another request.
        const headers: http.OutgoingHttpHeaders = { ...e.headers };
        if (!req.readableEnded) {
          headers.connection = 'close';
          req.resume();
        }
        dropAnswer = false;
        return send(e.status, { error: e.message, code: e.code }, headers);
      }
      if (closing.signal.aborted || req.destroyed) return void req.socket.destroy();
      // The method and path only: headers carry the token.
      console.error(`reference receiver: ${method} ${pathname}: ${(e as Error).stack}`);
      return send(500, { error: (e as Error).message, code: 'internal' });
    }
  }

  // An upload cut here leaves only its partial file, never a half file under its name.
  return await serveHttp(handle, { port: opts.port, host: opts.host, requestTimeout: 0, requestsAtClose: 'cut', closing, release });
}
