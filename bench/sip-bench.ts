// npm run bench: custody's SIP builder against `tar cf` and against bagit-python + `tar cf`, on
// the same 512 MiB object (8 files of random bytes, generated once under .data/bench/). Every run
// starts alike: outputs removed, dirty pages flushed (`sync`), the inputs read once so all three
// start from a warm page cache. The variants are interleaved run by run so drift hits all alike.
// custody runs in a child process (bench/build-child.ts) so its peak RSS is its own.
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BENCH, ensureObject } from './bench-objects';

const ROOT = path.resolve(__dirname, '..');
const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const TARGET = { vsTar: 1.15, vsBagit: 0.6, rssMiB: 128, vsFloor: 1.1 };
/** The manifest algorithm sets compared (config sip.algorithms): the default the preservation service requires first. */
const CHOICES = (process.env.BENCH_SIP_ALGORITHMS ?? 'sha256,sha512;sha512;sha256').split(';');

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** Same starting line for every run: no output left, nothing dirty to flush, inputs in the page cache. */
function prepare(inputs: string[], outputs: string[]): void {
  for (const o of outputs) fs.rmSync(o, { recursive: true, force: true });
  sh('sync', []);
  for (const dir of inputs) sh('sh', ['-c', `find "${dir}" -type f -exec cat {} + > /dev/null`]);
}

function timed(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

interface ChildResult {
  seconds: number;
  maxRssKiB: number;
  baselineRssKiB: number;
  cpuSeconds: number;
}

function runCustody(src: string, out: string, fsync: boolean, algorithms = 'sha256,sha512'): ChildResult & { wall: number } {
  let stdout = '';
  const wall = timed(() => {
    stdout = execFileSync(process.execPath, ['--import', 'tsx', path.join(__dirname, 'build-child.ts'), src, out, fsync ? '1' : '0', algorithms], {
      cwd: ROOT,
      encoding: 'utf8',
    });
  });
  return { ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult), wall };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s: number) => `${s.toFixed(3)} s`;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');

function hashFloor(): Record<'sha256' | 'sha512', number> {
  const buf = crypto.randomBytes(64 * MiB);
  const one = (alg: string) =>
    timed(() => {
      const h = crypto.createHash(alg);
      for (let i = 0; i < 8; i++) h.update(buf);
      h.digest();
    });
  return { sha256: median([1, 2, 3].map(() => one('sha256'))), sha512: median([1, 2, 3].map(() => one('sha512'))) };
}

function main() {
  const cpu = /model name\s*:\s*(.*)/.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
  console.log(`machine: ${os.availableParallelism()} cores (nproc), CPU "${cpu}", ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}`);
  console.log(
    `bagit-python: ${execFileSync('bagit.py', ['--version'], { encoding: 'utf8' }).trim()}, ${execFileSync('tar', ['--version'], { encoding: 'utf8' }).split('\n')[0]}`,
  );
  const big = ensureObject(512);
  const small = ensureObject(128);
  const work = path.join(BENCH, 'work');
  fs.mkdirSync(work, { recursive: true });
  const out = (name: string) => path.join(work, name);
  const bagCopy = out('bagit-object');

  const t: Record<string, number[]> = { custody: [], tar: [], custodyFsync: [], tarSync: [], bagit: [], custody128: [] };
  const rss: Record<string, number[]> = { custody512: [], custody128: [], baseline: [] };
  const cpuSeconds: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    console.log(`run ${run}/${RUNS}`);

    prepare([big], [out('custody.tar')]);
    const c = runCustody(big, out('custody.tar'), false);
    t.custody.push(c.seconds);
    rss.custody512.push(c.maxRssKiB / 1024);
    rss.baseline.push(c.baselineRssKiB / 1024);
    cpuSeconds.push(c.cpuSeconds);
    console.log(
      `  custody buildSip (no fsync)      ${fmt(c.seconds)}  (child process ${fmt(c.wall)} with tsx start-up)  peak RSS ${(c.maxRssKiB / 1024).toFixed(1)} MiB`,
    );

    prepare([big], [out('plain.tar')]);
    t.tar.push(timed(() => sh('tar', ['cf', out('plain.tar'), '-C', big, '.'])));
    console.log(`  tar cf                           ${fmt(t.tar.at(-1)!)}`);

    prepare([big], [out('custody.tar')]);
    const cs = runCustody(big, out('custody.tar'), true);
    t.custodyFsync.push(cs.seconds);
    console.log(`  custody buildSip (fsync)         ${fmt(cs.seconds)}`);

    prepare([big], [out('plain.tar')]);
    t.tarSync.push(
      timed(() => {
        sh('tar', ['cf', out('plain.tar'), '-C', big, '.']);
        sh('sync', [out('plain.tar')]);
      }),
    );
    console.log(`  tar cf + sync FILE               ${fmt(t.tarSync.at(-1)!)}`);

    fs.rmSync(bagCopy, { recursive: true, force: true });
    sh('cp', ['-r', big, bagCopy]);
    prepare([bagCopy], [out('bagit.tar')]);
    t.bagit.push(
      timed(() => {
        sh('bagit.py', ['--quiet', '--processes', '2', '--sha256', '--sha512', bagCopy]);
        sh('tar', ['cf', out('bagit.tar'), '-C', work, path.basename(bagCopy)]);
      }),
    );
    console.log(`  bagit.py --processes 2 + tar cf  ${fmt(t.bagit.at(-1)!)}`);

    prepare([small], [out('custody-128.tar')]);
    const s = runCustody(small, out('custody-128.tar'), false);
    t.custody128.push(s.seconds);
    rss.custody128.push(s.maxRssKiB / 1024);
    console.log(`  custody buildSip 128 MiB         ${fmt(s.seconds)}  peak RSS ${(s.maxRssKiB / 1024).toFixed(1)} MiB`);
  }

  const m = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, median(v)]));
  const peak512 = Math.max(...rss.custody512);
  const peak128 = Math.max(...rss.custody128);
  const hashes = hashFloor();
  // What no builder on this machine can beat: the tar's own I/O plus sha256 (payload), sha256
  // (the tar) and sha512 (payload) of every byte, spread perfectly over all cores.
  const floor = (m.tar + 2 * hashes.sha256 + hashes.sha512) / os.availableParallelism();

  console.log(`\nmedians of ${RUNS} runs, 512 MiB in 8 files:`);
  console.log(
    `  custody ${fmt(m.custody)} | tar cf ${fmt(m.tar)} | bagit+tar ${fmt(m.bagit)} | custody (fsync) ${fmt(m.custodyFsync)} | tar cf + sync ${fmt(m.tarSync)}`,
  );
  console.log(`  custody / tar cf            = ${(m.custody / m.tar).toFixed(2)} (target ≤ ${TARGET.vsTar})  ${verdict(m.custody / m.tar <= TARGET.vsTar)}`);
  console.log(
    `  custody / (bagit + tar cf)  = ${(m.custody / m.bagit).toFixed(2)} (target ≤ ${TARGET.vsBagit})  ${verdict(m.custody / m.bagit <= TARGET.vsBagit)}`,
  );
  console.log(`  with fsync: custody / (tar cf + sync) = ${(m.custodyFsync / m.tarSync).toFixed(2)}`);
  console.log(
    `  peak RSS 512 MiB = ${peak512.toFixed(1)} MiB (target ≤ ${TARGET.rssMiB})  ${verdict(peak512 <= TARGET.rssMiB)}; 128 MiB = ${peak128.toFixed(1)} MiB; growth ${(peak512 - peak128).toFixed(1)} MiB  ${verdict(peak512 - peak128 <= 8)}`,
  );
  console.log(`  RSS of the child before buildSip (node + tsx + imports): ${Math.max(...rss.baseline).toFixed(1)} MiB`);
  console.log(`  custody CPU (user+sys, whole child incl. tsx start-up): ${median(cpuSeconds).toFixed(2)} s`);
  console.log(`  custody / that lower bound = ${(m.custody / floor).toFixed(2)} (target ≤ ${TARGET.vsFloor})  ${verdict(m.custody / floor <= TARGET.vsFloor)}`);
  console.log(
    `  lower bound on ${os.availableParallelism()} cores: (tar cf ${fmt(m.tar)} + 2 × sha256 ${fmt(hashes.sha256)} + sha512 ${fmt(hashes.sha512)}) / ${os.availableParallelism()} = ${fmt(floor)} = ${(floor / m.tar).toFixed(2)} × tar cf`,
  );
  compareAlgorithms(big, work, m.tar, hashes);
}

/**
 * Each manifest algorithm set (config sip.algorithms) against bagit-python with the same flags,
 * interleaved run by run, and against its own hashing floor: the tar's I/O, the tar's sha256 and
 * each payload algorithm over every byte, spread over all cores.
 */
function compareAlgorithms(big: string, work: string, tarSeconds: number, hashes: Record<'sha256' | 'sha512', number>): void {
  const out = (name: string) => path.join(work, name);
  const bagCopy = out('bagit-object');
  console.log(`\nmanifest algorithms (config sip.algorithms), 512 MiB, median of ${RUNS} runs:`);
  for (const choice of CHOICES) {
    const algs = choice.split(',') as Array<'sha256' | 'sha512'>;
    const custody: number[] = [];
    const bagit: number[] = [];
    for (let run = 1; run <= RUNS; run++) {
      prepare([big], [out('custody.tar')]);
      custody.push(runCustody(big, out('custody.tar'), false, choice).seconds);
      fs.rmSync(bagCopy, { recursive: true, force: true });
      sh('cp', ['-r', big, bagCopy]);
      prepare([bagCopy], [out('bagit.tar')]);
      bagit.push(
        timed(() => {
          sh('bagit.py', ['--quiet', '--processes', '2', ...algs.map((a) => `--${a}`), bagCopy]);
          sh('tar', ['cf', out('bagit.tar'), '-C', work, path.basename(bagCopy)]);
        }),
      );
    }
    const c = median(custody);
    const b = median(bagit);
    const floor = (tarSeconds + hashes.sha256 + algs.reduce((sum, a) => sum + hashes[a], 0)) / os.availableParallelism();
    console.log(
      `  ${choice.padEnd(14)} custody ${fmt(c)} | bagit+tar ${fmt(b)} | floor ${fmt(floor)} | custody / bagit = ${(c / b).toFixed(2)} (≤ ${TARGET.vsBagit} ${verdict(c / b <= TARGET.vsBagit)}) | custody / floor = ${(c / floor).toFixed(2)} (≤ ${TARGET.vsFloor} ${verdict(c / floor <= TARGET.vsFloor)})`,
    );
  }
  fs.rmSync(work, { recursive: true, force: true });
}

main();
