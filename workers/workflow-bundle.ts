// Where a worker's workflow code comes from. Under tsx (development, tests) it is bundled from
// the sources at start-up unless CUSTODY_WORKFLOW_BUNDLE names a prebuilt one. The compiled
// build (`npm run build`) prebuilds it once into dist/, and a compiled worker always loads that
// file: bundling at start-up would need webpack, swc and the TypeScript sources in production.
import fs from 'node:fs';
import path from 'node:path';
import { DefaultLogger, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { REPO_ROOT } from '../config/config';

export const WORKFLOWS_ENTRY = path.join(REPO_ROOT, 'workflows', 'index.ts');
export const PREBUILT_BUNDLE = path.join(REPO_ROOT, 'dist', 'workflow-bundle.js');

const compiled = __filename.endsWith('.js');

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: new DefaultLogger('WARN') });
}

/** The prebuilt bundle this worker must load, or undefined when it bundles its own. */
export function prebuiltBundlePath(): string | undefined {
  const given = process.env.CUSTODY_WORKFLOW_BUNDLE;
  if (given) return given;
  if (!compiled) return undefined;
  if (!fs.existsSync(PREBUILT_BUNDLE)) throw new Error(`the compiled worker loads its workflows from ${PREBUILT_BUNDLE}, which is missing: run npm run build`);
  return PREBUILT_BUNDLE;
}

// `node dist/workers/workflow-bundle.js` (the last step of npm run build) writes the bundle.
if (require.main === module) {
  void bundleWorkflows().then(({ code }) => {
    fs.writeFileSync(PREBUILT_BUNDLE, code);
    console.log(`workflow bundle: ${path.relative(REPO_ROOT, PREBUILT_BUNDLE)} (${(code.length / 1024).toFixed(0)} KiB)`);
  });
}
