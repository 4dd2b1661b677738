// `node --import tsx reference-article-store/main.ts --port 8391 --data-dir DIR`: the reference
// article store as its own process; options as reference-service/service-main.ts describes,
// with the prefix REFERENCE_ARTICLE_STORE.
import { UsageError, parseServiceArgs, runService, type ServiceArgs } from '../reference-service/service-main';
import { startArticleStore } from './server';

export { UsageError };
export const USAGE = 'usage: reference-article-store/main.ts [--port N] --data-dir DIR (or --data DIR); token in REFERENCE_ARTICLE_STORE_TOKEN';
export const DEFAULT_PORT = 8391;

export function parseArticleStoreArgs(argv: string[], env: NodeJS.ProcessEnv): ServiceArgs {
  return parseServiceArgs({ envPrefix: 'REFERENCE_ARTICLE_STORE', defaultPort: DEFAULT_PORT, token: 'optional', dataDirAlias: 'data' }, argv, env);
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module) runService('reference article store', USAGE, () => parseArticleStoreArgs(process.argv.slice(2), process.env), startArticleStore);
