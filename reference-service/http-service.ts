// What every reference HTTP service does the same way: hold its data folder, listen, answer
// each request once, compare a bearer token without leaking its length or prefix, read a JSON
// body within a limit, and close without cutting a change half-written.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { lockDataFolder } from './data-lock';

export interface RunningHttpService {
  url: string;
  /** Once: SIGINT and SIGTERM may both ask. */
  close(): Promise<void>;
}

/** Serves on `dataDir` while holding its lock: two services on one folder would each answer from their own memory of it. */
export async function withDataFolder<T>(dataDir: string, serve: (release: () => void) => Promise<T>): Promise<T> {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = lockDataFolder(dataDir);
  try {
    return await serve(lock.release);
  } catch (e) {
    lock.release();
    throw e;
  }
}

export interface ServeOptions {
  /** 0 takes a free port. */
  port: number;
  /** 127.0.0.1 unless given. */
  host?: string;
  /** Node's default cuts a request after 5 minutes; an upload of many gigabytes takes as long as it takes (0). */
  requestTimeout?: number;
  /**
   * At close, `cut` ends requests under way (an upload is abandoned, its temporary file
   * removed); `finish` lets them answer first.
   */
  requestsAtClose: 'cut' | 'finish';
  /** Aborted when closing starts, so a request waiting on a delay stops waiting. */
  closing: AbortController;
  /** Resolves once every change already asked for is on disk. */
  idle?: () => Promise<void>;
  /** Gives up the data folder, after the last write. */
  release: () => void;
}

export async function serveHttp(handle: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>, o: ServeOptions): Promise<RunningHttpService> {
  const inflight = new Set<Promise<void>>();
  const server = http.createServer((req, res) => {
    const p = handle(req, res);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  });
  if (o.requestTimeout !== undefined) server.requestTimeout = o.requestTimeout;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', resolve);
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;

  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        o.closing.abort();
        if (o.requestsAtClose === 'cut') server.closeAllConnections();
        await Promise.allSettled(inflight);
        await o.idle?.();
        server.closeAllConnections();
        await stopped;
        o.release();
      })();
      return closed;
    },
  };
}

/** The token a request sent as `Authorization: Bearer …`, or undefined. */
export function bearerToken(req: http.IncomingMessage): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return m ? m[1].trim() : undefined;
}

/** Compares digests, so neither the time taken nor an exception tells how much of a token was right. */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(expected));
}

/** Why a body was refused: 413 past the limit, 400 when it is not JSON. Each service words its own answer. */
export class BodyRefused extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

/** Past this, a too-large body is no longer read to its end so its sender can read the 413: the connection is cut. */
const READ_ON_LIMIT = 64 * 1024 * 1024;

/**
 * The request body as JSON (`empty` when there is none). A body past `limit` bytes is read on
 * without being kept, up to a point, so the sender gets to read the refusal.
 */
export async function readJsonBody(req: http.IncomingMessage, limit: number, empty?: unknown): Promise<unknown> {
  const tooLarge = () => new BodyRefused(413, `the body is larger than ${limit} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
  const chunks = await new Promise<Buffer[]>((resolve, reject) => {
    const kept: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) kept.push(chunk);
      else if (size > READ_ON_LIMIT) req.socket.destroy();
    });
    req.on('end', () => (size > limit ? reject(tooLarge()) : resolve(kept)));
    req.on('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (empty !== undefined && !text.trim()) return empty;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new BodyRefused(400, `the body is not JSON: ${(e as Error).message}`);
  }
}
