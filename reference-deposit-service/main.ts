// `node --import tsx reference-deposit-service/main.ts --port 8393 --data-dir DIR`: the reference
// deposit service as its own process; options as reference-service/service-main.ts describes,
// with the prefix REFERENCE_DEPOSIT_SERVICE. Unlike the others it always needs a token.
import { UsageError, parseServiceArgs, runService } from '../reference-service/service-main';
import { startDepositService, type DepositServiceOptions } from './server';

export { UsageError };
export const USAGE = 'usage: reference-deposit-service/main.ts [--port N] --data-dir DIR; token in REFERENCE_DEPOSIT_SERVICE_TOKEN';
export const DEFAULT_PORT = 8393;

export function parseDepositServiceArgs(argv: string[], env: NodeJS.ProcessEnv): DepositServiceOptions {
  const { token, ...rest } = parseServiceArgs({ envPrefix: 'REFERENCE_DEPOSIT_SERVICE', defaultPort: DEFAULT_PORT, token: 'required' }, argv, env);
  return { ...rest, token: token! };
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module)
  runService('reference deposit service', USAGE, () => parseDepositServiceArgs(process.argv.slice(2), process.env), startDepositService);
