// An HTTP destination: a receiver with an upload_file / file_info API like an observatory
// archive's (the reference receiver in reference-receiver/ is one). The body is streamed
// (chunked), never buffered; the token is sent as a bearer token and never appears in a message.
// The receiver keeps the digest of the uncompressed file it is told (X-Original-Sha256) beside a
// compressed one, so present() needs no download.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { DestinationFile, Present, SendResult } from '../common/destinations';
import { checkReceived, checkSource, storedName, type Destination } from './destination';
import { DestinationError, DestinationRefused, DestinationUnavailable } from './errors';
import { outgoing } from './streams';

/** The headers of the upload_file API. */
export const CONTENT_SHA256_HEADER = 'X-Content-Sha256';
export const ORIGINAL_SHA256_HEADER = 'X-Original-Sha256';
export const ORIGINAL_SIZE_HEADER = 'X-Original-Size';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const fileInfoSchema = z.object({
  name: z.string(),
  size: z.number().int().min(0),
  sha256,
  original: z.object({ size: z.number().int().min(0), sha256 }).optional(),
});
const errorSchema = z.object({ error: z.string() });

const RETRYABLE_4XX = new Set([408, 425, 429]);

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

export interface HttpDestinationOptions {
  url: string;
  token?: string;
  /** A request that makes no progress for this long fails as unavailable. */
  timeoutMs: number;
}

export class HttpDestination implements Destination {
  readonly location: string;
  private readonly base: URL;

  constructor(
    readonly name: string,
    private readonly opts: HttpDestinationOptions,
    readonly compress: boolean,
  ) {
    this.base = new URL(opts.url.endsWith('/') ? opts.url : `${opts.url}/`);
    this.location = opts.url.replace(/\/+$/, '');
  }

  async present(file: DestinationFile): Promise<Present | undefined> {
    const info = await this.fileInfo(storedName(this.name, file, this.compress));
    if (!info) return undefined;
    return this.compress && info.original ? { name: info.name, ...info.original } : { name: info.name, size: info.size, sha256: info.sha256 };
  }

  async send(file: DestinationFile, open: () => Promise<Readable> | Readable, onProgress?: (bytes: number) => void): Promise<SendResult> {
    const stored = storedName(this.name, file, this.compress);
    const out = await outgoing(open, this.compress, onProgress);
    const headers: http.OutgoingHttpHeaders = { 'content-type': this.compress ? 'application/gzip' : 'application/octet-stream' };
    // Uncompressed, the receiver checks the body against the digest; the gzip's is not known before it is made.
    if (!this.compress) headers[CONTENT_SHA256_HEADER] = file.sha256;
    else Object.assign(headers, { [ORIGINAL_SHA256_HEADER]: file.sha256, [ORIGINAL_SIZE_HEADER]: String(file.size) });
    const request = `POST upload_file ${stored}`;
    let answer: Answer;
    try {
      answer = await this.request('POST', 'upload_file', stored, { headers, body: out.body });
    } catch (e) {
      const sourceError = out.sourceError();
      if (sourceError) throw sourceError;
      // Lost after custody's copy was read whole: if it read wrong, that is what to report.
      if (out.body.readableEnded) this.checkRead(file, stored, out.digests());
      throw e;
    }
    // Answered before the body was taken whole (a refusal): custody's copy was not read to its end.
    if (!out.body.readableEnded) this.expectOk(request, answer, 201);
    const { source, sent } = out.digests();
    // custody's copy first: a receiver refusing a body that does not match its digest is custody's fault, not the receiver's.
    this.checkRead(file, stored, { source, sent });
    this.expectOk(request, answer, 201);
    return { name: stored, size: sent.bytes, sha256: sent.sha256, compressed: this.compress };
  }

  async verify(file: DestinationFile, sent: SendResult): Promise<Present> {
    const stored = storedName(this.name, file, this.compress);
    const info = await this.fileInfo(stored);
    return checkReceived(this, file, sent, info && { name: info.name, size: info.size, sha256: info.sha256 });
  }

  private checkRead(file: DestinationFile, stored: string, d: ReturnType<Awaited<ReturnType<typeof outgoing>>['digests']>): void {
    checkSource(this, file, d.source, { name: stored, size: d.sent.bytes, sha256: d.sent.sha256 });
  }

  private async fileInfo(stored: string): Promise<z.infer<typeof fileInfoSchema> | undefined> {
    const request = `GET file_info ${stored}`;
    const answer = await this.request('GET', 'file_info', stored);
    if (answer.status === 404) return undefined;
    this.expectOk(request, answer, 200);
    const parsed = fileInfoSchema.safeParse(answer.body);
    if (!parsed.success)
      throw new DestinationUnavailable(
        `${this.name} (${this.location}): ${request}: the answer is not a file_info answer: ${answer.text.slice(0, 200)}`,
        this.name,
      );
    return parsed.data;
  }

  private expectOk(request: string, answer: Answer, ok: number): void {
    if (answer.status === ok) return;
    const parsed = errorSchema.safeParse(answer.body);
    const why = `${answer.status}: ${parsed.success ? parsed.data.error : answer.text.slice(0, 200) || 'no message'}`;
    const message = `${this.name} (${this.location}): ${request}: ${why}`;
    if (answer.status >= 500 || RETRYABLE_4XX.has(answer.status) || answer.status < 400) throw new DestinationUnavailable(message, this.name);
    throw new DestinationRefused(message, this.name, answer.status);
  }

  /** One request; its answer read whole (answers are small JSON). Connection failures and stalls throw DestinationUnavailable. */
  private async request(method: string, route: string, name: string, opts: { headers?: http.OutgoingHttpHeaders; body?: Readable } = {}): Promise<Answer> {
    try {
      return await this.requestOnce(method, route, name, opts);
    } catch (e) {
      // A kept-alive connection the receiver closed meanwhile: a request without a body is asked again once, on a new one.
      if (!opts.body && e instanceof DestinationUnavailable && (e.cause as { reusedSocket?: boolean } | undefined)?.reusedSocket)
        return this.requestOnce(method, route, name, opts);
      throw e;
    }
  }

  private requestOnce(method: string, route: string, name: string, opts: { headers?: http.OutgoingHttpHeaders; body?: Readable } = {}): Promise<Answer> {
    const url = new URL(route, this.base);
    url.searchParams.set('name', name);
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json', ...opts.headers };
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    const what = `${method} ${route} ${name}`;
    return new Promise<Answer>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        opts.body?.destroy();
        if ((e as NodeJS.ErrnoException).code === 'ECONNRESET' && req.reusedSocket) Object.assign(e, { reusedSocket: true });
        reject(
          e instanceof DestinationError
            ? e
            : new DestinationUnavailable(
                `${this.name} (${this.location}): ${what}: cannot reach it: ${(e as NodeJS.ErrnoException).code ?? e.message}`,
                this.name,
                {
                  cause: e,
                },
              ),
        );
      };
      const req = (url.protocol === 'https:' ? https : http).request(url, { method, headers });
      req.setTimeout(this.opts.timeoutMs, () =>
        req.destroy(new DestinationUnavailable(`${this.name} (${this.location}): ${what}: no progress within ${this.opts.timeoutMs} ms`, this.name)),
      );
      req.on('error', fail);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          // An answer before the whole body went (a refusal): stop sending it.
          if (opts.body && !opts.body.readableEnded) {
            opts.body.destroy();
            req.destroy();
          }
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      });
      if (!opts.body) return void req.end();
      // A failure reading custody's copy is custody's, not the destination's: it is thrown as it is.
      opts.body.on('error', (e) => {
        if (settled) return;
        settled = true;
        req.destroy();
        reject(e);
      });
      opts.body.pipe(req);
    });
  }
}
