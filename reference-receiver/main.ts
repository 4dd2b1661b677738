// `node --import tsx reference-receiver/main.ts --port 8394 --data-dir DIR`: the reference
// receiver as its own process; options as reference-service/service-main.ts describes, with the
// prefix REFERENCE_RECEIVER.
import { UsageError, parseServiceArgs, runService, type ServiceArgs } from '../reference-service/service-main';
import { startReceiver } from './server';

export { UsageError };
export const USAGE = 'usage: reference-receiver/main.ts [--port N] --data-dir DIR; token in REFERENCE_RECEIVER_TOKEN';
export const DEFAULT_PORT = 8394;

export function parseReceiverArgs(argv: string[], env: NodeJS.ProcessEnv): ServiceArgs {
  return parseServiceArgs({ envPrefix: 'REFERENCE_RECEIVER', defaultPort: DEFAULT_PORT, token: 'optional' }, argv, env);
}

// Run as a program; imported (by the tests), it only lends its option parsing.
if (require.main === module) runService('reference receiver', USAGE, () => parseReceiverArgs(process.argv.slice(2), process.env), startReceiver);
