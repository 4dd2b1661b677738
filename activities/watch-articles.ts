// The activity of the article watch (the watchArticles workflow, started by the `watch-articles`
// Schedule): lists `articles.source`, and sends each package that arrived after the cursor to its
// article's workflow, exactly as `custody feed` does (article-packages.ts). Like the poller's, it
// runs on SCHEDULES_TASK_QUEUE and needs the worker's Temporal client.
import os from 'node:os';
import ms from 'ms';
import type { Client } from '@temporalio/client';
import type { WatchCursor, WatchPage } from '../common/watch-articles';
import { openStorage, type StoredObject } from '../storage';
import { articlePackages, sendArticlePackage } from './article-packages';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

const time = (iso: string) => Date.parse(iso);

/** Is the object after the cursor: newer than its time, or as old and not handled then? */
export function isAfter(cursor: WatchCursor, o: StoredObject): boolean {
  const t = time(o.modifiedAt);
  const at = time(cursor.modifiedAt);
  return t > at || (t === at && !cursor.keys.includes(o.key));
}

/** The cursor once `o` (taken in modified-time order) is handled. */
export function advance(cursor: WatchCursor, o: StoredObject): WatchCursor {
  const t = time(o.modifiedAt);
  const at = time(cursor.modifiedAt);
  if (t > at) return { location: cursor.location, modifiedAt: o.modifiedAt, keys: [o.key] };
  if (t === at) return { ...cursor, keys: [...cursor.keys, o.key] };
  return cursor;
}

/**
 * `temporal` is the worker's own client: sendNewPackages signals workflows through it. A worker
 * that runs no schedules (and the tests of single activities) may leave it out.
 */
export function createWatchArticlesActivities({ config, ledger }: ActivityDeps, temporal?: Client) {
  const client = () => {
    if (!temporal) throw new Error('this worker was built without a Temporal client: it cannot signal workflows');
    return temporal;
  };

  return mapLibraryErrors({
    /**
     * One page of the watch: the oldest `limit` objects in `articles.source` after the cursor and
     * older than the settle time, in (modified time, key) order; each package is sent to its
     * article, each other key refused with the reason its name is not a package name. Both move
     * the cursor past them, so a refused key is reported once, never retried. A cursor of another
     * location (`articles.source` changed) is not used: that location starts at `since`.
     */
    async sendNewPackages({ cursor, since, limit }: { cursor?: WatchCursor; since: string; limit: number }): Promise<WatchPage> {
      const location = config.articles.source;
      const storage = openStorage(location, config.storage.s3);
      let at: WatchCursor = cursor?.location === location ? cursor : { location, modifiedAt: since, keys: [] };
      const settledBefore = Date.now() - ms(config.schedules.watchArticles.settleTime);
      const found: StoredObject[] = [];
      let settling = 0;
      let listed = 0;
      for await (const o of storage.list('')) {
        if (++listed % 1000 === 0) heartbeat({ step: 'list', listed });
        if (!isAfter(at, o)) continue;
        if (time(o.modifiedAt) > settledBefore) settling++;
        else found.push(o);
      }
      found.sort((a, b) => time(a.modifiedAt) - time(b.modifiedAt) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      const page = found.slice(0, limit);
      const toPackage = articlePackages(config, location, { fedBy: `schedule watch-articles@${os.hostname()}` });
      const result: WatchPage = { cursor: at, sent: [], refused: [], settling, more: found.length > page.length };
      for (const o of page) {
        const { package: pkg, refused } = toPackage(o);
        if (pkg) {
          // Drained (a watch that was under way when the schedule was paused): held, and counted
          // as sent, since `custody resume` sends it and the cursor moves past it.
          if (await ledger.drain.state())
            await ledger.drain.hold({ kind: 'article', itemId: `${pkg.articleId} ${o.key}`, args: pkg, heldBy: pkg.fedBy, at: new Date().toISOString() });
          else await sendArticlePackage(client(), config, pkg);
          result.sent.push({ key: o.key, articleId: pkg.articleId, version: pkg.version });
        } else result.refused.push({ key: o.key, reason: refused });
        at = advance(at, o);
        heartbeat({ step: 'send', done: result.sent.length + result.refused.length, of: page.length });
      }
      result.cursor = at;
      return result;
    },
  });
}
