// A worker process serves the task queues its config names, with the slots it names. The io
// queue also carries the workflow tasks. One process may serve every queue (the default) or
// a few, so each stage's workers scale separately.
import path from 'node:path';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { TASK_QUEUES, type QueueRole } from '../common/preservation';
import type { Config } from '../config/config';
import { connectWorker } from '../config/temporal-connection';
import { createActivities, type ActivityDeps } from '../activities';
import { openParts } from '../activities/parts';
import { buildId } from '../activities/build-id';

export interface RunningWorkers {
  /** Resolves when every worker has stopped (after shutdown() or a signal). */
  done: Promise<void>;
  shutdown(): void;
}

export async function startWorkers(
  config: Config,
  queues: QueueRole[] = config.worker.queues,
  /** Tests hand in faults here (e.g. a service that corrupts one SIP in transit). */
  decorate: (parts: ActivityDeps) => ActivityDeps = (parts) => parts,
  /** A connection someone else owns (the time-skipping test server's); it is left open. */
  given?: { connection: NativeConnection; namespace: string },
): Promise<RunningWorkers> {
  const { connection, namespace } = given ?? (await connectWorker(config));
  const parts = decorate(await openParts(config));
  const activities = createActivities(parts);
  const bundlePath = process.env.CUSTODY_WORKFLOW_BUNDLE;

  const workers = await Promise.all(
    queues.map((role) => {
      const options: WorkerOptions = {
        connection,
        namespace,
        taskQueue: TASK_QUEUES[role],
        identity: `${role}@${process.pid}@${buildId()}`,
        activities,
        maxConcurrentActivityTaskExecutions: config.worker.slots[role],
        shutdownGraceTime: config.worker.shutdownGrace,
      };
      if (role === 'io') {
        // A prebuilt bundle (production) skips bundling at start-up.
        if (bundlePath) options.workflowBundle = { codePath: bundlePath };
        else options.workflowsPath = path.join(__dirname, '..', 'workflows', 'index.ts');
      }
      return Worker.create(options);
    }),
  );
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    await parts.ledger.close();
    if (!given) await connection.close();
  });
    // A signal (Ctrl-C, SIGTERM) already starts the shutdown; a second request is a no-op.
  return { done, shutdown: () => workers.filter((w) => w.getState() === 'RUNNING').forEach((w) => w.shutdown()) };
}
