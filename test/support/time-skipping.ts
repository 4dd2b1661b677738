// Custody in skipped time: Temporal's time-skipping test server (obtained by
// scripts/get-test-server.sh) with the real preservation workflow, the real activities, a real
// SQLite ledger, folder source and reference preservation service. Waits of hours and days
// (verdict deadline, fallback poll, retry backoff) pass in seconds of wall time.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TASK_QUEUES, preserveWorkflowId, type PipelineSettings, type QueueRole, type RetrySettings } from '../../common/preservation';
import { SA } from '../../common/search-attributes';
import { REPO_ROOT, loadConfig, type Config } from '../../config/config';
import type { ActivityDeps } from '../../activities';
import { startWorkers } from '../../workers/run-worker';
import { useWorkflowBundle } from './workflow-bundle';
import { openParts } from '../../activities/parts';
import type { Ledger } from '../../ledger';
import type { PreservationService } from '../../services/preservation-service';
import { startReferenceService, type RunningReferenceService } from '../../reference-service/server';
import { pipelineSettings } from '../../starters/pipeline-settings';
import type { preserveObject } from '../../workflows';
import { installRuntime } from '../../workers/runtime';

const run = promisify(execFile);

/** Path of the time-skipping test server binary; the script installs it on first use. */
export async function testServerPath(): Promise<string> {
  const script = path.join(REPO_ROOT, 'scripts', 'get-test-server.sh');
  try {
    const { stdout } = await run(script, [], { cwd: REPO_ROOT });
    return stdout.trim();
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new Error(`${script} found no time-skipping test server: ${stderr || (e as Error).message}`);
  }
}

/**
 * The test server refuses to upsert search attributes it does not know ("search attribute
 * CustodyStage is not defined"), and its environment options have no `searchAttributes` (only
 * the dev server's do): custody's are registered through the operator service, as on a cluster.
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  const searchAttributes = Object.fromEntries(
    Object.values(SA).map((key) => [key.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
  );
  await env.connection.operatorService.addSearchAttributes({ namespace: env.namespace ?? 'default', searchAttributes });
}

/** One time-skipping environment (one test server process) with custody's search attributes. */
export async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  installRuntime('ERROR');
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: await testServerPath() } },
  });
  try {
    await registerSearchAttributes(env);
  } catch (e) {
    await env.teardown();
    throw e;
  }
  return env;
}

export interface SkippedTimeOptions {
  /** Example object ids copied from examples/collection into the source. */
  objects: string[];
  /** How often the reference service looks at its transfer folder (wall time). */
  servicePollMs: number;
  verdict: PipelineSettings['verdict'];
  /** Retry settings of single queues; the others retry quickly. */
  retry?: Partial<Record<QueueRole, RetrySettings>>;
}

export interface SkippedTimeSystem {
  env: TestWorkflowEnvironment;
  root: string;
  config: Config;
  ledger: Ledger;
  /** custody's client of the reference service, as the activities use it. */
  service: PreservationService;
  /** The workflow input's settings, as enqueue would send them from this config. */
  settings: PipelineSettings;
  start(objectId: string): Promise<WorkflowHandle<typeof preserveObject>>;
  /** Takes the reference service down (its API refuses connections); startService brings it back on the same port. */
  stopService(): Promise<void>;
  startService(): Promise<void>;
  close(): Promise<void>;
}

const QUICK_RETRY: RetrySettings = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 5, nonRetryableErrorTypes: [] };

/** A temp folder with source, ledger and reference service, and one worker per task queue on the environment. */
export async function startSkippedTimeSystem(env: TestWorkflowEnvironment, opts: SkippedTimeOptions): Promise<SkippedTimeSystem> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-skipped-time-'));
  const cleanup: Array<() => Promise<unknown>> = [async () => fs.rmSync(root, { recursive: true, force: true })];
  const closeAll = async () => {
    for (const step of [...cleanup].reverse()) await step().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  };
  try {
    const sourceDir = path.join(root, 'source');
    for (const id of opts.objects) fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', id), path.join(sourceDir, id), { recursive: true });
    const serviceDir = path.join(root, 'service');
    const startService = (port: number) => startReferenceService({ port, dataDir: serviceDir, pollIntervalMs: opts.servicePollMs });
    let service: RunningReferenceService | undefined = await startService(0);
    const port = Number(new URL(service.url).port);
    cleanup.push(async () => service?.close());

    const config = loadConfig(process.env, {
      dataDir: path.join(root, 'data'),
      storage: { source: sourceDir },
      databaseUrl: path.join(root, 'data', 'ledger.sqlite'),
      service: { url: service.url, transfer: path.join(serviceDir, 'transfer') },
      // Objects copied from examples/ were just written: no settling wait.
      guards: { maxObjectBytes: 1024 ** 3, maxFiles: 1000, allowZeroLengthFiles: false, settleTime: '1ms' },
      verdict: opts.verdict,
      retry: { download: QUICK_RETRY, package: QUICK_RETRY, submit: QUICK_RETRY, io: QUICK_RETRY, ...opts.retry },
    });
    fs.mkdirSync(config.dataDir, { recursive: true });
    const parts: ActivityDeps = await openParts(config);
    cleanup.push(() => parts.ledger.close());
    await useWorkflowBundle();
    // The same workers as production (workers/run-worker.ts), on the test server's connection.
    const workers = await startWorkers(config, Object.keys(TASK_QUEUES) as QueueRole[], undefined, {
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
    });
    cleanup.push(async () => {
      workers.shutdown();
      await workers.done;
    });

    const started: WorkflowHandle[] = [];
    const system: SkippedTimeSystem = {
      env,
      root,
      config,
      ledger: parts.ledger,
      service: parts.service,
      settings: pipelineSettings(config),
      async start(objectId) {
        const handle = await env.client.workflow.start<typeof preserveObject>('preserveObject', {
          workflowId: preserveWorkflowId(objectId),
          taskQueue: TASK_QUEUES.io,
          args: [{ objectId, settings: system.settings }],
        });
        started.push(handle);
        return handle;
      },
      async stopService() {
        await service?.close();
        service = undefined;
      },
      async startService() {
        service = await startService(port);
      },
      async close() {
        try {
          // A workflow left running (a failed test) would be picked up by the next test's workers.
          for (const handle of started) {
            const { status } = await handle.describe();
            if (status.name === 'RUNNING') await handle.terminate('test finished');
          }
        } finally {
          await closeAll();
        }
      },
    };
    return system;
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** A workflow's history as an operator reads it in the Web UI. */
export async function historyFacts(handle: WorkflowHandle) {
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = new Map<string, string>();
  for (const e of events) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a) scheduled.set(String(e.eventId), a.activityType?.name ?? '');
  }
  /** Each activity that ran, with the attempt it finished on (retries are not separate events). */
  const activities = events.flatMap((e) => {
    const a = e.activityTaskStartedEventAttributes;
    return a ? [{ type: scheduled.get(String(a.scheduledEventId)) ?? '', attempt: a.attempt ?? 1 }] : [];
  });
  return {
    scheduledActivities: [...scheduled.values()],
    activities,
    signals: events.flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName ?? ''] : [])),
  };
}
