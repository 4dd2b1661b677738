// The activities as Temporal adapters, without Temporal: the names the workflows (and the
// recorded histories) call them by, and the libraries' PermanentErrors becoming non-retryable
// ApplicationFailures of the same type while every other error is left to be retried.
import assert from 'node:assert/strict';
import os from 'node:os';
import { ApplicationFailure } from '@temporalio/common';
import { createActivities, type ActivityDeps } from '../activities';
import { toFailure } from '../activities/shared';
import { PermanentError } from '../common/errors';
import { defaultConfig } from '../config/config';
import type { InspectedObject } from '../sources';
import { FileStorage } from '../storage';

function activitiesWith(parts: Partial<ActivityDeps>) {
  const unused = new Proxy({}, { get: (_t, name) => assert.fail(`the test did not expect a call of ${String(name)}`) });
  const work = new FileStorage(os.tmpdir());
  return createActivities({
    config: defaultConfig(os.tmpdir()),
    work,
    reports: work,
    ledger: unused,
    source: unused,
    service: unused,
    ...parts,
  } as ActivityDeps);
}

describe('activities', () => {
  it('keep the names the workflows and the recorded histories use', () => {
    assert.deepEqual(Object.keys(activitiesWith({})), [
      'checkObject',
      'recordFreeze',
      'downloadObject',
      'createSip',
      'submitSip',
      'checkVerdict',
      'confirmOutcome',
      'recordStage',
      'deliverVerdicts',
      'verdictsSince',
      'fetchPackage',
      'expandPackage',
      'validatePackage',
      'buildOutputs',
      'depositPreview',
      'publishVersion',
      'notifyPublished',
      'replacePublished',
      'recordArticleEvent',
      'sendNewPackages',
      'checkCopyVersion',
      'prepareDeposition',
      'uploadCopyFiles',
      'publishDeposition',
      'recordCopyEvent',
      'listDeliveryFiles',
      'deliverToDestination',
      'fixitySlice',
      'checkPackageFixity',
      'harvestPlan',
      'harvestSource',
      'sendNotifications',
    ]);
  });

  it("fail a library's PermanentError as a non-retryable ApplicationFailure of its type", async () => {
    const service = { verdict: () => Promise.reject(new PermanentError('no such SIP', 'ServiceResourceNotFound')) } as unknown as ActivityDeps['service'];
    await assert.rejects(activitiesWith({ service }).checkVerdict({ sipId: 'sip-1' }), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure, String(e));
      assert.deepEqual([e.type, e.nonRetryable, e.message], ['ServiceResourceNotFound', true, 'no such SIP']);
      assert.match(e.stack ?? '', /PermanentError: no such SIP/, 'the stack is where the library found the problem');
      return true;
    });
  });

  it('name the object when checkObject refuses a payload path', async () => {
    const inspected: InspectedObject = {
      metadata: {} as InspectedObject['metadata'],
      files: [{ path: 'a/../b.txt', size: 1 }],
      lastChangedAt: new Date(0).toISOString(),
      heads: new Map(),
    };
    const source = { inspect: async () => inspected } as unknown as ActivityDeps['source'];
    await assert.rejects(activitiesWith({ source }).checkObject({ objectId: 'obj-1' }), (e: unknown) => {
      assert.ok(e instanceof ApplicationFailure, String(e));
      assert.equal(e.type, 'UnsafePath');
      assert.equal(e.nonRetryable, true);
      assert.match(e.message, /^object "obj-1": unsafe payload path "a\/\.\.\/b\.txt"/);
      return true;
    });
  });

  it('leave every other error as it is, for Temporal to retry', async () => {
    const down = new Error('preservation service did not answer');
    const service = { verdict: () => Promise.reject(down) } as unknown as ActivityDeps['service'];
    await assert.rejects(activitiesWith({ service }).checkVerdict({ sipId: 'sip-1' }), (e: unknown) => e === down);
    const failure = ApplicationFailure.retryable('already a failure', 'Whatever');
    assert.equal(toFailure(failure), failure);
  });
});
