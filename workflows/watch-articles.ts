// Started by the `watch-articles` Schedule: sends each article package that arrived in
// `articles.source` since the last run to its article's workflow (as `custody feed` does).
// The cursor — the newest modified time handled and the keys handled at exactly that time — is
// this workflow's result, which the Schedule hands the next run (`workflowInfo().lastResult`,
// the last *successful* run's result): a failed run moves nothing, and the next one sends again
// what it may have sent, which the article workflows ignore (same location, key and ETag).
import { log, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { SCHEDULES_TASK_QUEUE } from '../common/preservation';
import { REPORTED_KEYS, type WatchArticlesInput, type WatchArticlesResult, type WatchRefusal } from '../common/watch-articles';

type Activities = ReturnType<typeof createActivities>;
const { sendNewPackages } = proxyActivities<Activities>({
  taskQueue: SCHEDULES_TASK_QUEUE,
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  // The next scheduled run tries again; a run must not pile up behind an outage of the source.
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5 },
});

/** Objects taken per page: one activity sends them all. */
const PAGE = 200;

export async function watchArticles(input: WatchArticlesInput = {}): Promise<WatchArticlesResult> {
  const previous = workflowInfo().lastResult as WatchArticlesResult | undefined;
  const since = input.since ?? new Date(0).toISOString();
  let cursor = previous?.cursor;
  let sent = 0;
  let refusedCount = 0;
  const sentKeys: string[] = [];
  const refused: WatchRefusal[] = [];
  for (;;) {
    const page = await sendNewPackages.executeWithOptions({ summary: `article packages after ${cursor?.modifiedAt ?? since}` }, [
      { cursor, since, limit: PAGE },
    ]);
    cursor = page.cursor;
    sent += page.sent.length;
    sentKeys.push(...page.sent.slice(0, REPORTED_KEYS - sentKeys.length).map((s) => `${s.key} (${s.articleId} v${s.version})`));
    refusedCount += page.refused.length;
    refused.push(...page.refused.slice(0, REPORTED_KEYS - refused.length));
    for (const r of page.refused) log.warn(`watch-articles: ${r.key} is not a package (${r.reason}): not sent, and not looked at again`, { key: r.key });
    if (!page.more) return { cursor, sent, sentKeys, refusedCount, refused, settling: page.settling };
  }
}
