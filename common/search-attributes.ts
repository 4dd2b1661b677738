// Custom search attributes an operator filters on in the Web UI and `custody status`.
// temporal-config/search-attributes.json registers the same names with the dev server.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { Stage } from './preservation';

export const SA = {
  pipeline: defineSearchAttributeKey('CustodyPipeline', SearchAttributeType.KEYWORD),
  objectId: defineSearchAttributeKey('CustodyObjectId', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('CustodyStage', SearchAttributeType.KEYWORD),
  /** The stage as an operator sorts objects: one saved filter per state (README, Web UI guide). */
  state: defineSearchAttributeKey('CustodyState', SearchAttributeType.KEYWORD),
  frozen: defineSearchAttributeKey('CustodyFrozen', SearchAttributeType.BOOL),
  buildId: defineSearchAttributeKey('CustodyBuildId', SearchAttributeType.KEYWORD),
} as const;

/** What an operator filters on: the stages an object passes through without anyone's help count as one state. */
export type CustodyState = 'queued' | 'running' | 'waiting-verdict' | 'rejected' | 'frozen' | 'confirmed' | 'failed' | 'no-verdict';

const STATE_OF_STAGE: Record<Stage, CustodyState> = {
  queued: 'queued',
  deferred: 'queued',
  'waiting-for-window': 'queued',
  downloading: 'running',
  packaging: 'running',
  submitting: 'running',
  'awaiting-verdict': 'waiting-verdict',
  confirming: 'running',
  confirmed: 'confirmed',
  rejected: 'rejected',
  frozen: 'frozen',
  failed: 'failed',
  // Kept apart from failed: nothing went wrong here, the service never answered (reenqueue asks again).
  'no-verdict': 'no-verdict',
};

export const custodyState = (stage: Stage): CustodyState => STATE_OF_STAGE[stage];
