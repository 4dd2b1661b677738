// Delivery from the operator's side: `custody deliver ID [--to DEST]` delivers an item again on
// demand (skip-when-present makes that cheap), `status --destinations` shows each destination's
// deliveries, and `status ID` each of the item's destinations.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { deliveryWorkflowId, destinationsFor, type DeliverItemInput, type DeliveryItem, type DestinationOutcome } from '../common/delivery';
import { TASK_QUEUES } from '../common/preservation';
import type { Config } from '../config/config';
import { DELIVERY_STATES, type DeliveryRow, type Ledger } from '../ledger';
import { deliverySettings } from '../activities/article-packages';
import { openStorage } from '../storage';
import { articleIdOf, assertObjectId, isArticleRef } from './object-ids';
import { fit, printable } from './printable';
import { UserError } from './user-error';

/** What `id` delivers: an object's accepted package kept for delivery, or an article's published version. */
export async function deliveryItemOf(ledger: Ledger, config: Config, id: string): Promise<DeliveryItem> {
  if (isArticleRef(id)) {
    const articleId = articleIdOf(id);
    const published = (await ledger.timeline(id)).filter((e) => e.kind === 'article-published').at(-1);
    const version = (published?.detail as { version?: number } | undefined)?.version;
    if (!version) throw new UserError(`${id} has nothing published to deliver`);
    return { itemId: id, storage: 'site', prefix: `published/${articleId}/v${version}`, as: `${articleId}/v${version}` };
  }
  assertObjectId(id);
  const accepted = (await ledger.packagesOf(id)).filter((p) => p.verdict === 'accepted').at(-1);
  if (!accepted) throw new UserError(`${id} has no accepted package to deliver (custody status ${id} shows its state)`);
  const prefix = `${id}/${accepted.sipId}`;
  const kept = openStorage(config.delivery.packages, config.storage.s3);
  if (!(await kept.head(`${prefix}/${accepted.sipId}.tar`)))
    throw new UserError(
      `the package ${accepted.sipId} of ${id} was not kept for delivery (no delivery rule selected ${id} when it was confirmed); reenqueue --force preserves it again`,
    );
  return { itemId: id, storage: 'packages', prefix, as: id };
}

/** The destinations named with --to (each must be configured), else those the rules select. */
export function destinationsOf(config: Config, item: DeliveryItem, to: string[] | undefined): string[] {
  const configured = config.delivery.destinations.map((d) => d.name);
  if (to?.length) {
    const unknown = to.filter((d) => !configured.includes(d));
    if (unknown.length) throw new UserError(`unknown destination ${unknown.join(', ')} (delivery.destinations has ${configured.join(', ') || 'none'})`);
    return [...new Set(to)].sort();
  }
  const settings = { rules: config.delivery.rules, retry: config.delivery.retry, heartbeatTimeout: config.heartbeatTimeout };
  const selected = destinationsFor(settings, item.storage === 'site' ? 'publishing' : 'preservation', item.itemId);
  if (!selected.length)
    throw new UserError(`no delivery rule selects ${item.itemId}: name destinations with --to (configured: ${configured.join(', ') || 'none'})`);
  return selected;
}

/** Starts the delivery; with `wait`, returns each destination's outcome once every one has ended. */
export async function deliverNow(
  deps: { client: Client; config: Config; ledger: Ledger },
  id: string,
  opts: { to?: string[]; wait?: boolean },
  by: string,
): Promise<{ workflowId: string; destinations: string[]; outcomes?: DestinationOutcome[] }> {
  const item = await deliveryItemOf(deps.ledger, deps.config, id);
  const destinations = destinationsOf(deps.config, item, opts.to);
  const settings = deliverySettings(deps.config).delivery ?? { rules: [], retry: deps.config.delivery.retry, heartbeatTimeout: deps.config.heartbeatTimeout };
  const workflowId = deliveryWorkflowId(item);
  let handle;
  try {
    handle = await deps.client.workflow.start('deliverItem', {
      workflowId,
      taskQueue: TASK_QUEUES.io,
      args: [{ item, destinations, settings, by } satisfies DeliverItemInput],
      staticSummary: `deliver ${item.itemId} to ${destinations.join(', ')} (by ${by})`,
    });
  } catch (e) {
    if (e instanceof WorkflowExecutionAlreadyStartedError)
      throw new UserError(`a delivery of ${id} is under way (${workflowId}); custody status ${id} shows it`);
    throw e;
  }
  if (!opts.wait) return { workflowId, destinations };
  return { workflowId, destinations, outcomes: (await handle.result()) as DestinationOutcome[] };
}

/** An item's deliveries, one line per destination (for `status ID`). */
export function formatDeliveries(rows: DeliveryRow[]): string[] {
  if (!rows.length) return [];
  const lines = ['  deliveries:'];
  for (const r of rows) {
    const when = r.state === 'delayed' && r.delayedUntil ? ` until ${r.delayedUntil}` : '';
    lines.push(
      `    ${r.destination.padEnd(14)} ${r.state}${when}  attempts ${r.attempts}${r.sha256 ? `  sha256 ${r.sha256.slice(0, 16)}…` : ''}  (${r.updatedAt})`,
    );
    if (r.lastError) lines.push(`      last error: ${r.lastError}`);
  }
  return lines;
}

export type DestinationSummary = Awaited<ReturnType<Ledger['deliveries']['summary']>>[number];

/** `status --destinations`: one row per destination, configured ones included even before their first delivery. */
export async function destinationSummary(ledger: Ledger, config: Config): Promise<DestinationSummary[]> {
  const rows = await ledger.deliveries.summary();
  for (const { name } of config.delivery.destinations)
    if (!rows.some((r) => r.destination === name))
      rows.push({
        destination: name,
        counts: Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as DestinationSummary['counts'],
        nextRetry: null,
        lastError: null,
      });
  return rows.sort((a, b) => a.destination.localeCompare(b.destination));
}

export function formatDestinations(rows: DestinationSummary[]): string[] {
  if (!rows.length) return ['no destinations configured (delivery.destinations) and nothing delivered'];
  const w = Math.max(11, ...rows.map((r) => r.destination.length));
  const head = `${'DESTINATION'.padEnd(w)} DELIVERED  SKIPPED  PENDING  DELAYED  FAILED`;
  const out = [head];
  for (const r of rows) {
    const c = r.counts;
    out.push(
      `${r.destination.padEnd(w)} ${String(c.delivered).padStart(9)} ${String(c.skipped).padStart(8)} ${String(c.pending).padStart(8)} ${String(c.delayed).padStart(8)} ${String(c.failed).padStart(7)}`,
    );
    if (c.delayed && r.nextRetry) out.push(`${''.padEnd(w)}   delayed until ${r.nextRetry}${r.lastError ? `: ${r.lastError}` : ''}`);
    else if (r.lastError) out.push(`${''.padEnd(w)}   last error: ${r.lastError}`);
  }
  return out.map((l) => fit(printable(l)));
}
