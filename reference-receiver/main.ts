// `node --import tsx reference-receiver/main.ts --port 8394 --data-dir DIR`: the reference
// receiver as its own process. Options also come from REFERENCE_RECEIVER_PORT and
// REFERENCE_RECEIVER_DATA_DIR; the command line wins. The bearer token comes only from
// REFERENCE_RECEIVER_TOKEN: a command line is visible to every user of the machine.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startReceiver, type ReceiverOptions } from './server';

export const USAGE = 'usage: reference-receiver/main.ts [--port N] --data-dir DIR; token in REFERENCE_RECEIVER_TOKEN';
export const DEFAULT_PORT = 8394;

/** A bad option, with a message that names it. */
export class UsageError extends Error {}

/** The receiver's options from the command line and the environment. */
export function parseReceiverArgs(argv: string[], env: NodeJS.ProcessEnv): ReceiverOptions {
  let values: { port?: string; 'data-dir'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' } } }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const names = {
    port: values.port !== undefined ? '--port' : 'REFERENCE_RECEIVER_PORT',
    dataDir:
      values['data-dir'] !== undefined
        ? '--data-dir'
        : env.REFERENCE_RECEIVER_DATA_DIR !== undefined
          ? 'REFERENCE_RECEIVER_DATA_DIR'
          : '--data-dir (or REFERENCE_RECEIVER_DATA_DIR)',
    token: 'REFERENCE_RECEIVER_TOKEN',
  };
  const parsed = z
    .object({
      port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
      dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
      // Its value never appears in a message.
      token: z.string().min(1, 'must not be empty when set').optional(),
    })
    .safeParse({
      port: values.port ?? env.REFERENCE_RECEIVER_PORT ?? String(DEFAULT_PORT),
      dataDir: values['data-dir'] ?? env.REFERENCE_RECEIVER_DATA_DIR,
      token: env.REFERENCE_RECEIVER_TOKEN,
    });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`bad ${names[issue.path[0] as keyof typeof names]}: ${issue.message}`);
  }
  return parsed.data;
}

function main(): void {
  let options: ReceiverOptions;
  try {
    options = parseReceiverArgs(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`reference receiver: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  startReceiver(options).then(
    (receiver) => {
      const stop = () => void receiver.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      // Announced once a signal stops it cleanly: whoever reads this line may stop it at once.
      console.log(`reference receiver listening on ${receiver.url}, data in ${options.dataDir}${options.token ? ', bearer token required' : ''}`);
    },
    (e: unknown) => {
      console.error(`reference receiver: cannot start on port ${options.port} with data in ${options.dataDir}: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module) main();
