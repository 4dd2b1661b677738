// Links into the Temporal Web UI, at the address the configuration gives (temporal.webUiUrl,
// which follows CUSTODY_TEMPORAL_UI_PORT and CUSTODY_TEMPORAL_UI_URL).
import type { Config } from '../config/config';

/** The saved filters of the README's Web UI guide. */
export const WEB_UI_FILTERS = {
  objects: 'CustodyPipeline = "preservation"',
  // A run that ended (reenqueued into a new run, or terminated) keeps the state it had last.
  rejected: 'CustodyState = "rejected" AND ExecutionStatus = "Running"',
  poller: 'WorkflowType = "syncProcessedSips"',
} as const;

/** The namespace's workflow list; a workflow's page is this plus `/<workflow id>`. */
export function workflowsUrl(config: Config): string {
  return `${config.temporal.webUiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows`;
}

/** The list filtered by a visibility query: by default the objects only, so the poller's runs do not hide them. */
export function workflowListUrl(config: Config, query: string = WEB_UI_FILTERS.objects): string {
  return `${workflowsUrl(config)}?query=${encodeURIComponent(query)}`;
}
