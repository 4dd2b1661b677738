// How a reference HTTP service runs as its own process: `--port N --data-dir DIR`, each also
// from `<PREFIX>_PORT` and `<PREFIX>_DATA_DIR` (the command line wins), the bearer token only
// from `<PREFIX>_TOKEN` (a command line is visible to every user of the machine); a bad option
// is named and exits 2, a failed start exits 1, SIGTERM and SIGINT close it cleanly.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { RunningHttpService } from './http-service';

/** A bad option, with a message that names it. */
export class UsageError extends Error {}

export interface ServiceArgs {
  port: number;
  dataDir: string;
  token?: string;
}

export interface ServiceArgsSpec {
  /** `REFERENCE_RECEIVER` for REFERENCE_RECEIVER_PORT, …_DATA_DIR and …_TOKEN. */
  envPrefix: string;
  defaultPort: number;
  token: 'optional' | 'required';
  /** Another name for --data-dir (the article store's first spelling). */
  dataDirAlias?: string;
}

export function parseServiceArgs(spec: ServiceArgsSpec, argv: string[], env: NodeJS.ProcessEnv): ServiceArgs {
  const alias = spec.dataDirAlias;
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, ...(alias ? { [alias]: { type: 'string' as const } } : {}) },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (alias && values['data-dir'] !== undefined && values[alias] !== undefined) throw new UsageError(`give --data-dir or --${alias}, not both`);
  const dirGiven = values['data-dir'] !== undefined ? '--data-dir' : alias && values[alias] !== undefined ? `--${alias}` : undefined;
  const envName = (name: string) => `${spec.envPrefix}_${name}`;
  const names = {
    port: values.port !== undefined ? '--port' : envName('PORT'),
    dataDir: dirGiven ?? (env[envName('DATA_DIR')] !== undefined ? envName('DATA_DIR') : `--data-dir (or ${envName('DATA_DIR')})`),
    token: envName('TOKEN'),
  };
  const parsed = z
    .object({
      port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
      dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
      // Its value never appears in a message.
      token:
        spec.token === 'required' ? z.string({ error: 'is required' }).min(1, 'must not be empty') : z.string().min(1, 'must not be empty when set').optional(),
    })
    .safeParse({
      port: values.port ?? env[envName('PORT')] ?? String(spec.defaultPort),
      dataDir: values['data-dir'] ?? (alias ? values[alias] : undefined) ?? env[envName('DATA_DIR')],
      token: env[envName('TOKEN')],
    });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`bad ${names[issue.path[0] as keyof typeof names]}: ${issue.message}`);
  }
  return parsed.data;
}

/** Parses, starts, announces `<name> listening on <url>, data in <dir>` once a signal would stop it cleanly. */
export function runService<O extends ServiceArgs>(name: string, usage: string, parse: () => O, start: (options: O) => Promise<RunningHttpService>): void {
  let options: O;
  try {
    options = parse();
  } catch (e) {
    console.error(`${name}: ${(e as Error).message}\n${usage}`);
    process.exit(2);
  }
  start(options).then(
    (service) => {
      const stop = () => void service.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      // Announced once a signal stops it cleanly: whoever reads this line may stop it at once.
      console.log(`${name} listening on ${service.url}, data in ${options.dataDir}${options.token ? ', bearer token required' : ''}`);
    },
    (e: unknown) => {
      console.error(`${name}: cannot start on port ${options.port} with data in ${options.dataDir}: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}
