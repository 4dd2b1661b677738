// Names and message definitions of the publishing pipeline, shared by the article workflow, its
// activities, the CLI and the tests. No Node imports: workflows import this module.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeliverySettings } from './delivery';
import type { FreezeRequest, RetrySettings } from './preservation';

export const articleWorkflowId = (articleId: string): string => `article:${articleId}`;

/** Task queues of the publishing stages: fetching and expanding move data, building is CPU-bound. */
export const ARTICLE_TASK_QUEUES = {
  /** Workflow tasks and light I/O (ledger, article store, webhook). */
  io: 'custody-io',
  fetch: 'custody-download',
  build: 'custody-package',
} as const;
export type ArticleQueueRole = keyof typeof ARTICLE_TASK_QUEUES;

export type PublishMode = 'automatic' | 'preview';
export type ArticleStatus = 'poa' | 'vor';

/** One package as the feeder found it: where it is, and what its name says. */
export interface ArticlePackage {
  /** The source location the key is under (`s3://bucket/prefix` or a folder): no credentials. */
  location: string;
  key: string;
  /** The ETag (or, for a folder, size and mtime) when fed: feeding the same bytes twice handles them once. */
  etag: string;
  size: number;
  articleId: string;
  version: number;
  status: ArticleStatus;
  /** A per-package override of the mode from `feed --mode`. */
  mode?: PublishMode;
  fedBy: string;
  fedAt: string;
}

/** The identity of a fed package: the same key with the same bytes is the same package. */
export const packageIdentity = (p: Pick<ArticlePackage, 'location' | 'key' | 'etag'>): string => `${p.location}|${p.key}|${p.etag}`;

export const ARTICLE_STAGES = [
  'waiting',
  'fetching',
  'expanding',
  'validating',
  'building',
  'depositing',
  'awaiting-approval',
  'scheduled',
  'publishing',
  'published',
  'silent-updating',
  'rejected',
  'frozen',
  'failed',
] as const;
export type ArticleStage = (typeof ARTICLE_STAGES)[number];

export interface ArticleEvent {
  at: string;
  kind: string;
  version?: number;
  message: string;
}

export interface ArticleState {
  articleId: string;
  stage: ArticleStage;
  /** The published version, if any, with when it was published. */
  published?: { version: number; status: ArticleStatus; at: string; url: string };
  /** The version being worked on, its run number (each run writes under its own prefix) and mode. */
  current?: { version: number; status: ArticleStatus; run: number; mode: PublishMode; key: string };
  /** Packages waiting their turn, in version order. */
  pending: Array<{ version: number; status: ArticleStatus; key: string }>;
  /** A publication set by `approve --at`. */
  scheduledFor?: string;
  lastError?: string;
  frozenReason?: string;
  frozenBy?: string;
  lastEvent?: ArticleEvent;
  /** What the article is doing or waiting for, in words: the workflow's current details in the Web UI. */
  details?: string;
  updatedAt: string;
}

export interface ArticleSettings {
  retry: Record<ArticleQueueRole, RetrySettings>;
  heartbeatTimeout: string;
  /** The mode when no rule and no per-package override says otherwise. */
  defaultMode: PublishMode;
  /** First matching rule wins: by article id, by status, or a regex on the package key. */
  modeRules: Array<{ articleId?: string; status?: ArticleStatus; keyPattern?: string; mode: PublishMode }>;
  /** After this many packages the workflow continues as new, carrying its state. */
  continueAsNewAfter: number;
  /** Present when delivery rules exist: a published version is delivered to the destinations they select. */
  delivery?: DeliverySettings;
}

export interface PublishArticleInput {
  articleId: string;
  settings: ArticleSettings;
  /** Carried over by continue-as-new. */
  carried?: {
    published?: ArticleState['published'];
    pending: ArticlePackage[];
    /** Identities of packages already handled (the newest ones; bounded). */
    handled: string[];
    runs: Record<number, number>;
  };
}

export interface ApproveRequest {
  /** Defaults to the version awaiting approval. */
  version?: number;
  /** ISO date-time: publish then (a durable timer); approving again with another time moves it. */
  at?: string;
  by: string;
}
export interface RejectRequest {
  version?: number;
  reason: string;
  by: string;
}
export interface SilentUpdateRequest {
  package: ArticlePackage;
  by: string;
}

/** Sent by `custody feed` and the watch schedule (signal-with-start): a package arrived. */
export const articlePackageSignal = defineSignal<[ArticlePackage]>('articlePackage');
export const approveUpdate = defineUpdate<{ articleId: string; version: number; publishAt?: string }, [ApproveRequest]>('approve');
export const rejectUpdate = defineUpdate<{ articleId: string; version: number }, [RejectRequest]>('reject');
export const silentUpdateUpdate = defineUpdate<{ articleId: string; version: number; accepted: true }, [SilentUpdateRequest]>('silentUpdate');
export const articleStateQuery = defineQuery<ArticleState>('articleState');
/** The operator's updates under the same names as the preservation pipeline's, so one command reaches both. */
export const articleFreezeUpdate = defineUpdate<{ articleId: string; stoppedBefore: ArticleStage; frozenAt: string }, [FreezeRequest]>('freeze');
export const articleUnfreezeUpdate = defineUpdate<{ articleId: string; resumes: ArticleStage }, [{ by: string }]>('unfreeze');
/** A new run of the package the article is stuck on (rejected, failed or frozen), from fetch. */
export const articleReenqueueUpdate = defineUpdate<{ articleId: string; version: number }, [{ by: string }]>('reenqueue');

/** Which mode a package goes through: its own override, else the first matching rule, else the default. */
export function modeFor(pkg: ArticlePackage, settings: Pick<ArticleSettings, 'defaultMode' | 'modeRules'>): PublishMode {
  if (pkg.mode) return pkg.mode;
  for (const rule of settings.modeRules) {
    if (rule.articleId !== undefined && rule.articleId !== pkg.articleId) continue;
    if (rule.status !== undefined && rule.status !== pkg.status) continue;
    if (rule.keyPattern !== undefined && !new RegExp(rule.keyPattern).test(pkg.key)) continue;
    return rule.mode;
  }
  return settings.defaultMode;
}
