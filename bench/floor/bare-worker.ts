// One worker process of the floor: the bare workflow and its no-op activities on one task queue,
// with as many activity slots as a custody worker has over all its queues.
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { bareActivities } from './bare-activities';

async function main(): Promise<void> {
  const [address, namespace, taskQueue, slots] = process.argv.slice(2);
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    namespace,
    taskQueue,
    workflowsPath: require.resolve('./bare-workflow'),
    activities: bareActivities(client),
    maxConcurrentActivityTaskExecutions: Number(slots),
  });
  process.once('SIGTERM', () => worker.shutdown());
  await worker.run();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
