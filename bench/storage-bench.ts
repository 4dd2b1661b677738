// npm run bench -- storage: custody's S3 storage against the bare AWS SDK on the same object,
// on a local Versity Gateway (the test suite's). Each transfer runs in its own child process
// (bench/storage-child.ts) so its peak RSS is its own; contenders are interleaved run by run.
// The bare SDK is the baseline: what a hand-rolled uploader does without verifying anything.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { startTestS3, stopTestS3 } from '../test/support/s3-server';

const ROOT = path.resolve(__dirname, '..');
const BENCH = path.join(ROOT, '.data', 'bench');
const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

function ensureFile(sizeMiB: number): string {
  const file = path.join(BENCH, `storage-${sizeMiB}MiB.bin`);
  if (fs.statSync(file, { throwIfNoEntry: false })?.size === sizeMiB * MiB) return file;
  fs.mkdirSync(BENCH, { recursive: true });
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.allocUnsafe(4 * MiB);
  for (let i = 0; i < sizeMiB / 4; i++) fs.writeSync(fd, crypto.randomFillSync(chunk));
  fs.closeSync(fd);
  return file;
}

interface Run {
  seconds: number;
  maxRssKiB: number;
  baselineRssKiB: number;
}

function child(mode: string, file: string, location: string, endpoint: string): Run {
  const out = execFileSync(process.execPath, ['--require', 'tsx/cjs', path.join(__dirname, 'storage-child.ts'), mode, file, location, endpoint], {
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Run;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mib = (kib: number) => (kib / 1024).toFixed(0);

async function main() {
  const s3 = await startTestS3();
  try {
    const results = new Map<string, Run[]>();
    for (const sizeMiB of [64, 256]) {
      const file = ensureFile(sizeMiB);
      const location = `s3://${await s3.bucket('bench')}/custody`;
      // Upload before download, so each download has an object to read.
      const pairs = [
        ['sdk-upload', 'custody-put'],
        ['sdk-download', 'custody-get'],
      ];
      for (let run = 0; run < RUNS; run++) {
        for (const pair of pairs) {
          for (const mode of run % 2 ? [...pair].reverse() : pair) {
            execFileSync('sync');
            const r = child(mode, file, location, s3.endpoint);
            const name = `${mode} ${sizeMiB} MiB`;
            results.set(name, [...(results.get(name) ?? []), r]);
          }
        }
      }
      fs.rmSync(`${file}.download`, { force: true });
    }
    console.log(`\nS3 transfers on a local Versity Gateway, median of ${RUNS} (time; peak RSS of the process, of which node + tsx before the transfer)`);
    console.log('| transfer | size | bare SDK | custody | custody / SDK | peak RSS SDK | peak RSS custody |');
    console.log('| --- | --- | --- | --- | --- | --- | --- |');
    for (const sizeMiB of [64, 256]) {
      for (const [sdk, custody, label] of [
        ['sdk-upload', 'custody-put', 'upload (custody: digest, per-part SHA-256, re-read)'],
        ['sdk-download', 'custody-get', 'download (custody: SHA-256 checked)'],
      ]) {
        const a = results.get(`${sdk} ${sizeMiB} MiB`)!;
        const b = results.get(`${custody} ${sizeMiB} MiB`)!;
        const ta = median(a.map((r) => r.seconds));
        const tb = median(b.map((r) => r.seconds));
        const rss = (rs: Run[]) => `${mib(median(rs.map((r) => r.maxRssKiB)))} MiB (${mib(median(rs.map((r) => r.baselineRssKiB)))})`;
        console.log(`| ${label} | ${sizeMiB} MiB | ${ta.toFixed(2)} s | ${tb.toFixed(2)} s | ${(tb / ta).toFixed(2)}× | ${rss(a)} | ${rss(b)} |`);
      }
    }
  } finally {
    stopTestS3();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
