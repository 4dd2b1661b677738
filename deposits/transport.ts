// One HTTP exchange, on node:http rather than fetch so an upload can be streamed with its
// Content-Length (Zenodo's bucket API wants it) and its timeout can count idleness, not the whole
// transfer: a 50 GB upload takes hours, a stalled one should fail after `timeoutMs` of silence.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** No byte went either way for `ms`. */
export class IdleTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no progress within ${ms} ms`);
  }
}

/** Answers past this are cut: the API's answers are small JSON. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

export interface Exchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: Buffer | Readable;
  timeoutMs: number;
}

/**
 * Sends one request and reads its whole answer. The timer restarts on every byte sent or
 * received; `exchange.body` may call the returned `touch` through `onActivity` as it is read.
 */
export function exchange(x: Exchange, onActivity?: (touch: () => void) => void): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    const lib = x.url.protocol === 'https:' ? https : http;
    const req = lib.request(x.url, { method: x.method, headers: x.headers });
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        req.destroy(new IdleTimeout(x.timeoutMs));
      }, x.timeoutMs);
    };
    let answered = false;
    const fail = (e: Error) => {
      clearTimeout(timer);
      reject(timedOut ? new IdleTimeout(x.timeoutMs) : e);
    };
    req.on('error', (e) => {
      // A server may answer (a refusal) before it has read the whole body, then close.
      if (!answered) fail(e);
    });
    req.on('response', (res) => {
      answered = true;
      touch();
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        touch();
        size += chunk.length;
        if (size <= MAX_ANSWER_BYTES) chunks.push(chunk);
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error('the answer was cut off')));
    });
    touch();
    onActivity?.(touch);
    if (x.body === undefined) req.end();
    else if (Buffer.isBuffer(x.body)) req.end(x.body);
    else {
      const body = x.body;
      body.on('error', (e) => req.destroy(e));
      req.on('close', () => {
        if (!body.destroyed && !body.readableEnded) body.destroy();
      });
      body.pipe(req);
    }
  });
}
