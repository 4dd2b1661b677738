// BENCH=enqueue npm run bench: `custody enqueue` of N ids (BENCH_ENQUEUE_IDS, 10,000) against a bare
// client.workflow.start loop at the same concurrency (ENQUEUE_CONCURRENCY), on the dev server,
// interleaved (BENCH_RUNS rounds, 1). No worker runs: both measure starting, not running. Each
// round enqueues a source of its own, so no round lists another's objects.
import fs from 'node:fs';
import path from 'node:path';
import { TASK_QUEUES } from '../common/preservation';
import { openSource } from '../sources';
import { ENQUEUE_CONCURRENCY, enqueue } from '../starters/enqueue';
import { pipelineSettings } from '../starters/pipeline-settings';
import { forEachConcurrently } from '../common/concurrently';
import { startCustodySystem } from '../test/support/custody-system';
import { removeTemporalState, stopTemporalServer } from '../test/support/temporal-server';

const N = Number(process.env.BENCH_ENQUEUE_IDS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const TARGET = 1.2;

async function main(): Promise<void> {
  const sys = await startCustodySystem({ inProcessWorkers: false });
  try {
    console.log(`enqueue: ${N} ids, ${ENQUEUE_CONCURRENCY} starts at a time, ${RUNS} round(s); ${new Date().toISOString()}`);
    const custodyS: number[] = [];
    const bareS: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const dir = path.join(sys.root, `source-${r}`);
      const ids = Array.from({ length: N }, (_, i) => `e${r}-${String(i + 1).padStart(6, '0')}`);
      for (const id of ids) {
        fs.mkdirSync(path.join(dir, id), { recursive: true });
        fs.writeFileSync(path.join(dir, id, 'object.json'), JSON.stringify({ id, title: `Object ${id}`, modifiedAt: '2024-01-01T00:00:00Z' }));
        fs.writeFileSync(path.join(dir, id, 'data.txt'), id);
      }
      let t0 = performance.now();
      const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: openSource(dir, sys.config.storage.s3) }, {});
      const c = (performance.now() - t0) / 1000;
      if (outcomes.filter((o) => o.action === 'started').length !== N) throw new Error('custody enqueue did not start every id');
      custodyS.push(c);
      console.log(`  round ${r + 1}: custody enqueue ${c.toFixed(1)} s (${(N / c).toFixed(0)} starts/s; lists the source, checks the ledger, records each)`);
      // The floor: the same workflow and arguments, nothing listed, checked or recorded.
      const settings = pipelineSettings(sys.config);
      t0 = performance.now();
      await forEachConcurrently(ids, ENQUEUE_CONCURRENCY, async (objectId) => {
        await sys.client.workflow.start('preserveObject', {
          workflowId: `bare:${objectId}`,
          taskQueue: TASK_QUEUES.io,
          args: [{ objectId, settings, attempt: 1, reason: 'bench' }],
        });
      });
      const b = (performance.now() - t0) / 1000;
      bareS.push(b);
      console.log(`  round ${r + 1}: bare start loop  ${b.toFixed(1)} s (${(N / b).toFixed(0)} starts/s)`);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const c = med(custodyS);
    const b = med(bareS);
    console.log(`enqueue of ${N}: custody ${c.toFixed(1)} s, bare loop ${b.toFixed(1)} s, custody/bare ${(c / b).toFixed(2)} (target ≤ ${TARGET})`);
  } finally {
    // Thousands of workflows no worker will run: the server and its state go with the bench,
    // rather than each workflow being terminated (sys.close).
    await sys.ledger.close();
    await stopTemporalServer();
    removeTemporalState();
    fs.rmSync(sys.root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
