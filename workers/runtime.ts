// The Temporal runtime's log level is set once per process, before the first worker or
// connection: the demo and the tests keep worker chatter (state changes) off the screen.
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

export function installRuntime(level: LogLevel): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger(level) });
}
