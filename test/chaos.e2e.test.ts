// The short chaos run (bench/chaos): 30 objects through the preservation pipeline, two or more
// datasets copied to the reference deposit service and two articles published (versions, a
// silent update), worked by two worker processes, while a fixed seed's plan SIGKILLs workers,
// restarts the Temporal server, stops the S3 server and the reference service for a while, makes
// the deposit API and the article store fail for a while, enqueues and feeds items again, freezes
// and unfreezes some, and drains and resumes once. Nothing may be lost or done twice, every
// received package must hash to what the ledger recorded, and no secret may show.
import assert from 'node:assert/strict';
import { FAULT_KINDS, runChaos, type ChaosResult } from '../bench/chaos/chaos';
import { useOwnNamespace } from './support/temporal-server';

describe('chaos: faults at random moments (seed 13)', function () {
  // About 2–3 minutes on 2 idle cores; far longer when other runs load the machine.
  this.timeout(900_000);
  useOwnNamespace('custody-chaos-test');
  let r: ChaosResult;

  before(async () => {
    r = await runChaos({ seed: 13, objects: 30, maxExtraBytes: 512 * 1024, gapMs: [1000, 3000], outageMs: [1500, 4000], timeoutMs: 600_000 });
    console.log(`      ${r.line}`);
  });

  it('injects each kind of fault at least once', () => {
    for (const kind of FAULT_KINDS) assert.ok((r.faults[kind] ?? 0) >= 1, `${kind}: ${r.line}`);
  });

  it('loses nothing: every item confirmed, rejected and waiting, or frozen with a reason', () => {
    assert.deepEqual(r.lost, [], r.log.join('\n'));
    const { confirmed = 0, rejected = 0, frozen = 0 } = r.outcomes;
    assert.equal(confirmed + rejected + frozen, 30, r.line);
    assert.ok(confirmed > 0 && rejected > 0 && frozen > 0, r.line);
    assert.equal(r.outcomes['article-published'], 2, r.line);
    assert.ok((r.outcomes['copy-published'] ?? 0) >= 2, r.line);
  });

  it('does nothing twice, and every received package verifies', () => {
    assert.deepEqual(r.duplicates, [], r.log.join('\n'));
    assert.deepEqual(r.fixityFailures, []);
  });

  it('shows no secret in any workflow history or worker log', () => {
    assert.deepEqual(r.secretsFound, []);
  });
});
