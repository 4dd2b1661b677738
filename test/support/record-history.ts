// With RECORD_HISTORIES=1, tests keep the histories of their workflows under test/histories/
// for the replay test, exported by the Temporal CLI in the JSON form the SDK replays.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT } from '../../config/config';
import { testTemporal } from './temporal-server';

export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const { runId } = await handle.describe();
  const temporal = execFileSync(path.join(REPO_ROOT, 'temporal-config', 'get-temporal.sh'))
    .toString()
    .trim();
  const json = execFileSync(temporal, [
    'workflow',
    'show',
    '--workflow-id',
    handle.workflowId,
    '--run-id',
    runId,
    '--address',
    testTemporal.address,
    '--namespace',
    process.env.TEMPORAL_NAMESPACE ?? testTemporal.namespace,
    '--output',
    'json',
  ]);
  fs.writeFileSync(path.join(REPO_ROOT, 'test', 'histories', `${name}.json`), json);
}
