// How throughput grows with worker processes: the same number of small objects preserved end to
// end with one, two and three `custody worker` processes (each serving every queue with the
// default slots), in interleaved rounds. Run against the cluster with
//   npm run test:cluster -- test/cluster/scale-out.bench.ts
// or against the dev server with npx mocha test/cluster/scale-out.bench.ts. SCALE_OBJECTS sets the
// objects per round (default 30). Prints one line per round, then the server's memory and
// database size when it is the cluster.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { preserveWorkflowId } from '../../common/preservation';
import { REPO_ROOT } from '../../config/config';
import { enqueue } from '../../starters/enqueue';
import { startCustodySystem, type CustodySystem } from '../support/custody-system';
import { testTemporal } from '../support/temporal-server';

const ACCEPTED = Object.entries(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'expected-outcomes.json'), 'utf8')) as Record<string, string>)
  .filter(([, outcome]) => outcome === 'confirmed')
  .map(([id]) => id);
const OBJECTS = Number(process.env.SCALE_OBJECTS ?? 30);
const ROUNDS = [1, 2, 3, 3, 2, 1];

describe('scale-out: one, two and three worker processes', function () {
  this.timeout(1_800_000);
  let sys: CustodySystem;
  let configFile: string;
  const children: ChildProcess[] = [];

  before(async () => {
    sys = await startCustodySystem({ objects: ACCEPTED, config: { verdict: { pollAfter: '1s', deadline: '14d' } }, inProcessWorkers: false });
    configFile = sys.writeWorkerConfig('scale');
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await sys?.close();
  });

  it('prints objects per minute for each number of processes', async () => {
    const perMinute = new Map<number, number[]>();
    for (const [round, processes] of ROUNDS.entries()) {
      const ids = Array.from({ length: OBJECTS }, (_, i) => `${ACCEPTED[i % ACCEPTED.length]}-r${round}-${i}`);
      for (const id of ids) {
        const from = path.join(sys.sourceDir, id.replace(/-r\d+-\d+$/, ''));
        fs.cpSync(from, path.join(sys.sourceDir, id), { recursive: true });
        const file = path.join(sys.sourceDir, id, 'object.json');
        fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), id }));
      }
      const workers = Array.from({ length: processes }, () =>
        spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'], {
          env: { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace },
          stdio: ['ignore', 'pipe', 'ignore'],
        }),
      );
      children.push(...workers);
      // Timed from when every worker polls, so start-up (tsx, bundling) is not counted.
      await Promise.all(workers.map((w) => new Promise((resolve) => w.stdout!.once('data', resolve))));
      const started = Date.now();
      await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });
      for (const id of ids) assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId(id)).result()).stage, 'confirmed', id);
      const seconds = (Date.now() - started) / 1000;
      perMinute.set(processes, [...(perMinute.get(processes) ?? []), (OBJECTS / seconds) * 60]);
      console.log(`round ${round + 1}: ${processes} worker process(es), ${OBJECTS} objects confirmed in ${seconds.toFixed(1)} s`);
      await Promise.all(workers.map((w) => new Promise((resolve) => (w.once('exit', resolve), w.kill('SIGTERM')))));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const one = mean(perMinute.get(1)!);
    for (const [processes, xs] of [...perMinute].sort(([a], [b]) => a - b))
      console.log(`${processes} process(es): ${mean(xs).toFixed(1)} objects/min (${(mean(xs) / one).toFixed(2)}x one process)`);

    const clusterDir = process.env.CUSTODY_CLUSTER_DIR;
    if (process.env.CUSTODY_TEST_TEMPORAL_EXTERNAL && clusterDir) {
      const pid = fs.readFileSync(path.join(clusterDir, 'server.pid'), 'utf8').trim();
      const rss = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      const db = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${process.env.CUSTODY_CLUSTER_PG_PORT ?? 25532}/postgres` });
      await db.connect();
      const { rows } = await db.query<{ datname: string; size: string }>(
        `select datname, pg_size_pretty(pg_database_size(datname)) as size from pg_database where datname like 'temporal%' order by datname`,
      );
      await db.end();
      console.log(`server RSS ${Math.round(Number(rss) / 1024)} MiB; ${rows.map((r) => `${r.datname} ${r.size}`).join(', ')}`);
    }
  });
});
