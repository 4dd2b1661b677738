// The article's JSON record: what the article store and the web site get for one version of
// one article. It holds no clock reading and lists assets in a fixed order, so building it
// twice from the same package gives the same bytes, and its checksum can decide whether a
// re-run or a silent update changed anything.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { normalisePackagePath, stripExtension } from './asset-refs';
import type { ExpandedFile } from './expand-zip';
import type { ValidatedArticle } from './jats';
import type { PackageName } from './package-name';
import type { WebFigure } from './web-figures';

export const ARTICLE_RECORD_SCHEMA = 'custody.article-record.v1';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const AuthorSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('person'),
    surname: z.string().min(1),
    givenNames: z.string().optional(),
    suffix: z.string().optional(),
    orcid: z.string().optional(),
    corresponding: z.boolean(),
  }),
  z.object({ kind: z.literal('collab'), name: z.string().min(1) }),
  z.object({ kind: z.literal('anonymous') }),
]);

export const ArticleDateSchema = z.object({
  type: z.string(),
  date: z.string().regex(/^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$/),
  publicationFormat: z.string().optional(),
});

export const AssetRoleSchema = z.enum(['article-xml', 'figure', 'media', 'supplement', 'pdf', 'self-uri', 'other', 'web-figure']);

export const RecordAssetSchema = z.object({
  /** Relative to its location: the expanded package, or the web output folder. */
  path: z.string().min(1),
  location: z.enum(['package', 'web']),
  role: AssetRoleSchema,
  mediaType: z.string(),
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  /** The xlink:href(s) in the XML that reference it. */
  hrefs: z.array(z.string()).optional(),
  /** For a web derivative: the package file it was made from. */
  derivedFrom: z.string().optional(),
  width: z.number().int().positive().optional(),
  height: z.number().int().positive().optional(),
});

export const ArticleRecordSchema = z.object({
  schema: z.literal(ARTICLE_RECORD_SCHEMA),
  journal: z.string().min(1),
  articleId: z.string().min(1),
  version: z.number().int().positive(),
  status: z.enum(['poa', 'vor']),
  package: z.object({ key: z.string().min(1), timestamp: z.string().optional() }),
  doi: z.string().optional(),
  elocationId: z.string().optional(),
  articleType: z.string().optional(),
  title: z.string().min(1),
  authors: z.array(AuthorSchema).min(1),
  pubDates: z.array(ArticleDateSchema).min(1),
  history: z.array(ArticleDateSchema),
  licence: z.object({ href: z.string().optional(), text: z.string().optional(), copyrightStatement: z.string().optional() }),
  keywords: z.array(z.string()),
  subjects: z.array(z.string()),
  assets: z.array(RecordAssetSchema),
});

export type ArticleRecord = z.infer<typeof ArticleRecordSchema>;
export type RecordAsset = z.infer<typeof RecordAssetSchema>;

const MEDIA_TYPES: Record<string, string> = {
  xml: 'application/xml',
  pdf: 'application/pdf',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
  eps: 'application/postscript',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  csv: 'text/csv',
  txt: 'text/plain',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  zip: 'application/zip',
};

/** By extension: the package is what the publisher said it is; the derivatives are what sharp made. */
export function mediaTypeOf(file: string): string {
  return MEDIA_TYPES[file.slice(stripExtension(file).length + 1).toLowerCase()] ?? 'application/octet-stream';
}

export interface ArticleRecordInput {
  name: PackageName;
  article: ValidatedArticle;
  /** Every file the expansion wrote (expandZip's result). */
  files: readonly ExpandedFile[];
  webFigures?: readonly WebFigure[];
}

export function buildArticleRecord({ name, article, files, webFigures = [] }: ArticleRecordInput): ArticleRecord {
  const byPath = new Map(files.map((f) => [normalisePackagePath(f.path), f]));
  const roles = new Map<string, { role: RecordAsset['role']; hrefs: string[] }>();
  roles.set(article.xmlFile, { role: 'article-xml', hrefs: [] });
  for (const reference of article.references) {
    for (const file of reference.files) {
      if (!byPath.has(file)) throw new Error(`Article record for ${name.key}: ${file} is referenced by the XML but not among the expanded files`);
      const known = roles.get(file);
      if (known) {
        if (!known.hrefs.includes(reference.href)) known.hrefs.push(reference.href);
      } else roles.set(file, { role: reference.role, hrefs: [reference.href] });
    }
  }

  const packageAssets: RecordAsset[] = [...byPath.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([file, f]) => {
      const known = roles.get(file);
      return {
        path: file,
        location: 'package',
        role: known?.role ?? 'other',
        mediaType: mediaTypeOf(file),
        size: f.size,
        sha256: f.sha256,
        ...(known && known.hrefs.length > 0 ? { hrefs: known.hrefs } : {}),
      };
    });
  const webAssets: RecordAsset[] = [...webFigures]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((w) => ({
      path: w.path,
      location: 'web',
      role: 'web-figure',
      mediaType: w.mediaType,
      size: w.size,
      sha256: w.sha256,
      derivedFrom: w.derivedFrom,
      width: w.width,
      height: w.height,
    }));

  const m = article.metadata;
  return ArticleRecordSchema.parse({
    schema: ARTICLE_RECORD_SCHEMA,
    journal: name.journal,
    articleId: name.articleId,
    version: name.version,
    status: name.status,
    package: { key: name.key, ...(name.timestamp !== undefined ? { timestamp: name.timestamp } : {}) },
    doi: m.doi,
    elocationId: m.elocationId,
    articleType: m.articleType,
    title: m.title,
    authors: m.authors,
    pubDates: m.pubDates,
    history: m.history,
    licence: m.licence,
    keywords: m.keywords,
    subjects: m.subjects,
    assets: [...packageAssets, ...webAssets],
  });
}

/** Writes the record as pretty JSON (temporary name, then rename); returns its size and sha256. */
export async function writeArticleRecord(file: string, record: ArticleRecord): Promise<{ path: string; size: number; sha256: string }> {
  const bytes = Buffer.from(`${JSON.stringify(record, null, 2)}\n`);
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  await fs.promises.writeFile(`${file}.partial`, bytes);
  await fs.promises.rename(`${file}.partial`, file);
  return { path: file, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}
