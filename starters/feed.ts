// custody feed: each article package found under a location goes to its article's workflow by
// signal-with-start, so the workflow exists when the first package arrives and versions of one
// article queue up in one place. The workflow ignores a package it has already had (same
// location, key and ETag), so feeding twice handles each package once.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { ArticlePackage, PublishMode } from '../common/articles';
import type { Config } from '../config/config';
import type { Ledger } from '../ledger';
import { compilePackageNamePattern } from '../articles/package-name';
import { openStorage, parseStorageUrl, type StoredObject } from '../storage';
import { operatorName } from './operator';
import { articlePackageOf, sendArticlePackage } from '../activities/article-packages';

export interface FeedOutcome {
  key: string;
  /** held: custody is drained; `custody resume` sends it. */
  action: 'sent' | 'refused' | 'would-send' | 'held';
  articleId?: string;
  version?: number;
  /** The identity of the bytes sent (the S3 ETag; for a folder, size and modification time). */
  etag?: string;
  reason?: string;
}

export interface FeedOptions {
  filter?: RegExp;
  mode?: PublishMode;
  max?: number;
  dryRun?: boolean;
  /** At most one package per this many milliseconds. */
  rateMs?: number;
  /** Called once the location is listed, with how many keys (after the filter) it will go through. */
  onStart?: (keys: number) => void;
  onOutcome?: (o: FeedOutcome) => void;
}

/**
 * A location as the workers will read it: a relative folder is made absolute here, since a
 * worker runs elsewhere (and from another folder) than the command that fed the package.
 */
export function packageLocation(location: string): string {
  const parsed = parseStorageUrl(location);
  return parsed.kind === 'file' && !location.startsWith('file:') ? path.resolve(parsed.path) : location.replace(/\/$/, '');
}

/** The configured package-name pattern, compiled once. */
export function packageNamePattern(config: Config): RegExp | undefined {
  return config.articles.namePattern ? compilePackageNamePattern(config.articles.namePattern) : undefined;
}

/** One package as custody hands it to its article's workflow (see articlePackageOf); fed by the operator unless `fedBy` says otherwise. */
export function articlePackage(location: string, o: StoredObject, opts: { pattern?: RegExp; mode?: PublishMode; fedBy?: string } = {}): ArticlePackage {
  return articlePackageOf(location, o, { ...opts, fedBy: opts.fedBy ?? operatorName() });
}

/** Sends every package under `location` (a dry run lists and checks them and needs no client). */
export async function feed(deps: { client?: Client; config: Config; ledger?: Ledger }, location: string, opts: FeedOptions = {}): Promise<FeedOutcome[]> {
  const { client, config, ledger } = deps;
  if (!client && !opts.dryRun) throw new Error('feed needs a Temporal client to send packages (only a dry run does without)');
  const where = packageLocation(location);
  const storage = openStorage(where, config.storage.s3);
  const pattern = packageNamePattern(config);
  const fedBy = operatorName();
  const listed: StoredObject[] = [];
  for await (const o of storage.list('')) if (!opts.filter || opts.filter.test(o.key)) listed.push(o);
  opts.onStart?.(listed.length);
  const outcomes: FeedOutcome[] = [];
  const report = (outcome: FeedOutcome) => {
    outcomes.push(outcome);
    opts.onOutcome?.(outcome);
  };
  let sent = 0;
  for (const o of listed) {
    if (opts.max !== undefined && sent >= opts.max) break;
    let pkg: ArticlePackage;
    try {
      pkg = articlePackage(where, o, { pattern, mode: opts.mode, fedBy });
    } catch (e) {
      report({ key: o.key, action: 'refused', reason: (e as Error).message });
      continue;
    }
    const sentAs = { key: o.key, articleId: pkg.articleId, version: pkg.version, etag: pkg.etag };
    if (opts.dryRun) {
      report({ ...sentAs, action: 'would-send' });
      sent++;
      continue;
    }
    if (ledger && (await ledger.drain.state())) {
      await ledger.drain.hold({ kind: 'article', itemId: `${pkg.articleId} ${o.key}`, args: pkg, heldBy: fedBy, at: new Date().toISOString() });
      report({ ...sentAs, action: 'held' });
      continue;
    }
    if (opts.rateMs && sent > 0) await new Promise((r) => setTimeout(r, opts.rateMs));
    await sendArticlePackage(client!, config, pkg);
    sent++;
    report({ ...sentAs, action: 'sent' });
  }
  return outcomes;
}
