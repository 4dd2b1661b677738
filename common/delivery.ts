// Names and message definitions of delivery: each preserved package and each published article
// copied to the destinations its rules select. No Node imports: workflows import this module.
import type { RetrySettings } from './preservation';

/** Each destination has a task queue of its own, so one that is down or slow holds back only its own deliveries. */
export const destinationTaskQueue = (destination: string): string => `custody-deliver-${destination}`;

/**
 * One delivery workflow per item and version (the SIP of a package, the version of an article):
 * a new version is delivered even while an earlier one waits for a destination that is down.
 */
export const deliveryWorkflowId = (item: Pick<DeliveryItem, 'itemId' | 'prefix'>): string =>
  `deliver:${item.itemId}:${item.prefix.split('/').filter(Boolean).pop()}`;

/** What is delivered: the files under `prefix` in one of custody's storages, named at the destination under `as`. */
export interface DeliveryItem {
  /** The object id, or `article:<id>` — what `custody status` and `deliver` take. */
  itemId: string;
  /** `packages`: preserved packages kept for delivery; `site`: the published articles. */
  storage: 'packages' | 'site';
  prefix: string;
  /** The folder at the destination. */
  as: string;
}

export interface DeliveryRule {
  pipeline: 'preservation' | 'publishing';
  /** A regular expression on the object or article id; none: every item of the pipeline. */
  match?: string;
  to: string[];
}

export interface DeliverySettings {
  rules: DeliveryRule[];
  retry: Pick<RetrySettings, 'initialInterval' | 'backoffCoefficient' | 'maximumInterval'>;
  heartbeatTimeout: string;
}

/** The destinations the first rules matching `id` select (every matching rule adds its own). */
export function destinationsFor(settings: DeliverySettings | undefined, pipeline: DeliveryRule['pipeline'], id: string): string[] {
  if (!settings) return [];
  const to = new Set<string>();
  for (const r of settings.rules) if (r.pipeline === pipeline && (!r.match || new RegExp(r.match).test(id))) r.to.forEach((d) => to.add(d));
  return [...to].sort();
}

export interface DeliverItemInput {
  item: DeliveryItem;
  destinations: string[];
  settings: DeliverySettings;
  by: string;
}

export interface DestinationOutcome {
  destination: string;
  state: 'delivered' | 'skipped' | 'failed';
  files: number;
  sent: number;
  error?: string;
}

/** Content problems are not retried blindly: the destination got other bytes than were sent, or refused them. */
export const DELIVERY_CONTENT_FAILURES = ['DeliveryMismatch', 'DestinationRefused'];
