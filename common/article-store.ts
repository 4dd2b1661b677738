// The article store's wire format: the record custody ingests for one version of an article,
// and what the store answers. The reference article store validates with these schemas, its
// client reads its answers with them, and the publishing workflow passes records by these types.
import { z } from 'zod';

/** The request header that marks a re-ingest of a published version as a silent update. */
export const SILENT_UPDATE_HEADER = 'X-Silent-Update';

/** An article id is also the store's file name for it: letters, digits, ".", "_", "-". */
export const articleIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may contain only letters, digits, ".", "_" and "-", and must start with a letter or digit');

export const articleVersionNumberSchema = z.number().int().min(1).max(999_999_999);

const date = z.union([z.iso.date(), z.iso.datetime({ offset: true })], { error: 'must be an ISO 8601 date (2012-12-13) or date-time (2012-12-13T10:00:00Z)' });

/** A path inside the article's outputs: relative, "/"-separated, with no "." or ".." segment. */
const assetName = z
  .string()
  .min(1)
  .max(1024)
  .refine((n) => !n.startsWith('/') && !n.includes('\\') && n.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'), {
    message: 'must be a relative path with "/" separators and no empty, "." or ".." segment',
  });

export const articleAssetSchema = z.strictObject({
  name: assetName,
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
  /** Where the file is served from (the preview prefix before publication, the public one after). */
  url: z.url({ protocol: /^(https?|s3)$/, error: 'must be an http(s) or s3 URL' }),
  mediaType: z.string().min(1).optional(),
});

export const articleAuthorSchema = z.strictObject({
  name: z.string().min(1),
  orcid: z
    .string()
    .regex(/^\d{4}-\d{4}-\d{4}-\d{3}[\dX]$/, 'must be an ORCID iD like 0000-0002-1825-0097')
    .optional(),
  affiliations: z.array(z.string().min(1)).optional(),
});

/** What custody ingests for one version of an article. Unknown fields are refused, so a misspelt one is not lost. */
export const articleRecordSchema = z.strictObject({
  id: articleIdSchema,
  version: articleVersionNumberSchema,
  /** Publish on acceptance (author's manuscript) or version of record. */
  status: z.enum(['poa', 'vor']),
  title: z.string().min(1),
  doi: z
    .string()
    .regex(/^10\.\d{4,9}\/\S+$/, 'must be a DOI like 10.7554/eLife.00353')
    .optional(),
  authors: z.array(articleAuthorSchema),
  dates: z.strictObject({ received: date.optional(), accepted: date.optional(), published: date.optional() }),
  licence: z.string().min(1),
  abstract: z.string().optional(),
  subjects: z.array(z.string().min(1)).optional(),
  assets: z.array(articleAssetSchema).superRefine((assets, ctx) => {
    const seen = new Set<string>();
    assets.forEach((a, i) => {
      if (seen.has(a.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${a.name}" is listed twice` });
      seen.add(a.name);
    });
  }),
  previewUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
});
export type ArticleRecord = z.infer<typeof articleRecordSchema>;
export type ArticleAsset = z.infer<typeof articleAssetSchema>;

export const historyEntrySchema = z.object({
  at: z.string(),
  /** ingested: first ingest; replaced: re-ingest of an unpublished version with other content. */
  event: z.enum(['ingested', 'replaced', 'published', 'silent-update']),
  /** The top-level record fields a replace or silent update changed. */
  changed: z.array(z.string()).optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

/** One version as the store keeps and answers it. */
export const articleVersionSchema = z.object({
  id: z.string(),
  version: z.number().int(),
  state: z.enum(['unpublished', 'published']),
  ingestedAt: z.string(),
  updatedAt: z.string(),
  /** Set once by the first publish; a silent update keeps it. */
  publishedAt: z.string().optional(),
  record: articleRecordSchema,
  history: z.array(historyEntrySchema),
});
export type ArticleVersion = z.infer<typeof articleVersionSchema>;

export const ingestOutcomes = ['created', 'replaced', 'unchanged', 'silent-update'] as const;
export const ingestResponseSchema = z.object({
  outcome: z.enum(ingestOutcomes),
  /** Top-level record fields the request changed (empty when created or unchanged). */
  changed: z.array(z.string()),
  version: articleVersionSchema,
});
export type IngestResponse = z.infer<typeof ingestResponseSchema>;

export const publishResponseSchema = z.object({
  outcome: z.enum(['published', 'already-published']),
  version: articleVersionSchema,
});
export type PublishResponse = z.infer<typeof publishResponseSchema>;

export const articleSummarySchema = z.object({
  id: z.string(),
  /** The version GET /articles/:id answers; null until one is published. */
  latestPublishedVersion: z.number().int().nullable(),
  publishedAt: z.string().nullable(),
  latestVersion: z.number().int(),
  versions: z.array(z.object({ version: z.number().int(), state: z.enum(['unpublished', 'published']) })),
});
export type ArticleSummary = z.infer<typeof articleSummarySchema>;
export const articleListSchema = z.object({ data: z.array(articleSummarySchema) });

/** Machine-readable reason of every error answer, beside its message. */
export const articleStoreErrorCodes = [
  'bad-request',
  'unauthorized',
  'no-such-route',
  'method-not-allowed',
  'article-not-found',
  'version-not-found',
  'not-published',
  'published',
  'older-than-published',
  'too-large',
  'unsupported-media-type',
  'unavailable',
  'internal',
] as const;
export type ArticleStoreErrorCode = (typeof articleStoreErrorCodes)[number];
export const articleStoreErrorSchema = z.object({ error: z.string(), code: z.string() });
export type ArticleStoreErrorBody = { error: string; code: ArticleStoreErrorCode };
