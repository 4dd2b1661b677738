// The dev-server scripts must never mistake another process on custody's ports for their own
// server: the demo would then create its schedule, start workflows and change the namespace
// retention on that other server.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { REPO_ROOT, loadConfig } from '../config/config';
import { workflowsUrl } from '../starters/web-ui';

const run = promisify(execFile);
const START = path.join(REPO_ROOT, 'temporal-config', 'start-dev-server.sh');
const STOP = path.join(REPO_ROOT, 'temporal-config', 'stop-dev-server.sh');
// Ports of this file only, apart from the test server's and the demo's; they follow the test
// server's port (17633 and 18633 by default), so runs side by side on their own ports keep apart.
const PORT = Number(process.env.CUSTODY_TEST_TEMPORAL_PORT ?? 17233) + 400;
const UI_PORT = PORT + 1000;

interface ScriptRun {
  code: number;
  stdout: string;
  stderr: string;
}

async function script(file: string, env: Record<string, string>): Promise<ScriptRun> {
  try {
    const { stdout, stderr } = await run(file, [], {
      env: { ...process.env, CUSTODY_TEMPORAL_PORT: String(PORT), CUSTODY_TEMPORAL_UI_PORT: String(UI_PORT), CUSTODY_TEMPORAL_HEADLESS: '1', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failed = e as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

async function listenOn(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

async function retentionSeconds(address: string): Promise<number> {
  const connection = await Connection.connect({ address });
  try {
    const ns = await connection.workflowService.describeNamespace({ namespace: 'custody' });
    return Number(ns.config?.workflowExecutionRetentionTtl?.seconds);
  } finally {
    await connection.close();
  }
}

describe('Temporal dev-server scripts and ports they do not own', function () {
  this.timeout(120_000);
  let root: string;
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-dev-server-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('refuses a gRPC port another process listens on, naming the port, the holder and CUSTODY_TEMPORAL_PORT', async () => {
    const other = await listenOn(PORT);
    try {
      const state = path.join(root, 'state');
      const started = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: state });
      assert.equal(started.code, 1, started.stdout);
      assert.equal(
        started.stderr.trim(),
        `port ${PORT} on 127.0.0.1 (CUSTODY_TEMPORAL_PORT) is taken by another process (pid ${process.pid}), not a dev server started for ${state}: stop that process or choose another port, e.g. CUSTODY_TEMPORAL_PORT=${PORT + 10}`,
      );
      assert.ok(!fs.existsSync(path.join(state, 'server.pid')), 'no server was started');
    } finally {
      other.close();
    }
  });

  it('refuses a Web UI port another process listens on, naming CUSTODY_TEMPORAL_UI_PORT', async () => {
    const other = await listenOn(UI_PORT);
    try {
      const started = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: path.join(root, 'state'), CUSTODY_TEMPORAL_HEADLESS: '0' });
      assert.equal(started.code, 1, started.stdout);
      assert.match(
        started.stderr,
        new RegExp(`^port ${UI_PORT} on 127\\.0\\.0\\.1 \\(CUSTODY_TEMPORAL_UI_PORT\\) is taken by another process \\(pid ${process.pid}\\)`),
      );
    } finally {
      other.close();
    }
  });

  it('leaves another dev server on its port alone: stops with a message and that server keeps its retention', async () => {
    const mine = path.join(root, 'mine');
    const other = path.join(root, 'other');
    const first = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: other, CUSTODY_TEMPORAL_RETENTION: '48h' });
    assert.equal(first.code, 0, first.stderr);
    try {
      const otherPid = fs.readFileSync(path.join(other, 'server.pid'), 'utf8').trim();
      const second = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: mine, CUSTODY_TEMPORAL_RETENTION: '720h' });
      assert.equal(second.code, 1, second.stdout);
      assert.match(
        second.stderr,
        new RegExp(
          `^port ${PORT} on 127\\.0\\.0\\.1 \\(CUSTODY_TEMPORAL_PORT\\) is taken by another process \\(pid ${otherPid}\\), not a dev server started for ${mine}`,
        ),
      );
      assert.equal(await retentionSeconds(`127.0.0.1:${PORT}`), 48 * 3600, 'the other server keeps its retention');
      // The server started for a state folder is still its own on the next start.
      const again = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: other });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.trim(), `Temporal dev server already running at 127.0.0.1:${PORT} (pid ${otherPid})`);
    } finally {
      await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: other });
    }
  });

  it('prints the Web UI link custody prints: CUSTODY_TEMPORAL_UI_PORT, or CUSTODY_TEMPORAL_UI_URL when set', async () => {
    const state = path.join(root, 'state');
    const started = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: state, CUSTODY_TEMPORAL_HEADLESS: '0' });
    assert.equal(started.code, 0, started.stderr);
    try {
      const link = (out: string) => out.split('\n').find((l) => l.startsWith('Web UI: '));
      assert.equal(link(started.stdout), `Web UI: ${workflowsUrl(loadConfig({ CUSTODY_TEMPORAL_UI_PORT: String(UI_PORT) }))}`);
      assert.equal(link(started.stdout), `Web UI: http://localhost:${UI_PORT}/namespaces/custody/workflows`);
      const ui = await fetch(`http://localhost:${UI_PORT}/namespaces/custody/workflows`);
      assert.equal(ui.status, 200, 'the Web UI answers at the printed address');
      await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: state });
      const address = { CUSTODY_TEMPORAL_UI_URL: 'https://temporal.example.org' };
      const again = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: state, CUSTODY_TEMPORAL_HEADLESS: '0', ...address });
      assert.equal(again.code, 0, again.stderr);
      assert.equal(link(again.stdout), `Web UI: ${workflowsUrl(loadConfig({ CUSTODY_TEMPORAL_UI_PORT: String(UI_PORT), ...address }))}`);
    } finally {
      await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: state });
    }
  });

  it('registers the search attributes a state folder from an older custody lacks', async () => {
    const state = path.join(root, 'state');
    const temporal = (await run(path.join(REPO_ROOT, 'temporal-config', 'get-temporal.sh'))).stdout.trim();
    const at = ['--address', `127.0.0.1:${PORT}`, '-n', 'custody'];
    const attributes = async () => (await run(temporal, ['operator', 'search-attribute', 'list', ...at])).stdout;
    assert.equal((await script(START, { CUSTODY_TEMPORAL_STATE_DIR: state })).code, 0);
    try {
      // As a server made before CustodyState existed: the attribute is not there.
      await run(temporal, ['operator', 'search-attribute', 'remove', '--name', 'CustodyState', '--yes', ...at]);
      assert.doesNotMatch(await attributes(), /CustodyState/);
      await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: state });
      const again = await script(START, { CUSTODY_TEMPORAL_STATE_DIR: state });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /registering search attribute CustodyState/);
      assert.match(await attributes(), /CustodyState\s+Keyword/);
      for (const name of Object.keys(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'temporal-config', 'search-attributes.json'), 'utf8')) as object))
        assert.match(await attributes(), new RegExp(`\\b${name}\\b`));
    } finally {
      await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: state });
    }
  });

  it('stop-dev-server.sh leaves alone a process that took the recorded pid', async () => {
    const state = path.join(root, 'state');
    fs.mkdirSync(state);
    const unrelated = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => unrelated.once('exit', resolve));
    try {
      fs.writeFileSync(path.join(state, 'server.pid'), String(unrelated.pid));
      const stopped = await script(STOP, { CUSTODY_TEMPORAL_STATE_DIR: state });
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(stopped.stdout.trim(), `pid ${unrelated.pid} recorded in ${state}/server.pid is no longer a Temporal dev server of ${state}: left alone`);
      assert.equal(unrelated.exitCode, null);
      assert.equal(unrelated.signalCode, null, 'the unrelated process is still running');
    } finally {
      unrelated.kill();
      await exited;
    }
  });
});
