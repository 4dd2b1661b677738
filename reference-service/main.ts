// `tsx reference-service/main.ts --port 8390 --data-dir DIR`: the reference preservation
// service as its own process. Options also come from REFERENCE_SERVICE_PORT and
// REFERENCE_SERVICE_DATA_DIR; the command line wins.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startReferenceService } from './server';

const USAGE = 'usage: reference-service/main.ts [--port N] --data-dir DIR';

function fail(message: string): never {
  console.error(`reference service: ${message}\n${USAGE}`);
  process.exit(2);
}

let values: { port?: string; 'data-dir'?: string };
try {
  ({ values } = parseArgs({ options: { port: { type: 'string' }, 'data-dir': { type: 'string' } } }));
} catch (e) {
  fail((e as Error).message);
}

const optionNames = {
  port: values.port !== undefined ? '--port' : 'REFERENCE_SERVICE_PORT',
  dataDir:
    values['data-dir'] !== undefined
      ? '--data-dir'
      : process.env.REFERENCE_SERVICE_DATA_DIR !== undefined
        ? 'REFERENCE_SERVICE_DATA_DIR'
        : '--data-dir (or REFERENCE_SERVICE_DATA_DIR)',
};
const options = z
  .object({
    port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
    dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
  })
  .safeParse({
    port: values.port ?? process.env.REFERENCE_SERVICE_PORT ?? '8390',
    dataDir: values['data-dir'] ?? process.env.REFERENCE_SERVICE_DATA_DIR,
  });
if (!options.success) {
  const issue = options.error.issues[0];
  const key = issue.path[0] as keyof typeof optionNames;
  fail(`bad ${optionNames[key]}: ${issue.message}`);
}

startReferenceService(options.data).then(
  (service) => {
    console.log(`reference service listening on ${service.url}`);
    const stop = () => void service.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  },
  (e: unknown) => {
    console.error(`reference service: cannot start on port ${options.data.port} with data in ${options.data.dataDir}: ${(e as Error).message}`);
    process.exit(1);
  },
);
