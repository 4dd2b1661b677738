// Runs one buildSip in its own process so the benchmark can read this process's peak RSS.
// Usage: build-child.ts <sourceDir> <outputPath> <fsync: 0|1> [algorithms, default sha256,sha512]; prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { buildSip } from '../sip/build-sip';
import type { ChecksumAlgorithm } from '../common/sip';

async function main() {
  const [sourceDir, outputPath, fsync, algorithms = 'sha256,sha512'] = process.argv.slice(2);
  if (!sourceDir || !outputPath) throw new Error('usage: build-child.ts <sourceDir> <outputPath> <fsync 0|1>');
  const files = fs
    .readdirSync(sourceDir)
    .sort()
    .map((name) => ({ path: name, size: fs.statSync(path.join(sourceDir, name)).size }));
  const rssBefore = process.resourceUsage().maxRSS;
  const started = process.hrtime.bigint();
  const result = await buildSip({
    sipId: 'bench.a1.00000000',
    objectId: 'bench',
    sourceDir,
    files,
    metadata: { id: 'bench', title: 'Benchmark object', creators: [], dates: [], modifiedAt: '2024-01-01T00:00:00Z', subjects: [], identifiers: [] },
    algorithms: algorithms.split(',') as ChecksumAlgorithm[],
    sourceOrganization: 'custody benchmark',
    agent: { name: 'custody', version: 'bench' },
    outputPath,
    now: new Date('2024-01-01T00:00:00Z'),
    fsync: fsync !== '0',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const usage = process.resourceUsage();
  console.log(
    JSON.stringify({
      seconds,
      maxRssKiB: usage.maxRSS,
      baselineRssKiB: rssBefore,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
      tarSize: result.tarSize,
    }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
