// The rules of the article store: what an ingest, a silent update and a publish do to an
// article's versions, or why they are refused. Pure functions of the current state and the clock,
// run by ArticleFiles.update one at a time per article.
import {
  SILENT_UPDATE_HEADER,
  articleRecordSchema,
  type ArticleRecord,
  type ArticleStoreErrorCode,
  type ArticleVersion,
  type IngestResponse,
  type PublishResponse,
} from '../common/article-store';
import { latestPublished, type StoredArticle } from './store';

/** A request the store will not carry out: the status, code and message it answers. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: ArticleStoreErrorCode,
    message: string,
    /** Extra answer headers (Allow of a 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type Change<T> = { next?: StoredArticle; result: T };

/** JSON with object keys sorted, so two records that say the same thing compare equal. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** The top-level fields of the record that differ, added or removed, in the schema's order. */
export function changedFields(before: ArticleRecord, after: ArticleRecord): string[] {
  const keys = Object.keys(articleRecordSchema.shape);
  return keys.filter((k) => canonical(before[k as keyof ArticleRecord]) !== canonical(after[k as keyof ArticleRecord]));
}

const label = (id: string, version: number) => `version ${version} of article ${id}`;

function withVersion(article: StoredArticle | undefined, id: string, v: ArticleVersion): StoredArticle {
  const others = (article?.versions ?? []).filter((x) => x.version !== v.version);
  return { id, versions: [...others, v].sort((a, b) => a.version - b.version) };
}

/**
 * Ingests a version's record. A new version is created; an unpublished one is replaced (the
 * same record again changes nothing); a published one is replaced only by a silent update,
 * which keeps its number and publication date and is written into its history.
 */
export function ingest(article: StoredArticle | undefined, record: ArticleRecord, silentUpdate: boolean, now: string): Change<IngestResponse> {
  const { id, version } = record;
  const existing = article?.versions.find((v) => v.version === version);
  if (!existing) {
    if (silentUpdate)
      throw new Refusal(
        404,
        'version-not-found',
        `${label(id, version)} was never ingested: a silent update replaces a published version; ingest a new version without ${SILENT_UPDATE_HEADER}`,
      );
    const created: ArticleVersion = { id, version, state: 'unpublished', ingestedAt: now, updatedAt: now, record, history: [{ at: now, event: 'ingested' }] };
    return { next: withVersion(article, id, created), result: { outcome: 'created', changed: [], version: created } };
  }
  const changed = changedFields(existing.record, record);
  if (existing.state === 'published' && !silentUpdate && changed.length)
    throw new Refusal(
      409,
      'published',
      `${label(id, version)} is published (at ${existing.publishedAt}): re-ingesting it would change ${changed.join(', ')} of a published record; ` +
        `mark the request as a silent update (header ${SILENT_UPDATE_HEADER}: true) to replace it without a new version number`,
    );
  if (existing.state === 'unpublished' && silentUpdate)
    throw new Refusal(
      409,
      'not-published',
      `${label(id, version)} is not published: a silent update replaces a published version; ingest it again without ${SILENT_UPDATE_HEADER} to replace it`,
    );
  // The same record again (a retried request) changes nothing, published or not.
  if (!changed.length) return { result: { outcome: 'unchanged', changed, version: existing } };
  const event = silentUpdate ? 'silent-update' : 'replaced';
  const replaced: ArticleVersion = { ...existing, record, updatedAt: now, history: [...existing.history, { at: now, event, changed }] };
  return { next: withVersion(article, id, replaced), result: { outcome: silentUpdate ? 'silent-update' : 'replaced', changed, version: replaced } };
}

/**
 * Publishes a version. Publishing it again answers the same version (a retried request is
 * safe); a version older than the latest published one is refused, as is one never ingested.
 */
export function publish(article: StoredArticle | undefined, id: string, version: number, now: string): Change<PublishResponse> {
  if (!article) throw new Refusal(404, 'article-not-found', `article ${id} was never ingested`);
  const existing = article.versions.find((v) => v.version === version);
  if (!existing)
    throw new Refusal(
      404,
      'version-not-found',
      `${label(id, version)} was never ingested (ingested versions: ${article.versions.map((v) => v.version).join(', ')}): ingest it before publishing it`,
    );
  if (existing.state === 'published') return { result: { outcome: 'already-published', version: existing } };
  const latest = latestPublished(article);
  if (latest && latest.version > version)
    throw new Refusal(
      409,
      'older-than-published',
      `${label(id, version)} is older than version ${latest.version}, published at ${latest.publishedAt}: a version older than the latest published one cannot be published`,
    );
  const published: ArticleVersion = {
    id,
    version,
    state: 'published',
    ingestedAt: existing.ingestedAt,
    updatedAt: now,
    publishedAt: now,
    record: existing.record,
    history: [...existing.history, { at: now, event: 'published' }],
  };
  return { next: withVersion(article, id, published), result: { outcome: 'published', version: published } };
}
