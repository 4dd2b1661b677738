// The child processes a starter runs (the demo's reference service), stopped on every way out:
// the end, an error, SIGINT, SIGTERM. A child left running keeps its port and its data folder,
// and the next run would find them taken.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
/** A child that ignores SIGTERM this long is killed. */
const STOP_GRACE_MS = 10_000;

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export class ChildProcesses {
  private readonly running = new Set<ChildProcess>();
  private readonly cleanups: Array<() => Promise<unknown>> = [];
  private exiting: Promise<never> | undefined;

  constructor() {
    // The last resort, for a way out none of the paths below saw (process.exit elsewhere, an
    // uncaught exception): a signal can still be sent, nothing can be awaited.
    process.on('exit', () => {
      for (const child of this.running) child.kill('SIGTERM');
    });
    // `on`, not `once`: a second Ctrl-C (or the same one forwarded by a wrapping script) must not
    // fall back to the default action, which would end the process with its children running.
    for (const [signal, code] of Object.entries(SIGNAL_EXIT_CODES)) {
      process.on(signal, () => {
        if (this.exiting) return;
        console.error(`stopping (${signal})`);
        void this.exit(code);
      });
    }
  }

  spawn(command: string, args: string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, options);
    this.running.add(child);
    child.once('exit', () => this.running.delete(child));
    return child;
  }

  /** Runs before the children are stopped, the last added first (e.g. a worker's shutdown). */
  beforeExit(cleanup: () => Promise<unknown>): void {
    this.cleanups.unshift(cleanup);
  }

  /** SIGTERM to every child still running; resolves once each has exited. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.running].map(stopChild));
  }

  /** Runs the cleanups, stops the children, then ends the process with `code`. Once: later calls wait for the first. */
  exit(code: number): Promise<never> {
    this.exiting ??= (async () => {
      for (const cleanup of this.cleanups) await cleanup().catch((e: unknown) => console.error(`while stopping: ${(e as Error).message}`));
      await this.stopAll();
      process.exit(code);
    })();
    return this.exiting;
  }
}
