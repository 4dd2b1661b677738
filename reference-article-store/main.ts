// `node --import tsx reference-article-store/main.ts --port 8391 --data-dir DIR`: the reference
// article store as its own process. Options also come from REFERENCE_ARTICLE_STORE_PORT and
// REFERENCE_ARTICLE_STORE_DATA_DIR; the command line wins. The bearer token comes only from
// REFERENCE_ARTICLE_STORE_TOKEN: a command line is visible to every user of the machine.
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { startArticleStore, type ArticleStoreOptions } from './server';

export const USAGE = 'usage: reference-article-store/main.ts [--port N] --data-dir DIR (or --data DIR); token in REFERENCE_ARTICLE_STORE_TOKEN';
export const DEFAULT_PORT = 8391;

/** A bad option, with a message that names it. */
export class UsageError extends Error {}

/** The store's options from the command line and the environment. */
export function parseArticleStoreArgs(argv: string[], env: NodeJS.ProcessEnv): ArticleStoreOptions {
  let values: { port?: string; 'data-dir'?: string; data?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { port: { type: 'string' }, 'data-dir': { type: 'string' }, data: { type: 'string' } } }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values['data-dir'] !== undefined && values.data !== undefined) throw new UsageError('give --data-dir or --data, not both');
  const dirOption = values['data-dir'] !== undefined ? '--data-dir' : values.data !== undefined ? '--data' : undefined;
  const names = {
    port: values.port !== undefined ? '--port' : 'REFERENCE_ARTICLE_STORE_PORT',
    dataDir:
      dirOption ??
      (env.REFERENCE_ARTICLE_STORE_DATA_DIR !== undefined ? 'REFERENCE_ARTICLE_STORE_DATA_DIR' : '--data-dir (or REFERENCE_ARTICLE_STORE_DATA_DIR)'),
    token: 'REFERENCE_ARTICLE_STORE_TOKEN',
  };
  const parsed = z
    .object({
      port: z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().max(65535, 'must be at most 65535')),
      dataDir: z.string({ error: 'is required' }).min(1, 'must not be empty'),
      // Its value never appears in a message.
      token: z.string().min(1, 'must not be empty when set').optional(),
    })
    .safeParse({
      port: values.port ?? env.REFERENCE_ARTICLE_STORE_PORT ?? String(DEFAULT_PORT),
      dataDir: values['data-dir'] ?? values.data ?? env.REFERENCE_ARTICLE_STORE_DATA_DIR,
      token: env.REFERENCE_ARTICLE_STORE_TOKEN,
    });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`bad ${names[issue.path[0] as keyof typeof names]}: ${issue.message}`);
  }
  return parsed.data;
}

function main(): void {
  let options: ArticleStoreOptions;
  try {
    options = parseArticleStoreArgs(process.argv.slice(2), process.env);
  } catch (e) {
    console.error(`reference article store: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  startArticleStore(options).then(
    (store) => {
      const stop = () => void store.close().then(() => process.exit(0));
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      // Announced once a signal stops it cleanly: whoever reads this line may stop it at once.
      console.log(`reference article store listening on ${store.url}, data in ${options.dataDir}${options.token ? ', bearer token required' : ''}`);
    },
    (e: unknown) => {
      console.error(`reference article store: cannot start on port ${options.port} with data in ${options.dataDir}: ${(e as Error).message}`);
      process.exit(1);
    },
  );
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module) main();
