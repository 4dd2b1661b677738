// The article store's client: what custody's publishing activities call to ingest, publish and
// read article versions. Plain TypeScript: it throws ArticleStoreRefused when the store said no
// (a retry will get the same answer) and ArticleStoreUnavailable when it could not be asked or
// failed (a retry may succeed); retrying is the caller's business.
import type { z } from 'zod';
import {
  SILENT_UPDATE_HEADER,
  articleListSchema,
  articleStoreErrorSchema,
  articleVersionSchema,
  ingestResponseSchema,
  publishResponseSchema,
  type ArticleRecord,
  type ArticleSummary,
  type ArticleVersion,
  type IngestResponse,
  type PublishResponse,
} from '../common/article-store';

export type { ArticleRecord, ArticleSummary, ArticleVersion, IngestResponse, PublishResponse };

export interface ArticleStoreClientOptions {
  /** The store's base URL, e.g. http://127.0.0.1:8391. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; never part of an error message. */
  token?: string;
  /** Per request, until the whole answer is read. 30 s unless given. */
  timeoutMs?: number;
}

/** Anything the article store client throws. `retryable` says whether asking again may help. */
export class ArticleStoreError extends Error {
  readonly retryable: boolean = false;
  constructor(
    message: string,
    /** "PUT /articles/00353/versions/1" */
    readonly request: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The store answered 4xx: the request is wrong or not allowed now, and the same request will be refused again. */
export class ArticleStoreRefused extends ArticleStoreError {
  override readonly retryable = false;
  constructor(
    message: string,
    request: string,
    override readonly status: number,
    /** The store's reason, e.g. "published", "older-than-published", "bad-request". */
    readonly code: string,
  ) {
    super(message, request, status);
  }
}

/** The store could not be reached, did not answer in time, failed (5xx, 408, 429) or answered something that is not the API. */
export class ArticleStoreUnavailable extends ArticleStoreError {
  override readonly retryable = true;
}

/** Statuses below 500 that say "not now" rather than "no". */
const RETRYABLE_4XX = new Set([408, 425, 429]);

export class ArticleStoreClient {
  private readonly base: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: ArticleStoreClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
  }

  /**
   * Ingests one version's record: created, replaced while unpublished, or unchanged when the
   * store already has the same record. A published version is replaced only with
   * `silentUpdate: true`; without it a changed record is refused (code "published").
   */
  async ingest(record: ArticleRecord, options: { silentUpdate?: boolean } = {}): Promise<IngestResponse> {
    const answer = await this.request('PUT', `${this.articlePath(record.id)}/versions/${encodeURIComponent(String(record.version))}`, {
      body: record,
      headers: options.silentUpdate ? { [SILENT_UPDATE_HEADER]: 'true' } : {},
    });
    return this.read(answer, ingestResponseSchema);
  }

  /** Publishes a version; a version already published answers outcome "already-published" and the same record. */
  async publish(id: string, version: number): Promise<PublishResponse> {
    return this.read(await this.request('POST', `${this.articlePath(id)}/versions/${version}/publish`), publishResponseSchema);
  }

  /** The latest published version, or undefined when the article is unknown or has none published. */
  async get(id: string): Promise<ArticleVersion | undefined> {
    return this.readUnlessNotFound(this.request('GET', this.articlePath(id)), ['article-not-found', 'not-published']);
  }

  /** One version, published or not, with its state and history; undefined when it was never ingested. */
  async getVersion(id: string, version: number): Promise<ArticleVersion | undefined> {
    return this.readUnlessNotFound(this.request('GET', `${this.articlePath(id)}/versions/${version}`), ['article-not-found', 'version-not-found']);
  }

  /** Every article the store has, with its latest published version. */
  async list(): Promise<ArticleSummary[]> {
    return this.read(await this.request('GET', '/articles'), articleListSchema).data;
  }

  private articlePath(id: string): string {
    return `/articles/${encodeURIComponent(id)}`;
  }

  /** The version answered, or undefined for a 404 with one of these codes (a 404 for a wrong URL still throws). */
  private async readUnlessNotFound(answer: Promise<Answer>, codes: string[]): Promise<ArticleVersion | undefined> {
    try {
      return this.read(await answer, articleVersionSchema);
    } catch (e) {
      if (e instanceof ArticleStoreRefused && e.status === 404 && codes.includes(e.code)) return undefined;
      throw e;
    }
  }

  private read<S extends z.ZodType>(answer: Answer, schema: S): z.infer<S> {
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success)
      throw new ArticleStoreUnavailable(
        `${answer.request} at ${this.base}: the answer is not the article store's: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
        answer.request,
        answer.status,
      );
    return parsed.data;
  }

  /** Sends one request and reads the whole answer; anything but 2xx throws. */
  private async request(method: string, path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<Answer> {
    const request = `${method} ${path}`;
    const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (this.opts.token !== undefined) headers.authorization = `Bearer ${this.opts.token}`;
    let status: number;
    let text: string;
    try {
      // The timeout covers reading the answer too: a store that stalls mid-answer is as unavailable as a silent one.
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why =
        err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : `cannot reach it: ${err.cause?.message ?? err.cause?.code ?? err.message}`;
      throw new ArticleStoreUnavailable(`${request} at ${this.base}: ${why}`, request, undefined, { cause: e });
    }
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (status >= 200 && status < 300) return { request, status, body };
    const error = articleStoreErrorSchema.safeParse(body);
    const message = error.success ? error.data.error : `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    const code = error.success ? error.data.code : 'unknown';
    if (status >= 500 || RETRYABLE_4XX.has(status)) throw new ArticleStoreUnavailable(`${request} at ${this.base}: ${status}: ${message}`, request, status);
    throw new ArticleStoreRefused(`${request} at ${this.base}: ${status}: ${message}`, request, status, code);
  }
}

interface Answer {
  request: string;
  status: number;
  body: unknown;
}

/** A client for the store at `opts.url`. */
export function articleStoreClient(opts: ArticleStoreClientOptions): ArticleStoreClient {
  return new ArticleStoreClient(opts);
}
