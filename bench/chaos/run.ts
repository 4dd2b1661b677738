// npm run chaos [-- --seed N --objects N]: the chaos run on its own Temporal dev server and S3
// server (the test ports, CUSTODY_TEST_*), one line of figures at the end; exits 1 when an item
// was lost, work was done twice, a package fails its checksum or a secret leaked.
import { parseArgs } from 'node:util';
import { installRuntime } from '../../workers/runtime';
import { stopTestS3 } from '../../test/support/s3-server';
import { removeTemporalState, stopTemporalServer } from '../../test/support/temporal-server';
import { runChaos } from './chaos';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { seed: { type: 'string' }, objects: { type: 'string', default: '300' } } });
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  const objects = Number(values.objects);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed ${values.seed}: not a whole number of 0 or more`);
  if (!Number.isInteger(objects) || objects < 1) throw new Error(`--objects ${values.objects}: not a whole number of 1 or more`);
  installRuntime('ERROR');
  // Ctrl-C: the servers and workers this run started stop with it.
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      stopTestS3();
      void stopTemporalServer().finally(() => process.exit(130));
    });
  console.log(`chaos: seed ${seed} (run again with --seed ${seed})`);
  try {
    const r = await runChaos({ seed, objects, maxExtraBytes: 4 * 1024 * 1024, say: (l) => console.log(l) });
    for (const l of [...r.lost, ...r.duplicates, ...r.fixityFailures, ...r.secretsFound]) console.log(`  ${l}`);
    console.log(r.line);
    return r.lost.length || r.duplicates.length || r.fixityFailures.length || r.secretsFound.length ? 1 : 0;
  } finally {
    await stopTemporalServer();
    removeTemporalState();
    stopTestS3();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`chaos: ${(e as Error).message}`);
    process.exit(1);
  },
);
