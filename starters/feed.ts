// custody feed: each article package found under a location goes to its article's workflow by
// signal-with-start, so the workflow exists when the first package arrives and versions of one
// article queue up in one place. The workflow ignores a package it has already had (same
// location, key and ETag), so feeding twice handles each package once.
import os from 'node:os';
import type { Client } from '@temporalio/client';
import { ARTICLE_TASK_QUEUES, articlePackageSignal, articleWorkflowId, type ArticlePackage, type PublishMode } from '../common/articles';
import type { Config } from '../config/config';
import { compilePackageNamePattern, parsePackageName } from '../articles/package-name';
import { openStorage } from '../storage';
import { articleSettings } from './pipeline-settings';
import type { publishArticle } from '../workflows/publish-article';

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
  const pattern = config.articles.namePattern ? compilePackageNamePattern(config.articles.namePattern) : undefined;
  const fedBy = `${os.userInfo().username}@${os.hostname()}`;
  const outcomes: FeedOutcome[] = [];
  let sent = 0;
  for await (const o of storage.list('')) {
    if (opts.filter && !opts.filter.test(o.key)) continue;
    if (opts.max !== undefined && sent >= opts.max) break;
    const report = (outcome: FeedOutcome) => {
      outcomes.push(outcome);
      opts.onOutcome?.(outcome);
    };
    let name;
    try {
      name = parsePackageName(o.key, { pattern });
    } catch (e) {
      report({ key: o.key, action: 'refused', reason: (e as Error).message });
      continue;
    }
    const pkg: ArticlePackage = {
      location,
      key: o.key,
      // Size and time stand in for the ETag that the storage listing does not give.
      etag: `${o.size}:${o.modifiedAt}`,
      size: o.size,
      articleId: name.articleId,
      version: name.version,
      status: name.status,
      ...(opts.mode ? { mode: opts.mode } : {}),
      fedBy,
      fedAt: new Date().toISOString(),
    };
    if (opts.dryRun) {
      report({ key: o.key, action: 'would-send', articleId: name.articleId, version: name.version });
      sent++;
      continue;
    }
    if (opts.rateMs && sent > 0) await new Promise((r) => setTimeout(r, opts.rateMs));
    await client.workflow.signalWithStart<typeof publishArticle, [ArticlePackage]>('publishArticle', {
      workflowId: articleWorkflowId(name.articleId),
      taskQueue: ARTICLE_TASK_QUEUES.io,
      args: [{ articleId: name.articleId, settings: articleSettings(config) }],
      signal: articlePackageSignal,
      signalArgs: [pkg],
      staticSummary: `article ${name.articleId}`,
    });
    sent++;
    report({ key: o.key, action: 'sent', articleId: name.articleId, version: name.version });
  }
  return outcomes;
}
