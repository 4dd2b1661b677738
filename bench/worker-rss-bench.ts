// npm run bench -- worker: the peak RSS of a real `custody worker --queues package` process while
// it builds the SIP of a 2 GiB object (and of a 128 MiB one, to see whether memory grows with
// the object; BENCH_RSS_SIZES, in MiB, changes them), the compiled production build (`npm run build`, NODE_ENV=production) against the
// same worker run from the TypeScript sources through tsx. Everything else (workflows, download,
// submit) runs in a second worker process that is not measured, on a real Temporal dev server
// with the reference service. Each measured worker is a fresh process, used for one object;
// its peak is the kernel's VmHWM, read just before it is stopped. The baseline, in the same run:
// the SDK's own floor, a bare Temporal worker in plain JavaScript (no custody code) polling a
// queue with one no-op activity.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from '../test/support/custody-system';
import { stopTemporalServer, testTemporal } from '../test/support/temporal-server';
import { ensureObject } from './bench-objects';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET_MIB = 96;
const SIZES = (process.env.BENCH_RSS_SIZES ?? '2048,128').split(',').map(Number);
const BIG = Math.max(...SIZES);
const SMALL = Math.min(...SIZES);
const CONTENDERS = ['compiled', 'tsx'] as const;
type Contender = (typeof CONTENDERS)[number];

function statusKiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

function startWorker(sys: CustodySystem, queues: string, contender: Contender, name: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker', '--queues', queues], {
    env: {
      ...process.env,
      NODE_ENV: contender === 'compiled' ? 'production' : 'development',
      CUSTODY_WORKFLOW_BUNDLE: contender === 'compiled' ? '' : process.env.CUSTODY_WORKFLOW_BUNDLE,
      CUSTODY_CONFIG: sys.writeWorkerConfig(name),
      TEMPORAL_ADDRESS: testTemporal.address,
      TEMPORAL_NAMESPACE: testTemporal.namespace,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Ready once it says it serves its queues; its first line also says how it runs.
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (!out.includes('\n')) return;
      const expected = contender === 'compiled' ? ', compiled,' : ', TypeScript via tsx,';
      if (out.includes(expected)) resolve(child);
      else reject(new Error(`worker started as something else: ${out}`));
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready: ${out}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** An object in the source folder made of hard links to the generated data, so each run has a fresh id at no disk cost. */
function placeObject(sys: CustodySystem, id: string, data: string): void {
  const dir = path.join(sys.sourceDir, id);
  fs.mkdirSync(dir);
  for (const name of fs.readdirSync(data)) fs.linkSync(path.join(data, name), path.join(dir, name));
  const metadata = { id, title: `Benchmark object ${id}`, creators: [], dates: ['2024'], modifiedAt: '2024-01-01T00:00:00Z', subjects: [], identifiers: [] };
  fs.writeFileSync(path.join(dir, 'object.json'), JSON.stringify(metadata));
}

async function measure(sys: CustodySystem, contender: Contender, sizeMiB: number, run: number): Promise<{ idleMiB: number; peakMiB: number }> {
  const id = `bench-${contender}-${sizeMiB}-${run}`;
  placeObject(sys, id, ensureObject(sizeMiB));
  const worker = await startWorker(sys, 'package', contender, `package-${id}`);
  try {
    const idleMiB = statusKiB(worker.pid!, 'VmRSS') / 1024;
    const [outcome] = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: [id] });
    if (outcome?.action !== 'started') throw new Error(`${id} was not started: ${JSON.stringify(outcome)}`);
    const deadline = Date.now() + 10 * 60_000;
    while ((await sys.ledger.packagesOf(id)).length === 0) {
      if (Date.now() > deadline) throw new Error(`${id}: no SIP after 10 minutes`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return { idleMiB, peakMiB: statusKiB(worker.pid!, 'VmHWM') / 1024 };
  } finally {
    await stop(worker);
  }
}

const BARE_WORKER = `
const { NativeConnection, Worker } = require('@temporalio/worker');
(async () => {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const worker = await Worker.create({ connection, namespace: process.env.TEMPORAL_NAMESPACE, taskQueue: 'bench-bare', activities: { noop: async () => undefined } });
  console.log('ready');
  process.on('SIGTERM', () => worker.shutdown());
  await worker.run();
  await connection.close();
})();`;

/** The bare worker's RSS once it polls (it never gets work): what any Temporal worker in Node costs. */
async function bareWorkerMiB(): Promise<number> {
  const child = spawn(process.execPath, ['-e', BARE_WORKER], {
    cwd: REPO_ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the bare worker exited (${code})`)));
  });
  await new Promise((r) => setTimeout(r, 2000));
  const mib = statusKiB(child.pid!, 'VmHWM') / 1024;
  await stop(child);
  return mib;
}

async function main() {
  execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const size of SIZES) ensureObject(size);
  const peaks = new Map<string, number[]>();
  const idles = new Map<Contender, number[]>();
  const bare: number[] = [];
  // The dev server goes down however the run ends, so the next run finds its port free.
  try {
    const sys = await startCustodySystem({
      inProcessWorkers: false,
      config: { guards: { maxObjectBytes: 4 * 1024 ** 3, maxFiles: 1000, allowZeroLengthFiles: false, settleTime: '1ms' } },
    });
    const rest = await startWorker(sys, 'io,download,submit', 'tsx', 'rest');
    try {
      for (let run = 1; run <= RUNS; run++) {
        bare.push(await bareWorkerMiB());
        console.log(`run ${run}: bare Temporal worker (plain JS, no custody code)  peak ${bare.at(-1)!.toFixed(1)} MiB`);
        for (const size of SIZES) {
          // Interleaved, so drift on the machine hits both alike.
          for (const contender of CONTENDERS) {
            const m = await measure(sys, contender, size, run);
            peaks.set(`${contender} ${size}`, [...(peaks.get(`${contender} ${size}`) ?? []), m.peakMiB]);
            idles.set(contender, [...(idles.get(contender) ?? []), m.idleMiB]);
            console.log(
              `run ${run}: ${contender.padEnd(8)} ${String(size).padStart(3)} MiB  idle ${m.idleMiB.toFixed(1)} MiB  peak ${m.peakMiB.toFixed(1)} MiB`,
            );
          }
        }
      }
    } finally {
      await stop(rest);
      await sys.close();
    }
  } finally {
    await stopTemporalServer();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\nworker peak RSS while building a SIP (median of ${RUNS}, Node ${process.version}):`);
  console.log(`  baseline: a bare Temporal worker, idle, ${median(bare).toFixed(1)} MiB`);
  for (const contender of CONTENDERS) {
    const p = (size: number) => median(peaks.get(`${contender} ${size}`)!);
    const idle = median(idles.get(contender)!);
    console.log(
      `  ${contender.padEnd(8)} idle ${idle.toFixed(1)} MiB, ${SMALL} MiB object ${p(SMALL).toFixed(1)} MiB, ${BIG} MiB object ${p(BIG).toFixed(1)} MiB` +
        ` (${BIG} vs ${SMALL}: ${(p(BIG) - p(SMALL)).toFixed(1)} MiB; over the bare worker: ${(p(BIG) - median(bare)).toFixed(1)} MiB)` +
        `  target ≤ ${TARGET_MIB} MiB: ${p(BIG) <= TARGET_MIB ? 'PASS' : 'MISS'}`,
    );
  }
  const saved = median(peaks.get(`tsx ${BIG}`)!) - median(peaks.get(`compiled ${BIG}`)!);
  console.log(`  compiled saves ${saved.toFixed(1)} MiB of peak RSS against tsx at ${BIG} MiB`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
