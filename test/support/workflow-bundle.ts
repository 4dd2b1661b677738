// The workflows are bundled once per test run and every worker started by a test reuses the
// bundle, through the same CUSTODY_WORKFLOW_BUNDLE setting production workers use.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflows } from '../../workers/workflow-bundle';

let bundlePath: Promise<string> | undefined;

export async function useWorkflowBundle(): Promise<void> {
  bundlePath ??= (async () => {
    const { code } = await bundleWorkflows();
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'custody-bundle-')), 'workflows.js');
    fs.writeFileSync(file, code);
    return file;
  })();
  process.env.CUSTODY_WORKFLOW_BUNDLE = await bundlePath;
}
