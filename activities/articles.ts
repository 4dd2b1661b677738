// The activities of the publishing pipeline (the publishArticle workflow). Each run of a package
// keeps its outputs in working storage under `articles/<article>/v<version>/run<run>/` (the zip,
// the expanded package, the validated article, the web figures and the record), so a re-run
// never overwrites another and a stage may run on another worker than the one before it.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import type { ArticleStage, ArticleStatus } from '../common/articles';
import type { ArticleRecord as StoreRecord } from '../common/article-store';
import { ArticleStoreRefused } from '../articles/article-store-client';
import { buildArticleRecord, type ArticleRecord } from '../articles/article-record';
import { ZipRefused, expandZip, type ExpandResult } from '../articles/expand-zip';
import { ArticleInvalid, findArticleXml, validateArticlePackage, type ValidatedArticle } from '../articles/jats';
import { PackageNameRefused, compilePackageNamePattern, parsePackageName } from '../articles/package-name';
import { WebFigureFailed, figuresToDerive, makeWebFigures, type WebFigure } from '../articles/web-figures';
import { buildId } from '../config/build-id';
import { joinKey, openStorage, type Storage } from '../storage';
import { getJson, putJson } from '../storage/small-objects';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

export interface ArticleJob {
  articleId: string;
  version: number;
  status: ArticleStatus;
  run: number;
  key: string;
}

const runPrefix = (j: ArticleJob) => joinKey('articles', j.articleId, `v${j.version}`, `run${j.run}`);

/** The library's refusals of a package as the failure types the workflow rejects on. */
function refusal(e: unknown): unknown {
  if (e instanceof ZipRefused || e instanceof PackageNameRefused) return new PermanentError(e.message, 'PackageRefused');
  if (e instanceof ArticleInvalid || e instanceof WebFigureFailed) return new PermanentError(e.message, 'InvalidArticle');
  if (e instanceof ArticleStoreRefused) return new PermanentError(`the article store refused: ${e.message}`, 'ArticleStoreRefused');
  return e;
}

/** The named files of a stored folder into `dir`, heartbeating as the bytes move. */
async function downloadFiles(storage: Storage, prefix: string, files: readonly string[], dir: string): Promise<void> {
  for (const rel of files) {
    await storage.getFile(joinKey(prefix, rel), path.join(dir, ...rel.split('/')), {
      onProgress: (bytesDone) => heartbeat({ step: 'download', file: rel, bytesDone }),
    });
    heartbeat({ step: 'download', file: rel });
  }
}

async function uploadDir(storage: Storage, dir: string, files: Array<{ path: string; size: number; sha256: string }>, prefix: string): Promise<void> {
  for (const f of files) {
    await storage.putFile(joinKey(prefix, f.path), path.join(dir, ...f.path.split('/')), {
      size: f.size,
      sha256: f.sha256,
      onProgress: (bytesDone) => heartbeat({ step: 'store', file: f.path, bytesDone, bytesTotal: f.size }),
    });
    heartbeat({ step: 'store', file: f.path });
  }
}

/**
 * The site serves a run's package files, web figures and record.json side by side under one
 * prefix: a package file in the place of either would be overwritten there (and served with
 * another checksum than the record gives), so such a package is refused.
 */
function siteClashes(record: ArticleRecord): string[] {
  const problems: string[] = [];
  const byPath = new Map<string, ArticleRecord['assets'][number]>();
  for (const asset of record.assets) {
    if (asset.path.toLowerCase() === 'record.json') problems.push(`the package's ${asset.path} is where custody puts the article's record`);
    const other = byPath.get(asset.path.toLowerCase());
    if (other) {
      const [file, web] = other.location === 'web' ? [asset, other] : [other, asset];
      problems.push(`the package's ${file.path} is where custody puts the web derivative of ${web.derivedFrom ?? 'a figure'}`);
    }
    byPath.set(asset.path.toLowerCase(), asset);
  }
  return problems;
}

/**
 * Says what the step is doing, then does it: a call that moves no bytes we can count (the article
 * store, the webhook, an image decode) is kept alive with these details by the shared keep-alive.
 */
async function keepAlive<T>(details: unknown, work: () => Promise<T>): Promise<T> {
  heartbeat(details);
  return await work();
}

export function createArticleActivities({ config, ledger, work, site, articleStore }: ActivityDeps) {
  const scratchRoot = path.join(config.dataDir, 'scratch');
  const settings = config.articles;
  const namePattern = settings.namePattern ? compilePackageNamePattern(settings.namePattern) : undefined;

  /** A scratch folder for one step, removed however the step ends. */
  async function inScratch<T>(j: ArticleJob, step: string, fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = path.join(scratchRoot, `article-${j.articleId}-v${j.version}-run${j.run}-${step}`);
    await fs.rm(dir, { recursive: true, force: true });
    try {
      return await fn(dir);
    } catch (e) {
      throw refusal(e);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  /** What the expansion of this run wrote (expanded.json). */
  async function expandedOf(j: ArticleJob): Promise<ExpandResult> {
    const expanded = await getJson<ExpandResult>(work, joinKey(runPrefix(j), 'expanded.json'));
    if (!expanded) throw new Error(`${work.urlOf(runPrefix(j))} lacks expanded.json: the expansion stage did not finish there`);
    return expanded;
  }

  /** Everything the site serves for a run: the package's files and the web figures, with their records' names. */
  async function copyToSite(j: ArticleJob, sitePrefix: string): Promise<ArticleRecord> {
    const record = await getJson<ArticleRecord>(work, joinKey(runPrefix(j), 'record.json'));
    if (!record) throw new Error(`${work.urlOf(runPrefix(j))} has no record.json: the build stage did not finish there`);
    for (const asset of record.assets) {
      const from = joinKey(runPrefix(j), asset.location === 'web' ? 'web' : 'package', asset.path);
      await site.put(joinKey(sitePrefix, asset.path), () => work.read(from), {
        size: asset.size,
        sha256: asset.sha256,
        onProgress: (bytesDone) => heartbeat({ step: 'deposit', file: asset.path, bytesDone, bytesTotal: asset.size }),
      });
      heartbeat({ step: 'deposit', file: asset.path });
    }
    await putJson(site, joinKey(sitePrefix, 'record.json'), record);
    return record;
  }

  /** The article store's record of a run, its assets served from `sitePrefix`. */
  function storeRecord(record: ArticleRecord, sitePrefix: string, previewUrl?: string): StoreRecord {
    const url = (p: string) => `${settings.siteUrl.replace(/\/$/, '')}/${joinKey(sitePrefix, p)}`;
    const date = record.pubDates.find((d) => d.date.length === 10)?.date;
    return {
      id: record.articleId,
      version: record.version,
      status: record.status,
      title: record.title,
      ...(record.doi && /^10\.\d{4,9}\/\S+$/.test(record.doi) ? { doi: record.doi } : {}),
      authors: record.authors.map((a) => ({
        name: a.kind === 'person' ? [a.givenNames, a.surname].filter(Boolean).join(' ') : a.kind === 'collab' ? a.name : 'Anonymous',
      })),
      dates: date ? { published: date } : {},
      licence: record.licence.href ?? record.licence.text ?? record.licence.copyrightStatement ?? 'unknown',
      assets: record.assets.map((a) => ({ name: a.path, size: a.size, sha256: a.sha256, url: url(a.path), mediaType: a.mediaType })),
      ...(previewUrl ? { previewUrl } : {}),
    };
  }

  const activities = {
    /** The package from its source into this run's working prefix, checksummed on the way. */
    async fetchPackage(j: ArticleJob & { location: string; etag: string }): Promise<{ zipKey: string; size: number; sha256: string }> {
      parsePackageName(j.key, { pattern: namePattern });
      const zipKey = joinKey(runPrefix(j), 'package.zip');
      return inScratch(j, 'fetch', async (dir) => {
        const local = path.join(dir, 'package.zip');
        const source = openStorage(j.location, config.storage.s3);
        const got = await source.getFile(j.key, local, { onProgress: (bytes) => heartbeat({ step: 'fetch', bytesDone: bytes }) });
        await work.putFile(zipKey, local, {
          size: got.size,
          sha256: got.sha256,
          onProgress: (bytesDone) => heartbeat({ step: 'store', bytesDone, bytesTotal: got.size }),
        });
        return { zipKey, size: got.size, sha256: got.sha256 };
      });
    },

    /** Expands the zip safely (no escaping entries, links, bombs or encrypted entries) into the run's package folder. */
    async expandPackage(j: ArticleJob & { zipKey: string }): Promise<{ files: number; bytes: number; skipped: string[] }> {
      return inScratch(j, 'expand', async (dir) => {
        const zip = path.join(dir, 'package.zip');
        await work.getFile(j.zipKey, zip, { onProgress: (bytesDone) => heartbeat({ step: 'download', bytesDone }) });
        let expanded: ExpandResult;
        try {
          expanded = await expandZip(zip, path.join(dir, 'package'), {
            ...settings.limits,
            onProgress: ({ files, bytes }) => heartbeat({ step: 'expand', files, bytes }),
          });
        } catch (e) {
          // The refusal names the package as the operator knows it, not this scratch copy.
          if (e instanceof ZipRefused) throw new ZipRefused(j.key, e.refusals);
          throw e;
        }
        await uploadDir(work, expanded.target, expanded.files, joinKey(runPrefix(j), 'package'));
        await putJson(work, joinKey(runPrefix(j), 'expanded.json'), expanded);
        return { files: expanded.files.length, bytes: expanded.totalBytes, skipped: expanded.skipped.map((s) => `${s.entry} (${s.reason})`) };
      });
    },

    /** Checks the article XML against the package name and the files; every problem at once. Only the XML is read. */
    async validatePackage(j: ArticleJob): Promise<{ title: string; xmlFile: string }> {
      return inScratch(j, 'validate', async (dir) => {
        const name = parsePackageName(j.key, { pattern: namePattern });
        const files = (await expandedOf(j)).files.map((f) => f.path);
        await downloadFiles(work, joinKey(runPrefix(j), 'package'), [findArticleXml(files, name)], dir);
        const article = await validateArticlePackage(dir, files, name);
        await putJson(work, joinKey(runPrefix(j), 'article.json'), article);
        return { title: article.metadata.title, xmlFile: article.xmlFile };
      });
    },

    /** The web figures and the article's record (id, version, status, title, authors, dates, licence, assets). */
    async buildOutputs(j: ArticleJob): Promise<{ assets: number; webFigures: number; buildId: string }> {
      return inScratch(j, 'build', async (dir) => {
        const name = parsePackageName(j.key, { pattern: namePattern });
        const article = await getJson<ValidatedArticle>(work, joinKey(runPrefix(j), 'article.json'));
        if (!article) throw new Error(`${work.urlOf(runPrefix(j))} lacks article.json: the validation stage did not finish there`);
        const expanded = await expandedOf(j);
        // Only the figures the web derivatives are made from: the rest of the package stays where it is.
        const figures = figuresToDerive(article);
        const packageDir = path.join(dir, 'package');
        await downloadFiles(work, joinKey(runPrefix(j), 'package'), figures, packageDir);
        const webDir = path.join(dir, 'web');
        const webFigures: WebFigure[] = await keepAlive({ step: 'web figures' }, () => makeWebFigures(packageDir, figures, webDir));
        const record = buildArticleRecord({ name, article, files: expanded.files, webFigures });
        const clashes = siteClashes(record);
        if (clashes.length > 0) throw new PermanentError(`Article ${j.key} cannot be laid out on the site: ${clashes.join('; ')}`, 'InvalidArticle');
        const web = record.assets.filter((a) => a.location === 'web');
        await uploadDir(work, webDir, web, joinKey(runPrefix(j), 'web'));
        await putJson(work, joinKey(runPrefix(j), 'record.json'), record);
        return { assets: record.assets.length, webFigures: webFigures.length, buildId: buildId() };
      });
    },

    /** The run's outputs under the site's preview prefix, and the version ingested into the article store. */
    async depositPreview(j: ArticleJob): Promise<{ previewUrl: string }> {
      try {
        const prefix = joinKey('preview', j.articleId, `v${j.version}`, `run${j.run}`);
        const record = await copyToSite(j, prefix);
        const previewUrl = `${settings.siteUrl.replace(/\/$/, '')}/${joinKey(prefix, 'record.json')}`;
        await keepAlive({ step: 'ingest' }, () => articleStore.ingest(storeRecord(record, prefix, previewUrl)));
        return { previewUrl };
      } catch (e) {
        throw refusal(e);
      }
    },

    /** The published prefix, the store's ingest and publish, and the ledger's event: each idempotent, so a retry after a crash changes nothing twice. */
    async publishVersion(j: ArticleJob & { approvedBy: string }): Promise<{ at: string; url: string }> {
      try {
        const prefix = joinKey('published', j.articleId, `v${j.version}`);
        const record = await copyToSite(j, prefix);
        await keepAlive({ step: 'ingest' }, () => articleStore.ingest(storeRecord(record, prefix)));
        // A publish already done (a retry after the answer was lost) answers already-published with the first time.
        const published = await keepAlive({ step: 'publish' }, () => articleStore.publish(j.articleId, j.version));
        const at = published.version.publishedAt ?? new Date().toISOString();
        const url = `${config.articles.store.url.replace(/\/$/, '')}/articles/${j.articleId}/versions/${j.version}`;
        await ledger.recordEvent({
          key: `article:${j.articleId}:v${j.version}:published`,
          objectId: `article:${j.articleId}`,
          kind: 'article-published',
          detail: { version: j.version, run: j.run, approvedBy: j.approvedBy, url },
          at,
        });
        return { at, url };
      } catch (e) {
        throw refusal(e);
      }
    },

    /**
     * Tells the webhook of a publication. At least once: a worker that dies after the POST and
     * before Temporal hears of it is followed by another POST, so every notification carries an
     * id (also as the Idempotency-Key header) that the receiver deduplicates by.
     */
    async notifyPublished(j: ArticleJob & { at: string; url: string }): Promise<{ notified: boolean; id: string }> {
      const id = `article:${j.articleId}:v${j.version}:published`;
      if (!settings.webhookUrl) return { notified: false, id };
      const body = { id, event: 'article-published', articleId: j.articleId, version: j.version, status: j.status, url: j.url, publishedAt: j.at };
      const answer = await keepAlive({ step: 'notify' }, () =>
        fetch(settings.webhookUrl!, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': id },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        }),
      );
      await answer.body?.cancel();
      // A refusal is retried with the activity.
      if (!answer.ok) throw new Error(`the webhook ${new URL(settings.webhookUrl).origin} answered ${answer.status}`);
      return { notified: true, id };
    },

    /**
     * A silent update: the published files and record of this version replaced in place, no
     * notification. The diff is taken against what was published before the first attempt (kept
     * in the run's folder), so a retry after a crash half-way reports the same diff and still
     * removes the files the new package no longer has.
     */
    async replacePublished(
      j: ArticleJob & { by: string },
    ): Promise<{ summary: string; added: string[]; removed: string[]; replaced: string[]; changedFields: string[] }> {
      try {
        const prefix = joinKey('published', j.articleId, `v${j.version}`);
        const baseKey = joinKey(runPrefix(j), 'silent-update-base.json');
        let base = await getJson<{ site?: ArticleRecord; store?: StoreRecord }>(work, baseKey);
        if (!base) {
          const onSite = await getJson<ArticleRecord>(site, joinKey(prefix, 'record.json'));
          const stored = await keepAlive({ step: 'read the store' }, () => articleStore.getVersion(j.articleId, j.version));
          base = { site: onSite, store: stored?.record };
          await putJson(work, baseKey, base);
        }
        const record = await copyToSite(j, prefix);
        const old = new Map((base.site?.assets ?? []).map((a) => [a.path, a.sha256]));
        const now = new Map(record.assets.map((a) => [a.path, a.sha256]));
        const added = [...now.keys()].filter((p) => !old.has(p));
        const removed = [...old.keys()].filter((p) => !now.has(p));
        const replaced = [...now.keys()].filter((p) => old.has(p) && old.get(p) !== now.get(p));
        for (const p of removed) await site.remove(joinKey(prefix, p));
        const next = storeRecord(record, prefix);
        await keepAlive({ step: 'ingest' }, () => articleStore.ingest(next, { silentUpdate: true }));
        const before = (base.store ?? {}) as Record<string, unknown>;
        const after = next as unknown as Record<string, unknown>;
        const changedFields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
          (k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]),
        );
        const summary = `${added.length} added, ${removed.length} removed, ${replaced.length} replaced; record fields changed: ${changedFields.join(', ') || 'none'}`;
        return { summary, added, removed, replaced, changedFields };
      } catch (e) {
        throw refusal(e);
      }
    },

    /** One event in the article's ledger timeline (stages, skips, rejections, silent updates). */
    async recordArticleEvent(e: {
      articleId: string;
      kind: string;
      message: string;
      version?: number;
      stage?: ArticleStage;
      detail?: unknown;
      at: string;
      key: string;
    }): Promise<{ articleId: string; kind: string; at: string; buildId: string }> {
      await ledger.recordEvent({
        key: e.key,
        objectId: `article:${e.articleId}`,
        kind: e.kind === 'stage' ? `article-${e.stage}` : `article-${e.kind}`,
        detail: { message: e.message, version: e.version, detail: e.detail },
        at: e.at,
      });
      return { articleId: e.articleId, kind: e.kind, at: e.at, buildId: buildId() };
    },
  };
  return mapLibraryErrors(activities);
}
