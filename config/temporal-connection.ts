// Connection settings come from Temporal's environment configuration (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_TLS*, TEMPORAL_API_KEY, TEMPORAL_PROFILE and the config file),
// defaulting to the local dev server and custody's namespace.
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from './config';

export class TemporalUnreachableError extends Error {}

export function temporalSettings(config: Config) {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: { ...connectionOptions, address: connectionOptions.address ?? '127.0.0.1:7233' },
    namespace: namespace ?? config.temporal.namespace,
  };
}

function unreachable(address: string, e: unknown): TemporalUnreachableError {
  return new TemporalUnreachableError(
    `cannot reach the Temporal server at ${address} (${(e as Error).message.split('\n')[0]}); ` +
      'start it with `temporal-config/start-dev-server.sh` or set TEMPORAL_ADDRESS',
  );
}

export async function connectClient(config: Config): Promise<{ client: Client; connection: Connection; namespace: string }> {
  const { connectionOptions, namespace } = temporalSettings(config);
  let connection: Connection;
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout: '5s' });
  } catch (e) {
    throw unreachable(connectionOptions.address, e);
  }
  return { client: new Client({ connection, namespace }), connection, namespace };
}

export async function connectWorker(config: Config): Promise<{ connection: NativeConnection; namespace: string }> {
  const { connectionOptions, namespace } = temporalSettings(config);
  try {
    return { connection: await NativeConnection.connect(connectionOptions), namespace };
  } catch (e) {
    throw unreachable(connectionOptions.address, e);
  }
}
