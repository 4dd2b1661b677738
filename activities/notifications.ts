// The `notify` Schedule's one activity: add the held-too-long notifications, then POST each due
// row of the outbox (JSON, the bearer token from the environment variable config names), mark it
// sent on a 2xx answer, else try it again later with backoff — without limit: a notification is
// retried until it is delivered. The token never enters a workflow's input or history.
import { Context } from '@temporalio/activity';
import ms from 'ms';
import type { NotificationBody, NotificationKind, NotifyResult } from '../common/notifications';
import type { NotificationRow } from '../ledger/notifications';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

/** Rows read at a time; a run goes on until nothing is due or its time is spent. */
const PAGE = 100;
/** A run stops sending after this long and leaves the rest to the next run, well inside its timeout. */
const RUN_BUDGET_MS = 3 * 60_000;
const POST_TIMEOUT_MS = 15_000;

export function createNotifyActivities({ config, ledger }: ActivityDeps) {
  const settings = config.notifications;
  const urlFor = (what: NotificationKind): string | null => settings.urls[what] ?? settings.url;

  /** The workflow's page in the Temporal Web UI, in the namespace this worker serves; no workflow (a drain): the list. */
  function linkOf(workflowId: string): string {
    const namespace = Context.current().info.workflowNamespace ?? config.temporal.namespace;
    const workflows = `${config.temporal.webUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows`;
    return workflowId ? `${workflows}/${encodeURIComponent(workflowId)}` : workflows;
  }

  function bodyOf(n: NotificationRow): NotificationBody {
    return {
      key: n.key,
      what: n.what,
      id: n.subject,
      stage: n.stage,
      reason: n.reason,
      link: linkOf(n.workflowId),
      at: n.at,
      ...(n.detail === undefined ? {} : { detail: n.detail }),
    };
  }

  async function post(url: string, body: NotificationBody): Promise<string | undefined> {
    const token = settings.tokenEnv ? process.env[settings.tokenEnv] : undefined;
    try {
      const answer = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': body.key, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      await answer.body?.cancel();
      // The URL may carry a secret in its path or query: messages name its origin only.
      return answer.ok ? undefined : `${new URL(url).origin} answered ${answer.status}`;
    } catch (e) {
      return `${new URL(url).origin}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)}`;
    }
  }

  const backoff = (attempts: number) => Math.min(ms(settings.retry.initialInterval) * 2 ** Math.min(attempts, 30), ms(settings.retry.maximumInterval));

  return mapLibraryErrors({
    async sendNotifications(): Promise<NotifyResult> {
      const result: NotifyResult = { held: 0, sent: 0, failed: 0, skipped: 0, waiting: 0 };
      const started = Date.now();
      if (settings.events.includes('held') && urlFor('held'))
        result.held = await ledger.notifications.addHeld(new Date(Date.now() - ms(settings.heldLongerThan)).toISOString());
      // A receiver that failed once in this run is not asked again until the next run.
      const down = new Set<string>();
      for (;;) {
        const due = (await ledger.notifications.due(new Date().toISOString(), PAGE)).filter((n) => !down.has(urlFor(n.what) ?? ''));
        if (due.length === 0 || Date.now() - started > RUN_BUDGET_MS) break;
        for (const n of due) {
          const url = urlFor(n.what);
          if (!settings.events.includes(n.what) || !url) {
            await ledger.notifications.markSkipped(n.key, `not sent: notifications.${url ? 'events' : 'url'} leaves out ${n.what}`);
            result.skipped++;
            continue;
          }
          if (down.has(url)) continue;
          const error = await post(url, bodyOf(n));
          if (error === undefined) {
            await ledger.notifications.markSent(n.key, new Date().toISOString());
            result.sent++;
          } else {
            await ledger.notifications.markFailed(n.key, error, new Date(Date.now() + backoff(n.attempts)).toISOString());
            result.failed++;
            down.add(url);
          }
          heartbeat({ sent: result.sent, failed: result.failed });
        }
      }
      result.waiting = (await ledger.notifications.summary()).waiting;
      return result;
    },
  });
}
