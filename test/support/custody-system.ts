// A whole custody system for a test: the shared real Temporal dev server, a real reference
// preservation service, a real SQLite ledger and folder source in a temp folder, and a real
// worker serving every queue in this process.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { REPO_ROOT, loadConfig, type Config } from '../../config/config';
import { eventually } from './eventually';
import { SCHEDULE_IDS } from '../../starters/schedules';
import { connectClient } from '../../config/temporal-connection';
import { openLedger, type Ledger } from '../../ledger';
import { openSource, type ObjectSource } from '../../sources';
import type { Storage } from '../../storage';
import type { ActivityDeps } from '../../activities';
import { startWorkers, type RunningWorkers } from '../../workers/run-worker';
import { startReferenceService } from '../../reference-service/server';
import { ensureTemporalServer } from './temporal-server';
import { installRuntime } from '../../workers/runtime';
import { useWorkflowBundle } from './workflow-bundle';

export interface SystemOptions {
  /** Example object ids to copy from examples/collection into this system's source. */
  objects?: string[];
  config?: Record<string, unknown>;
  decorate?: (parts: ActivityDeps) => ActivityDeps;
  /** Where the reference service takes transfers from (default: a folder beside its data). */
  serviceTransfer?: Storage;
  /** False: no worker in this process, the test runs its own worker processes. */
  inProcessWorkers?: boolean;
}

export interface CustodySystem {
  root: string;
  config: Config;
  client: Client;
  ledger: Ledger;
  serviceUrl: string;
  sourceDir: string;
  source: ObjectSource;
  workers: RunningWorkers | undefined;
  stopWorkers(): Promise<void>;
  /** Takes the reference service down (its API refuses connections) and brings it back on the same port. */
  stopService(): Promise<void>;
  startService(): Promise<void>;
  startWorkers(decorate?: SystemOptions['decorate']): Promise<void>;
  /**
   * Writes this system's settings as a CUSTODY_CONFIG file for worker processes started by a
   * test, each optionally with a data folder of its own. Returns the file's path.
   */
  writeWorkerConfig(name: string, dataDir?: string): string;
  close(): Promise<void>;
}

export async function startCustodySystem(opts: SystemOptions = {}): Promise<CustodySystem> {
  installRuntime('ERROR');
  await ensureTemporalServer();
  await useWorkflowBundle();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-system-'));
  const sourceDir = path.join(root, 'source');
  fs.mkdirSync(sourceDir);
  for (const id of opts.objects ?? []) {
    fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', id), path.join(sourceDir, id), { recursive: true });
  }
  const startService = (port: number) =>
    startReferenceService({ port, dataDir: path.join(root, 'service'), pollIntervalMs: 200, transfer: opts.serviceTransfer });
  let service = await startService(0);
  const config = loadConfig(
    process.env,
    {
      dataDir: path.join(root, 'data'),
      storage: { source: sourceDir },
      databaseUrl: path.join(root, 'data', 'ledger.sqlite'),
      // Objects copied from examples/ were just written: no settling wait in tests.
      guards: { maxObjectBytes: 1024 ** 3, maxFiles: 1000, allowZeroLengthFiles: false, settleTime: '1ms' },
      heartbeatTimeout: '5s',
      // Fast retries: tests exercise failures without waiting minutes.
      retry: Object.fromEntries(
        ['download', 'package', 'submit', 'io'].map((q) => [
          q,
          { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5, nonRetryableErrorTypes: [] },
        ]),
      ),
      service: { url: service.url, transfer: path.join(root, 'service', 'transfer') },
    },
    opts.config ?? {},
  );
  const { client, connection } = await connectClient(config);
  const ledger = openLedger(config.databaseUrl);
  await ledger.migrate();

  const system: CustodySystem = {
    root,
    config,
    client,
    ledger,
    serviceUrl: service.url,
    sourceDir,
    source: openSource(config.storage.source, config.storage.s3),
    workers: opts.inProcessWorkers === false ? undefined : await startWorkers(config, undefined, opts.decorate),
    async stopWorkers() {
      system.workers?.shutdown();
      await system.workers?.done;
      system.workers = undefined;
    },
    async stopService() {
      await service.close();
    },
    async startService() {
      service = await startService(Number(new URL(service.url).port));
    },
    async startWorkers(decorate = opts.decorate) {
      system.workers = await startWorkers(config, undefined, decorate);
    },
    writeWorkerConfig(name, dataDir = config.dataDir) {
      const file = path.join(root, `${name}.json`);
      const { storage, databaseUrl, service, verdict, guards, heartbeatTimeout, retry, sip } = config;
      fs.writeFileSync(file, JSON.stringify({ dataDir, storage, databaseUrl, service, verdict, guards, heartbeatTimeout, retry, sip }));
      return file;
    },
    async close() {
      // A schedule a test created would go on starting pollers against the next test's system.
      for (const id of SCHEDULE_IDS)
        await client.schedule
          .getHandle(id)
          .delete()
          .catch(() => undefined);
      // Workflows left waiting (rejected, failed) would be picked up by the next test's worker, and
      // the next test would list them as running: terminated, until visibility lists none running
      // (it shows a termination a moment late, and one started last may only just show up).
      await eventually(
        'no workflow left running',
        async () => {
          const running = [];
          for await (const wf of client.workflow.list({ query: 'ExecutionStatus="Running"' })) running.push(wf);
          for (const wf of running)
            await client.workflow
              .getHandle(wf.workflowId, wf.runId)
              .terminate('test finished')
              .catch(() => undefined);
          return running.length;
        },
        (n) => n === 0,
        { timeoutMs: 30_000 },
      );
      await system.stopWorkers().catch(() => undefined);
      await ledger.close();
      await (connection as Connection).close();
      await service.close().catch(() => undefined);
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return system;
}
