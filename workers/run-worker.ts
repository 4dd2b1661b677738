// A worker process serves the task queues its config names, with the slots it names. The io
// queue also carries the workflow tasks. One process may serve every queue (the default) or
// a few, so each stage's workers scale separately.
import { Client } from '@temporalio/client';
import { Worker, type NativeConnection, type WorkerOptions } from '@temporalio/worker';
import { SCHEDULES_TASK_QUEUE, TASK_QUEUES, type QueueRole } from '../common/preservation';
import type { Config } from '../config/config';
import { destinationTaskQueue } from '../common/delivery';
import { connectWorker } from '../config/temporal-connection';
import { createActivities, type ActivityDeps } from '../activities';
import { openParts } from '../activities/parts';
import { buildId } from '../config/build-id';
import { bundleWorkflows, prebuiltBundlePath } from './workflow-bundle';

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
  const activities = createActivities(parts, new Client({ connection, namespace }));
  const bundlePath = prebuiltBundlePath();

  // A prebuilt bundle (production) skips bundling at start-up; else the two workers that run
  // workflows share one bundle made here.
  const bundle = bundlePath || !queues.includes('io') ? undefined : await bundleWorkflows();
  const workflowCode = (): Partial<WorkerOptions> => ({ workflowBundle: bundlePath ? { codePath: bundlePath } : bundle });
  const common = { connection, namespace, activities, shutdownGraceTime: config.worker.shutdownGrace };
  const workers = await Promise.all([
    ...queues.map((role) =>
      Worker.create({
        ...common,
        taskQueue: TASK_QUEUES[role],
        identity: `${role}@${process.pid}@${buildId()}`,
        maxConcurrentActivityTaskExecutions: config.worker.slots[role],
        ...(role === 'io' ? workflowCode() : {}),
      }),
    ),
    // The poller's queue goes with io, so whoever runs the pipeline's workflows also runs the poller.
    ...(queues.includes('io')
      ? [
          Worker.create({
            ...common,
            taskQueue: SCHEDULES_TASK_QUEUE,
            identity: `schedules@${process.pid}@${buildId()}`,
            maxConcurrentActivityTaskExecutions: 4,
            ...workflowCode(),
          }),
        ]
      : []),
    // Each destination's deliveries on a queue of their own, served with io.
    ...(queues.includes('io')
      ? config.delivery.destinations.map(({ name }) =>
          Worker.create({
            ...common,
            taskQueue: destinationTaskQueue(name),
            identity: `deliver-${name}@${process.pid}@${buildId()}`,
            maxConcurrentActivityTaskExecutions: config.delivery.slots,
          }),
        )
      : []),
  ]);
  const done = Promise.all(workers.map((w) => w.run())).then(async () => {
    await parts.ledger.close();
    if (!given) await connection.close();
  });
  // A signal (Ctrl-C, SIGTERM) already starts the shutdown; a second request is a no-op.
  return { done, shutdown: () => workers.filter((w) => w.getState() === 'RUNNING').forEach((w) => w.shutdown()) };
}
