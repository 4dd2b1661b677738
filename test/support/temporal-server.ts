// One real Temporal dev server for the whole test run, started with custody's own script on
// test ports and a throw-away state folder, stopped after the last test. With
// CUSTODY_TEST_TEMPORAL_EXTERNAL=host:port the tests use a server someone else runs (npm run
// test:cluster: a Temporal server on PostgreSQL) and neither start nor stop it; a test that restarts
// the server runs CUSTODY_TEST_TEMPORAL_RESTART (a shell command) instead.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { REPO_ROOT } from '../../config/config';
import { SA } from '../../common/search-attributes';

const run = promisify(execFile);
/** The gRPC status codes the namespace set-up tells apart. */
const status = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, UNAVAILABLE: 14 } as const;
const external = process.env.CUSTODY_TEST_TEMPORAL_EXTERNAL || undefined;
const port = Number(process.env.CUSTODY_TEST_TEMPORAL_PORT ?? 17233);
// Its own setting for when port + 1000 is another run's server port (several runs on one machine).
const uiPort = Number(process.env.CUSTODY_TEST_TEMPORAL_UI_PORT ?? port + 1000);

export const testTemporal = {
  address: external ?? `127.0.0.1:${port}`,
  namespace: 'custody',
  /** The dev server's Web UI, which the browser test drives. */
  webUiUrl: `http://127.0.0.1:${uiPort}`,
};

let stateDir: string | undefined;
let starting: Promise<void> | undefined;

function env() {
  return {
    ...process.env,
    CUSTODY_TEMPORAL_PORT: String(port),
    CUSTODY_TEMPORAL_UI_PORT: String(uiPort),
    // With the Web UI: the browser test reads what an operator would.
    CUSTODY_TEMPORAL_HEADLESS: '0',
    CUSTODY_TEMPORAL_STATE_DIR: stateDir!,
  };
}

/** Starts the dev server once per run; points TEMPORAL_ADDRESS/NAMESPACE at it. */
export function ensureTemporalServer(): Promise<void> {
  starting ??= (async () => {
    if (!external) {
      stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-temporal-'));
      await run(path.join(REPO_ROOT, 'temporal-config', 'start-dev-server.sh'), [], { env: env() });
    }
    process.env.TEMPORAL_ADDRESS = testTemporal.address;
    process.env.TEMPORAL_NAMESPACE = testTemporal.namespace;
  })();
  return starting;
}

export async function stopTemporalServer(): Promise<void> {
  if (!starting || !stateDir) return;
  await run(path.join(REPO_ROOT, 'temporal-config', 'stop-dev-server.sh'), [], { env: env() });
}

export async function restartTemporalServer(): Promise<void> {
  if (external) {
    const command = process.env.CUSTODY_TEST_TEMPORAL_RESTART;
    if (!command) throw new Error(`CUSTODY_TEST_TEMPORAL_RESTART is not set: no way to restart the external Temporal server at ${external}`);
    await run('bash', ['-c', command], { cwd: REPO_ROOT });
    return;
  }
  await run(path.join(REPO_ROOT, 'temporal-config', 'stop-dev-server.sh'), [], { env: env() });
  await run(path.join(REPO_ROOT, 'temporal-config', 'start-dev-server.sh'), [], { env: env() });
}

export function removeTemporalState(): void {
  if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
}

/**
 * Gives the enclosing describe a Temporal namespace of its own, with custody's search
 * attributes: a test that acts on every workflow of its namespace (a drain, a reconcile, a chaos
 * run) meets no workflow another test file left there. TEMPORAL_NAMESPACE points at it from the
 * describe's `before` to its `after`, so clients, workers and CLI processes started meanwhile use it.
 */
export function useOwnNamespace(name: string): void {
  let previous: string | undefined;
  before(async function () {
    this.timeout(60_000);
    await ensureTemporalServer();
    const connection = await Connection.connect({ address: testTemporal.address });
    try {
      const namespaces = (await connection.workflowService.listNamespaces({})).namespaces ?? [];
      if (!namespaces.some((n) => n.namespaceInfo?.name === name))
        await connection.workflowService.registerNamespace({ namespace: name, workflowExecutionRetentionPeriod: msToTs('1d') }).catch((e: unknown) => {
          if (!(isGrpcServiceError(e) && e.code === status.ALREADY_EXISTS)) throw e;
        });
      const searchAttributes = Object.fromEntries(
        Object.values(SA).map((key) => [key.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${key.type}`]]),
      );
      // A frontend learns of a new namespace, and of its search attributes, on a cache refresh: until then it answers
      // NOT_FOUND (no such namespace) or INVALID_ARGUMENT (no such attribute in the query), and is asked again.
      // Adding attributes that exist already is accepted, so a repeated round is harmless. Anything else fails at once.
      const notYet = (e: unknown) => isGrpcServiceError(e) && ([status.NOT_FOUND, status.INVALID_ARGUMENT, status.UNAVAILABLE] as number[]).includes(e.code);
      const until = Date.now() + 30_000;
      for (;;) {
        try {
          await connection.operatorService.addSearchAttributes({ namespace: name, searchAttributes });
          await connection.workflowService.listWorkflowExecutions({ namespace: name, pageSize: 1, query: `CustodyStage = 'queued'` });
          break;
        } catch (e) {
          if (!notYet(e) || Date.now() > until) throw e;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    } finally {
      await connection.close();
    }
    previous = process.env.TEMPORAL_NAMESPACE;
    process.env.TEMPORAL_NAMESPACE = name;
  });
  after(() => {
    process.env.TEMPORAL_NAMESPACE = previous;
  });
}
