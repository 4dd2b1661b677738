// Sending article packages to their article's workflow: one implementation for `custody feed`
// (starters/feed.ts) and the watch schedule's activity (watch-articles.ts). Not an activity
// itself: it lives here because both reach it (starters import activities/, never the reverse).
// A package goes to the workflow `article:<id>` by signal-with-start, so the workflow exists when
// the first package arrives and versions of one article queue up in one place; the workflow
// ignores a package it already has (same location, key and ETag), so sending twice is harmless.
import type { Client } from '@temporalio/client';
import {
  ARTICLE_TASK_QUEUES,
  articlePackageSignal,
  articleWorkflowId,
  type ArticlePackage,
  type ArticleSettings,
  type PublishArticleInput,
  type PublishMode,
} from '../common/articles';
import type { DeliverySettings } from '../common/delivery';
import type { Config } from '../config/config';
import { compilePackageNamePattern, parsePackageName } from '../articles/package-name';
import type { StoredObject } from '../storage';

/** The part of config that travels in each article workflow's input. */
export function articleSettings(config: Config): ArticleSettings {
  const { articles } = config;
  return {
    retry: { io: config.retry.io, fetch: config.retry.download, build: config.retry.package },
    heartbeatTimeout: config.heartbeatTimeout,
    defaultMode: articles.defaultMode,
    modeRules: articles.modeRules,
    continueAsNewAfter: articles.continueAsNewAfter,
    ...deliverySettings(config),
  };
}

/** The delivery part of a workflow's settings; none without rules, so inputs stay as they were. */
export function deliverySettings(config: Config): { delivery?: DeliverySettings } {
  const { rules, retry } = config.delivery;
  return rules.length ? { delivery: { rules, retry, heartbeatTimeout: config.heartbeatTimeout } } : {};
}

/** A listed object as a package, or the reason its name is not a package name. */
export type PackageOrRefusal = { package: ArticlePackage; refused?: undefined } | { package?: undefined; refused: string };

/**
 * One listed object as the package custody hands to its article's workflow: what its name says
 * and which bytes it is. Throws PackageNameRefused (naming the key) when the name does not parse.
 */
export function articlePackageOf(location: string, o: StoredObject, by: { pattern?: RegExp; fedBy: string; mode?: PublishMode }): ArticlePackage {
  const name = parsePackageName(o.key, { pattern: by.pattern });
  return {
    location,
    key: o.key,
    // A folder has no ETag: size and modification time stand in for it.
    etag: o.etag ?? `${o.size}:${o.modifiedAt}`,
    size: o.size,
    articleId: name.articleId,
    version: name.version,
    status: name.status,
    ...(by.mode ? { mode: by.mode } : {}),
    fedBy: by.fedBy,
    fedAt: new Date().toISOString(),
  };
}

/**
 * Makes the packages of objects listed under `location`, with the configured name pattern;
 * `fedBy` names who sends them (user@host, or the schedule), `mode` overrides the mode rules.
 */
export function articlePackages(config: Config, location: string, by: { fedBy: string; mode?: PublishMode }) {
  const pattern = config.articles.namePattern ? compilePackageNamePattern(config.articles.namePattern) : undefined;
  return (o: StoredObject): PackageOrRefusal => {
    try {
      return { package: articlePackageOf(location, o, { ...by, pattern }) };
    } catch (e) {
      return { refused: (e as Error).message };
    }
  };
}

/** Signal-with-start of the package's article workflow (started with the current settings if it is not running). */
export async function sendArticlePackage(client: Client, config: Config, pkg: ArticlePackage): Promise<void> {
  await client.workflow.signalWithStart('publishArticle', {
    workflowId: articleWorkflowId(pkg.articleId),
    taskQueue: ARTICLE_TASK_QUEUES.io,
    args: [{ articleId: pkg.articleId, settings: articleSettings(config) } satisfies PublishArticleInput],
    signal: articlePackageSignal,
    signalArgs: [pkg],
    staticSummary: `article ${pkg.articleId}`,
  });
}
