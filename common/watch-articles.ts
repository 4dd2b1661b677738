// Names and types of the article watch: the `watch-articles` Schedule runs the watchArticles
// workflow, which sends each package that arrived in `articles.source` since its cursor to the
// package's article workflow. No Node imports: workflows import this module.

/** The schedule's id, also the id (before the schedule's time suffix) of the runs it starts. */
export const WATCH_ARTICLES_SCHEDULE = 'watch-articles';

/**
 * How far a watch has got in one location: the newest modified time it has handled and every key
 * it handled at exactly that time. An object is new when it is newer than `modifiedAt`, or as old
 * and not among `keys`: one written in the same millisecond (a folder) or second (S3) as the last
 * one handled is neither lost nor sent twice.
 */
export interface WatchCursor {
  /** The location the cursor belongs to: a cursor of another location is not used. */
  location: string;
  modifiedAt: string;
  keys: string[];
}

export interface WatchArticlesInput {
  /** Where to start when there is no cursor (a new schedule, or `articles.source` changed). ISO date-time; default: the beginning. */
  since?: string;
}

/** A key whose name is not a package name: reported once, and behind the cursor afterwards. */
export interface WatchRefusal {
  key: string;
  reason: string;
}

/** What one page of the watch did (the sendNewPackages activity). */
export interface WatchPage {
  cursor: WatchCursor;
  sent: Array<{ key: string; articleId: string; version: number }>;
  refused: WatchRefusal[];
  /** New objects changed within `settleTime`: still being written, perhaps; the next run takes them. */
  settling: number;
  /** More new objects than the page took. */
  more: boolean;
}

/** The watch's result, which the Schedule hands the next run (`workflowInfo().lastResult`): its cursor. */
export interface WatchArticlesResult {
  cursor: WatchCursor;
  sent: number;
  /** The packages sent, as `key (article vN)`; the first REPORTED_KEYS of them. */
  sentKeys: string[];
  refusedCount: number;
  /** The first REPORTED_KEYS refusals, with their reasons. */
  refused: WatchRefusal[];
  settling: number;
}

/** A run reports at most this many sent keys and refusals (the counts are complete). */
export const REPORTED_KEYS = 100;
