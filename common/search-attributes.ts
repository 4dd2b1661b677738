// Custom search attributes an operator filters on in the Web UI and `custody status`.
// temporal-config/search-attributes.json registers the same names with the dev server.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA = {
  pipeline: defineSearchAttributeKey('CustodyPipeline', SearchAttributeType.KEYWORD),
  objectId: defineSearchAttributeKey('CustodyObjectId', SearchAttributeType.KEYWORD),
  stage: defineSearchAttributeKey('CustodyStage', SearchAttributeType.KEYWORD),
  frozen: defineSearchAttributeKey('CustodyFrozen', SearchAttributeType.BOOL),
  buildId: defineSearchAttributeKey('CustodyBuildId', SearchAttributeType.KEYWORD),
} as const;
