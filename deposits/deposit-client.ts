// custody's client of a deposit API (Zenodo's REST deposit API, or the reference deposit
// service): depositions, their files and versions. Plain TypeScript. Transient failures (5xx,
// 429, connection errors, timeouts) are retried within the call, with exponential backoff and
// jitter, before DepositUnavailable is thrown; the activity's own retries come on top of these.
// A refusal (4xx) is thrown at once as DepositRefused. The token is sent as a header and never
// appears in the log or an error message.
import crypto from 'node:crypto';
import type { Readable } from 'node:stream';
import { Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { DepositRefused, DepositSourceChanged, DepositUnavailable } from './errors';
import { forLog, redactUrl, scrub } from './redact';
import { apiErrorSchema, bucketObjectSchema, depositFileSchema, depositionSchema, type DepositFile, type Deposition } from './schemas';
import { IdleTimeout, exchange, type RawAnswer } from './transport';

export type { DepositFile, Deposition };

export interface DepositRetries {
  /** How many times a request is sent in all: 1 sends it once. */
  attempts: number;
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface DepositClientOptions {
  /** The API's base URL, e.g. https://zenodo.org or http://127.0.0.1:8393. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /**
   * How long a request may go without progress: no byte sent or received for this long fails
   * the attempt. For an upload it is idleness, not the whole transfer. 60 s unless given.
   */
  timeoutMs?: number;
  /** In-call retries of transient failures (5xx, 429, connection errors, timeouts), with exponential backoff + jitter; distinct from the activity's retries. */
  retries?: DepositRetries;
  /** Called for every attempt of every request with its answer or error; secrets redacted. */
  log?: (entry: DepositLogEntry) => void;
}

export interface DepositLogEntry {
  /** When the attempt started (ISO 8601). */
  at: string;
  method: string;
  /** The URL with any token parameter redacted. */
  url: string;
  status?: number;
  ms: number;
  /** 1 for the first sending, 2 for the first retry... */
  attempt: number;
  error?: string;
  /** Small JSON bodies as sent, or `{ bytes }` for uploads and large bodies. */
  request?: unknown;
  /** The answer's JSON, truncated when long. */
  response?: unknown;
  /** Set when the client will send the request again after this many ms. */
  retryInMs?: number;
}

export interface UploadResult {
  /** The file's name in the deposition. */
  key: string;
  /** Bytes sent (the size given, or the upload fails). */
  size: number;
  /** md5 and sha256 (hex) of the bytes actually sent by the attempt that succeeded. */
  md5: string;
  sha256: string;
  /**
   * The md5 the API says it stored. The client does not compare it with `md5`: a difference
   * means the copy is damaged, and what to do (upload again, stop) is the caller's decision.
   */
  remoteMd5: string;
}

/** An upload's source: opened again for every attempt (a stream cannot be re-read). */
export type OpenUpload = () => Promise<Readable> | Readable;

export const DEFAULT_RETRIES: DepositRetries = { attempts: 4, initialDelayMs: 500, maxDelayMs: 15_000 };
const DEFAULT_TIMEOUT_MS = 60_000;
/** A Retry-After longer than this is not waited out within the call: the error carries it. */
const MAX_IN_CALL_WAIT_MS = 60_000;
const LOGGED_BODY_CHARS = 2000;

/** The source failed (not the API): its own error, thrown as it is. */
class SourceFailed extends Error {}

/** The upload's bytes as they are sent: hashed, counted against the size given. */
class UploadMeter extends Transform {
  sent = 0;
  private readonly md5 = crypto.createHash('md5');
  private readonly sha256 = crypto.createHash('sha256');
  constructor(
    private readonly size: number,
    private readonly request: string,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
  }
  private mismatch(): DepositSourceChanged {
    return new DepositSourceChanged(
      `${this.request}: the source yielded ${this.sent > this.size ? 'more than' : 'only'} ${this.sent > this.size ? this.size : this.sent} bytes, but its size was given as ${this.size}`,
      this.request,
    );
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sent += chunk.length;
    if (this.sent > this.size) return done(this.mismatch());
    this.md5.update(chunk);
    this.sha256.update(chunk);
    this.onProgress?.(this.sent);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.sent === this.size ? null : this.mismatch());
  }
  digests(): { md5: string; sha256: string } {
    return { md5: this.md5.digest('hex'), sha256: this.sha256.digest('hex') };
  }
}

interface Upload {
  open: OpenUpload;
  size: number;
  onProgress?: (bytes: number) => void;
  /** The meter of the attempt under way. */
  meter?: UploadMeter;
}

interface CallOptions {
  json?: unknown;
  upload?: Upload;
  /** Whether a request that may have been carried out (its answer lost) may be sent again. */
  idempotent: boolean;
  /** Before a retry: an answer that makes sending again unnecessary (an earlier attempt did it). */
  settled?: () => Promise<RawAnswer | undefined>;
  /** On a retry, 404 means an earlier attempt did it (a delete whose answer was lost). */
  goneIsDone?: boolean;
  attempts?: number;
}

/** Retry-After in ms: whole seconds or an HTTP date. */
function retryAfterMs(value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Node's connection errors that mean the request never reached the server, so it cannot have been carried out. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class DepositClient {
  private readonly base: URL;
  private readonly timeoutMs: number;
  private readonly retries: DepositRetries;

  constructor(private readonly opts: DepositClientOptions) {
    this.base = new URL(opts.url.replace(/\/+$/, '') + '/');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retries = opts.retries ?? DEFAULT_RETRIES;
    if (this.retries.attempts < 1) throw new RangeError('retries.attempts must be at least 1');
  }

  /**
   * A new draft deposition. Not sent again after a connection error or a timeout (it may have
   * been created, and a second would be another draft); a 5xx or 429 answer is retried.
   */
  async createDeposition(metadata?: Record<string, unknown>): Promise<Deposition> {
    const answer = await this.call('POST', this.api('deposit/depositions'), { json: metadata ? { metadata } : {}, idempotent: false });
    return this.read(answer, depositionSchema, 'POST /api/deposit/depositions');
  }

  async getDeposition(id: number): Promise<Deposition> {
    return this.read(await this.call('GET', this.depositionUrl(id), { idempotent: true }), depositionSchema, `GET ${this.depositionUrl(id).pathname}`);
  }

  /** Replaces the draft's metadata (all of it, as Zenodo's PUT does). */
  async updateMetadata(id: number, metadata: Record<string, unknown>): Promise<Deposition> {
    const url = this.depositionUrl(id);
    return this.read(await this.call('PUT', url, { json: { metadata }, idempotent: true }), depositionSchema, `PUT ${url.pathname}`);
  }

  async listFiles(id: number): Promise<DepositFile[]> {
    const url = this.api(`deposit/depositions/${id}/files`);
    return this.read(await this.call('GET', url, { idempotent: true }), depositFileSchema.array(), `GET ${url.pathname}`);
  }

  /** Deletes a file of a draft; a retry that finds it gone counts as done. */
  async deleteFile(id: number, fileId: string): Promise<void> {
    await this.call('DELETE', this.api(`deposit/depositions/${id}/files/${encodeURIComponent(fileId)}`), { idempotent: true, goneIsDone: true });
  }

  /**
   * Streams `open()` to `<bucketUrl>/<filename>` (replacing a file of that name), computing the
   * md5 and sha256 of the bytes actually sent. Every attempt calls `open()` again and
   * `onProgress` counts from 0 again. A source that yields another size than `size` fails with
   * DepositSourceChanged; a source that fails throws its own error; neither is retried. The
   * answer's md5 is returned as `remoteMd5` and not compared: the caller decides.
   */
  async uploadFile(bucketUrl: string, filename: string, open: OpenUpload, size: number, onProgress?: (bytes: number) => void): Promise<UploadResult> {
    const url = new URL(`${bucketUrl.replace(/\/+$/, '')}/${encodeURIComponent(filename)}`);
    const upload: Upload = { open, size, onProgress };
    const answer = await this.call('PUT', url, { upload, idempotent: true });
    const stored = this.read(answer, bucketObjectSchema, `PUT ${url.pathname}`);
    const sent = upload.meter!.digests();
    return { key: stored.key, size: upload.meter!.sent, md5: sent.md5, sha256: sent.sha256, remoteMd5: stored.checksum.slice('md5:'.length) };
  }

  /**
   * Publishes a draft. Before a retry it asks whether an earlier attempt already published it
   * (its answer lost), which makes sending it again safe: a lost answer does not become a refusal.
   */
  async publish(id: number): Promise<Deposition> {
    const url = this.api(`deposit/depositions/${id}/actions/publish`);
    const settled = async () => {
      const now = await this.call('GET', this.depositionUrl(id), { idempotent: true, attempts: 1 }).catch(() => undefined);
      const d = now && depositionSchema.safeParse(JSON.parse(now.text));
      return d && d.success && d.data.submitted ? now : undefined;
    };
    return this.read(await this.call('POST', url, { idempotent: true, settled }), depositionSchema, `POST ${url.pathname}`);
  }

  /**
   * A new version of a published deposition: answers the new draft (fetched through
   * `links.latest_draft`), whose files start as those of the published version. While a draft
   * of the dataset exists, the API answers that one, so a retry makes no second draft.
   */
  async newVersion(id: number): Promise<Deposition> {
    const url = this.api(`deposit/depositions/${id}/actions/newversion`);
    const request = `POST ${url.pathname}`;
    const published = this.read(await this.call('POST', url, { idempotent: true }), depositionSchema, request);
    const draftUrl = published.links.latest_draft;
    if (!draftUrl) throw new DepositUnavailable(`${request} at ${this.base.origin}: the answer has no links.latest_draft`, request);
    const draft = this.read(await this.call('GET', new URL(draftUrl), { idempotent: true }), depositionSchema, `GET ${new URL(draftUrl).pathname}`);
    if (draft.submitted)
      throw new DepositUnavailable(`${request} at ${this.base.origin}: links.latest_draft is deposition ${draft.id}, which is published`, request);
    return draft;
  }

  private api(path: string): URL {
    return new URL(`api/${path}`, this.base);
  }

  private depositionUrl(id: number): URL {
    return this.api(`deposit/depositions/${id}`);
  }

  private read<S extends z.ZodType>(answer: RawAnswer, schema: S, request: string): z.infer<S> {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      body = undefined;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new DepositUnavailable(
        `${request} at ${this.base.origin}: the answer is not the deposit API's: ${issue?.path.join('.')}: ${issue?.message}`,
        request,
        answer.status,
      );
    }
    return parsed.data;
  }

  /** Sends a request, retrying transient failures; answers a 2xx or throws. */
  private async call(method: string, url: URL, o: CallOptions): Promise<RawAnswer> {
    const request = `${method} ${url.pathname}`;
    const attempts = o.attempts ?? this.retries.attempts;
    const where = `${request} at ${url.origin}`;
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && o.settled) {
        const done = await o.settled();
        if (done) return done;
      }
      const at = new Date();
      let answer: RawAnswer | undefined;
      let failure: Error | undefined;
      const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.opts.token}`, 'user-agent': 'custody-deposits' };
      let body: Buffer | Readable | undefined;
      let logged: unknown;
      if (o.upload) {
        headers['content-type'] = 'application/octet-stream';
        headers['content-length'] = String(o.upload.size);
        logged = { bytes: o.upload.size };
      } else if (o.json !== undefined) {
        const text = JSON.stringify(o.json);
        body = Buffer.from(text);
        headers['content-type'] = 'application/json';
        logged = text.length <= LOGGED_BODY_CHARS ? o.json : { bytes: body.length };
      }
      try {
        if (o.upload) {
          const meter = new UploadMeter(o.upload.size, request, o.upload.onProgress);
          o.upload.meter = meter;
          const source = await o.upload.open();
          source.on('error', (e) => meter.destroy(new SourceFailed(e.message, { cause: e })));
          body = source.pipe(meter);
          answer = await exchange({ method, url, headers, body, timeoutMs: this.timeoutMs }, (touch) => meter.on('data', touch));
        } else answer = await exchange({ method, url, headers, body, timeoutMs: this.timeoutMs });
      } catch (e) {
        failure = e as Error;
      }
      const entry: DepositLogEntry = {
        at: at.toISOString(),
        method,
        url: redactUrl(url),
        ms: Date.now() - at.getTime(),
        attempt,
        ...(logged !== undefined ? { request: logged } : {}),
      };
      const log = (extra: Partial<DepositLogEntry>) => this.opts.log?.({ ...entry, ...extra });

      if (failure instanceof SourceFailed || failure instanceof DepositSourceChanged) {
        log({ error: scrub(failure.message, this.opts.token) });
        throw failure instanceof SourceFailed ? failure.cause : failure;
      }
      if (answer) {
        const status = answer.status;
        const response = forLog(answer.text, this.opts.token);
        if ((status >= 200 && status < 300) || (status === 404 && o.goneIsDone && attempt > 1)) {
          log({ status, response });
          return answer;
        }
        if (status < 500 && status !== 429) {
          log({ status, response });
          throw this.refusal(where, request, answer);
        }
      }
      const wait = answer ? retryAfterMs(answer.headers['retry-after']) : undefined;
      const why = answer ? `${answer.status}: ${this.apiMessage(answer)}` : this.describe(failure!);
      // A request whose answer was lost may have been carried out: only some may be sent again.
      const mayResend = answer !== undefined || o.idempotent || NOT_SENT.has((failure as NodeJS.ErrnoException).code ?? '');
      const tooLong = wait !== undefined && wait > MAX_IN_CALL_WAIT_MS;
      if (attempt >= attempts || !mayResend || tooLong) {
        log({ status: answer?.status, error: why, ...(answer ? { response: forLog(answer.text, this.opts.token) } : {}) });
        const reason = tooLong
          ? `the API asks to wait ${Math.round(wait / 1000)} s`
          : !mayResend
            ? 'not sent again, as it may have been carried out'
            : `after ${attempt} attempt${attempt > 1 ? 's' : ''}`;
        throw new DepositUnavailable(scrub(`${where}: ${why} (${reason})`, this.opts.token), request, answer?.status, {
          cause: failure,
          attempts: attempt,
          retryAfterMs: tooLong ? wait : undefined,
        });
      }
      const backoff = Math.min(this.retries.maxDelayMs, this.retries.initialDelayMs * 2 ** (attempt - 1));
      const delay = Math.max(Math.round(backoff / 2 + (Math.random() * backoff) / 2), wait ?? 0);
      log({ status: answer?.status, error: why, retryInMs: delay, ...(answer ? { response: forLog(answer.text, this.opts.token) } : {}) });
      await sleep(delay);
    }
  }

  private apiMessage(answer: RawAnswer): string {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      return answer.text.slice(0, 200) || 'no message';
    }
    const parsed = apiErrorSchema.safeParse(body);
    return parsed.success ? parsed.data.message : answer.text.slice(0, 200);
  }

  private refusal(where: string, request: string, answer: RawAnswer): DepositRefused {
    let body: unknown;
    try {
      body = JSON.parse(answer.text);
    } catch {
      body = undefined;
    }
    const parsed = apiErrorSchema.safeParse(body);
    const apiMessage = parsed.success ? parsed.data.message : answer.text.slice(0, 200) || `HTTP ${answer.status}`;
    const errors = parsed.success ? (parsed.data.errors ?? []) : [];
    const fields = errors.length ? `: ${errors.map((f) => (f.field ? `${f.field}: ${f.message}` : f.message)).join('; ')}` : '';
    return new DepositRefused(scrub(`${where}: ${answer.status}: ${apiMessage}${fields}`, this.opts.token), request, answer.status, apiMessage, errors);
  }

  private describe(e: Error): string {
    if (e instanceof IdleTimeout) return e.message;
    const code = (e as NodeJS.ErrnoException).code;
    return scrub(`cannot reach it: ${e.message}${code && !e.message.includes(code) ? ` (${code})` : ''}`, this.opts.token);
  }
}

/** A client of the deposit API at `opts.url`. */
export function depositClient(opts: DepositClientOptions): DepositClient {
  return new DepositClient(opts);
}
