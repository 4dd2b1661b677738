// The Temporal runtime's log level is set once per process, before the first worker or
// connection: the demo and the tests keep worker chatter (state changes) off the screen.
// The Rust core logs on its own, straight to stderr at WARN and above, unless told otherwise: its
// logs are forwarded to the same logger at the same level, so ERROR keeps errors and drops
// warnings such as the time-skipping test server's missing heartbeat-details capability.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

export function installRuntime(level: LogLevel): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level), telemetryOptions: { logging: { filter: { core: level, other: level }, forward: {} } } });
}
