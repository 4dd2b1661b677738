// `node --import tsx reference-deposit-service/main.ts --port 8393 --data-dir DIR`: the reference
// deposit service as its own process. Options also come from REFERENCE_DEPOSIT_SERVICE_PORT and
// REFERENCE_DEPOSIT_SERVICE_DATA_DIR; the command line wins. The token comes only from
// REFERENCE_DEPOSIT_SERVICE_TOKEN: a command line is visible to every user of the machine.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startDepositService, type DepositServiceOptions } from './server';

export const USAGE = 'usage: reference-deposit-service/main.ts [--port N] --data-dir DIR; token in REFERENCE_DEPOSIT_SERVICE_TOKEN';
export const DEFAULT_PORT = 8393;

/** A bad option, with a message that names it. */
export class UsageError extends Error {}

/** The service's options from the command line and the environment. */
export function parseDepositServiceArgs(argv: string[], env: NodeJS.ProcessEnv): DepositServiceOptions {
  let values: { port?: string; 'data-dir'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' } } }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const names = {
    port: values.port !== undefined ? '--port' : 'REFERENCE_DEPOSIT_SERVICE_PORT',
    dataDir: values['data-dir'] !== undefined ? '--data-dir' : '--data-dir (or REFERENCE_DEPOSIT_SERVICE_DATA_DIR)',
    token: 'REFERENCE_DEPOSIT_SERVICE_TOKEN',
  };
  const parsed = z
    .object({
      port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
      dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
      // Its value never appears in a message.
      token: z.string({ error: 'is required' }).min(1, 'must not be empty'),
    })
    .safeParse({
      port: values.port ?? env.REFERENCE_DEPOSIT_SERVICE_PORT ?? String(DEFAULT_PORT),
      dataDir: values['data-dir'] ?? env.REFERENCE_DEPOSIT_SERVICE_DATA_DIR,
      token: env.REFERENCE_DEPOSIT_SERVICE_TOKEN,
    });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`bad ${names[issue.path[0] as keyof typeof names]}: ${issue.message}`);
  }
  return parsed.data;
}

function main(): void {
  let options: DepositServiceOptions;
  try {
    options = parseDepositServiceArgs(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`reference deposit service: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  startDepositService(options).then(
    (service) => {
      const stop = () => void service.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      // Announced once a signal stops it cleanly: whoever reads this line may stop it at once.
      console.log(`reference deposit service listening on ${service.url}, data in ${options.dataDir}`);
    },
    (e: unknown) => {
      console.error(`reference deposit service: cannot start on port ${options.port} with data in ${options.dataDir}: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module) main();
