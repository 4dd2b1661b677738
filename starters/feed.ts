// custody feed: each article package found under a location goes to its article's workflow by
// signal-with-start, so the workflow exists when the first package arrives and versions of one
// article queue up in one place. The workflow ignores a package it has already had (same
// location, key and ETag), so feeding twice handles each package once.
import os from 'node:os';
import type { Client } from '@temporalio/client';
import type { PublishMode } from '../common/articles';
import type { Config } from '../config/config';
import { articlePackages, sendArticlePackage } from '../activities/article-packages';
import { openStorage } from '../storage';

export interface FeedOutcome {
  key: string;
  action: 'sent' | 'refused' | 'would-send';
  articleId?: string;
  version?: number;
  reason?: string;
}

export interface FeedOptions {
  filter?: RegExp;
  mode?: PublishMode;
  max?: number;
  dryRun?: boolean;
  /** At most one package per this many milliseconds. */
  rateMs?: number;
  onOutcome?: (o: FeedOutcome) => void;
}

export async function feed(deps: { client: Client; config: Config }, location: string, opts: FeedOptions = {}): Promise<FeedOutcome[]> {
  const { client, config } = deps;
  const storage = openStorage(location, config.storage.s3);
  const toPackage = articlePackages(config, location, { fedBy: `${os.userInfo().username}@${os.hostname()}`, mode: opts.mode });
  const outcomes: FeedOutcome[] = [];
  let sent = 0;
  for await (const o of storage.list('')) {
    if (opts.filter && !opts.filter.test(o.key)) continue;
    if (opts.max !== undefined && sent >= opts.max) break;
    const report = (outcome: FeedOutcome) => {
      outcomes.push(outcome);
      opts.onOutcome?.(outcome);
    };
    const { package: pkg, refused } = toPackage(o);
    if (!pkg) {
      report({ key: o.key, action: 'refused', reason: refused });
      continue;
    }
    if (opts.dryRun) {
      report({ key: o.key, action: 'would-send', articleId: pkg.articleId, version: pkg.version });
      sent++;
      continue;
    }
    if (opts.rateMs && sent > 0) await new Promise((r) => setTimeout(r, opts.rateMs));
    await sendArticlePackage(client, config, pkg);
    sent++;
    report({ key: o.key, action: 'sent', articleId: pkg.articleId, version: pkg.version });
  }
  return outcomes;
}
