// Histories recorded from real runs (test/histories/, written by the end-to-end tests with
// RECORD_HISTORIES=1) must replay against today's workflow code without a nondeterminism
// error: a change that would break running workflows goes behind patched().
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { REPO_ROOT } from '../config/config';

const HISTORIES = path.join(REPO_ROOT, 'test', 'histories');

describe('replay of recorded histories', function () {
  this.timeout(120_000);

  it('replays every recorded history with the current workflow code', async () => {
    const files = fs.readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 2, 'recorded histories are kept under test/histories (record with RECORD_HISTORIES=1 npm run test:unit)');
    const histories = files.map((f) => ({
      workflowId: f.replace(/\.json$/, ''),
      history: JSON.parse(fs.readFileSync(path.join(HISTORIES, f), 'utf8')) as unknown,
    }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowsPath: path.join(REPO_ROOT, 'workflows', 'index.ts') }, histories)) {
      replayed++;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, files.length);
    assert.deepEqual(failures, []);
  });
});
