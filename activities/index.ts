// Every activity custody runs, built by one factory that receives their clients (ledger,
// source, preservation service, storages) so tests can hand in their own. Each pipeline's
// activities live in a file of their own; this combines them for the workers and gives the
// workflows their types (`ReturnType<typeof createActivities>`).
import type { Client } from '@temporalio/client';
import { createArticleActivities } from './articles';
import { createCopyActivities } from './copies';
import { createDeliveryActivities } from './delivery';
import { createFixityActivities } from './fixity';
import { createHarvestActivities } from './harvest';
import { createNotifyActivities } from './notifications';
import { createPreservationActivities } from './preservation';
import type { ActivityDeps } from './shared';
import { createSyncProcessedSipsActivities } from './sync-processed-sips';
import { createWatchArticlesActivities } from './watch-articles';

export type { ActivityDeps } from './shared';
export type { CreatedSip, RecordedFreeze, RecordedStage } from './preservation';

/**
 * `temporal` is the worker's own client: the poller's and the article watch's activities signal
 * workflows through it. A worker that runs no poller (and the tests of single activities) may
 * leave it out.
 */
export function createActivities(deps: ActivityDeps, temporal?: Client) {
  return {
    ...createPreservationActivities(deps),
    ...createSyncProcessedSipsActivities(deps, temporal),
    ...createArticleActivities(deps),
    ...createWatchArticlesActivities(deps, temporal),
    ...createCopyActivities(deps),
    ...createDeliveryActivities(deps),
    ...createFixityActivities(deps),
    ...createHarvestActivities(deps, temporal),
    ...createNotifyActivities(deps),
  };
}
