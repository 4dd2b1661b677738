// The one module the worker bundles: every workflow custody runs.
export { preserveObject } from './preserve-object';
export { syncProcessedSips } from './sync-processed-sips';
export { publishArticle } from './publish-article';
export { watchArticles } from './watch-articles';
export { copyDataset } from './copy-dataset';
export { deliverItem } from './deliver-item';
export { auditFixity } from './audit-fixity';
export { syncSource } from './sync-source';
export { notify } from './notify';
