// `tsx reference-service/main.ts --port 8390 --data-dir DIR [--transfer s3://bucket/prefix]`:
// the reference preservation service as its own process. Options also come from
// REFERENCE_SERVICE_PORT, REFERENCE_SERVICE_DATA_DIR and REFERENCE_SERVICE_TRANSFER; the command
// line wins. A bucket is reached through the AWS SDK's standard chain (AWS_ENDPOINT_URL_S3,
// AWS_REGION, credentials); --s3-path-style for servers that need the bucket in the path.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openStorage, storageLocation } from '../storage';
import { startReferenceService } from './server';

const USAGE = 'usage: reference-service/main.ts [--port N] --data-dir DIR [--transfer LOCATION] [--s3-path-style]';

function fail(message: string): never {
  console.error(`reference service: ${message}\n${USAGE}`);
  process.exit(2);
}

let values: { port?: string; 'data-dir'?: string; transfer?: string; 's3-path-style'?: boolean };
try {
  ({ values } = parseArgs({
    options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, transfer: { type: 'string' }, 's3-path-style': { type: 'boolean' } },
  }));
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
  transfer: values.transfer !== undefined ? '--transfer' : 'REFERENCE_SERVICE_TRANSFER',
};
const options = z
  .object({
    port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
    dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
    transfer: storageLocation.optional(),
  })
  .safeParse({
    port: values.port ?? process.env.REFERENCE_SERVICE_PORT ?? '8390',
    dataDir: values['data-dir'] ?? process.env.REFERENCE_SERVICE_DATA_DIR,
    transfer: values.transfer ?? process.env.REFERENCE_SERVICE_TRANSFER,
  });
if (!options.success) {
  const issue = options.error.issues[0];
  const key = issue.path[0] as keyof typeof optionNames;
  fail(`bad ${optionNames[key]}: ${issue.message}`);
}

const { transfer, ...rest } = options.data;
startReferenceService({
  ...rest,
  transfer: transfer === undefined ? undefined : openStorage(transfer, { forcePathStyle: values['s3-path-style'] ?? false }),
}).then(
  (service) => {
    const stop = () => void service.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // Announced once a signal stops it cleanly: whoever reads this line may stop it at once.
    console.log(`reference service listening on ${service.url}, taking transfers from ${transfer ?? `${rest.dataDir}/transfer`}`);
  },
  (e: unknown) => {
    console.error(`reference service: cannot start on port ${options.data.port} with data in ${options.data.dataDir}: ${(e as Error).message}`);
    process.exit(1);
  },
);
