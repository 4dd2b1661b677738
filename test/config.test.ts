import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, REPO_ROOT, loadConfig } from '../config/config';
import { workflowListUrl, workflowsUrl } from '../starters/web-ui';

/** A config file with the given text, in a folder of its own. */
function configFile(text: string): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'custody-config-')), 'custody.json');
  fs.writeFileSync(file, text);
  return file;
}

function configErrorOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `not a ConfigError: ${(e as Error).stack}`);
    return e.message;
  }
  assert.fail('the config was accepted');
}

const TOP_LEVEL_KEYS =
  'dataDir, storage, databaseUrl, organization, sip, guards, service, verdict, schedules, fixity, harvest, temporal, worker, articles, copies, delivery, notifications, windows, heartbeatTimeout, retry';

describe('configuration', () => {
  it('has defaults that validate, with sha256 and sha512 manifests', () => {
    const c = loadConfig({});
    assert.deepEqual(c.sip.algorithms, ['sha256', 'sha512']);
    assert.equal(c.temporal.retention, '30d');
  });

  it('takes a JSON file, then environment overrides', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-config-'));
    const file = path.join(dir, 'custody.json');
    fs.writeFileSync(file, JSON.stringify({ sip: { algorithms: ['md5', 'sha256'] }, verdict: { pollAfter: '30m' } }));
    const c = loadConfig({ CUSTODY_CONFIG: file, CUSTODY_VERDICT_DEADLINE: '3d' });
    assert.deepEqual(c.sip.algorithms, ['md5', 'sha256']);
    assert.deepEqual(c.verdict, { pollAfter: '30m', deadline: '3d' });
    fs.rmSync(dir, { recursive: true });
  });

  it('points the Web UI links at CUSTODY_TEMPORAL_UI_PORT, and at CUSTODY_TEMPORAL_UI_URL over it', () => {
    const objects = `?query=${encodeURIComponent('CustodyPipeline = "preservation"')}`;
    assert.equal(workflowListUrl(loadConfig({})), `http://localhost:8233/namespaces/custody/workflows${objects}`);
    assert.equal(workflowListUrl(loadConfig({ CUSTODY_TEMPORAL_UI_PORT: '9233' })), `http://localhost:9233/namespaces/custody/workflows${objects}`);
    const both = loadConfig({ CUSTODY_TEMPORAL_UI_PORT: '9233', CUSTODY_TEMPORAL_UI_URL: 'https://temporal.example.org/' });
    assert.equal(workflowsUrl(both), 'https://temporal.example.org/namespaces/custody/workflows');
  });

  it('names each bad value and where it came from', () => {
    assert.throws(
      () => loadConfig({ CUSTODY_SERVICE_URL: 'not a url', CUSTODY_VERDICT_POLL_AFTER: 'soon' }),
      (e: unknown) =>
        e instanceof ConfigError && /service\.url/.test(e.message) && /verdict\.pollAfter .*duration/.test(e.message) && /CUSTODY_SERVICE_URL/.test(e.message),
    );
  });

  it('refuses unknown keys (a typo must not be ignored), naming each key and the keys it could have meant', () => {
    const file = configFile('{"verdcit": {"deadline": "1d"}, "verdict": {"deadlin": "2d"}, "__proto__": {"x": 1}}');
    assert.deepEqual(configErrorOf({ CUSTODY_CONFIG: file }).split('\n'), [
      `unknown config key verdict.deadlin = "2d" (from ${file}): expected one of pollAfter, deadline`,
      `unknown config key verdcit = {"deadline":"1d"} (from ${file}): expected one of ${TOP_LEVEL_KEYS}`,
      `unknown config key __proto__ = {"x":1} (from ${file}): expected one of ${TOP_LEVEL_KEYS}`,
    ]);
  });

  it('refuses a config file that is not an object of settings: null, a list, a string, a number', () => {
    for (const text of ['null', '[]', '"custody"', '42']) {
      const file = configFile(text);
      assert.equal(
        configErrorOf({ CUSTODY_CONFIG: file }),
        `invalid config file ${file} (CUSTODY_CONFIG): ${text} given, expected a JSON object of settings such as {"dataDir": "/srv/custody"}`,
      );
    }
  });

  it('names each null or list given for a section or a value: one line each, with the value and what is expected', () => {
    const file = configFile(
      JSON.stringify({ storage: null, retry: [], guards: { maxFiles: null }, sip: { algorithms: ['sha1'] }, worker: { slots: { io: '4' } } }),
    );
    assert.deepEqual(configErrorOf({ CUSTODY_CONFIG: file }).split('\n'), [
      `invalid config value storage = null (from ${file}): expected object`,
      `invalid config value sip.algorithms[0] = "sha1" (from ${file}): expected one of "md5"|"sha256"|"sha512"`,
      `invalid config value guards.maxFiles = null (from ${file}): expected number`,
      `invalid config value worker.slots.io = "4" (from ${file}): expected number`,
      `invalid config value retry = [] (from ${file}): expected object`,
    ]);
  });

  it('reports a section the file sets to null even when an environment variable sets a value inside it', () => {
    const file = configFile('{"storage": null, "verdict": []}');
    assert.deepEqual(configErrorOf({ CUSTODY_CONFIG: file, CUSTODY_WORK: '/srv/work', CUSTODY_VERDICT_DEADLINE: '3d' }).split('\n'), [
      `invalid config value storage = null (from ${file}): expected object`,
      `invalid config value verdict = [] (from ${file}): expected object`,
    ]);
  });

  it('stops the CLI with one line per config problem, exit code 1 and no stack trace', () => {
    const file = configFile('{"retry": [], "guards": {"maxFiles": null}, "verdcit": 1}');
    const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'status'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, CUSTODY_CONFIG: file, CUSTODY_DEBUG: '' },
    });
    assert.equal(run.status, 1, run.stderr);
    assert.deepEqual(run.stderr.trimEnd().split('\n'), [
      `custody: invalid config value guards.maxFiles = null (from ${file}): expected number`,
      `invalid config value retry = [] (from ${file}): expected object`,
      `unknown config key verdcit = 1 (from ${file}): expected one of ${TOP_LEVEL_KEYS}`,
    ]);
    for (const text of ['null', '[]']) {
      const top = spawnSync(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'status'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, CUSTODY_CONFIG: configFile(text), CUSTODY_DEBUG: '' },
      });
      assert.equal(top.status, 1, top.stderr);
      assert.match(
        top.stderr,
        new RegExp(
          `^custody: invalid config file .*custody\\.json \\(CUSTODY_CONFIG\\): ${text.replace(/[[\]]/g, '\\$&')} given, expected a JSON object of settings`,
        ),
      );
      assert.equal(top.stderr.trimEnd().split('\n').length, 1, top.stderr);
    }
  });

  it('accepts the production example of the README', () => {
    const c = loadConfig({ CUSTODY_CONFIG: path.join(REPO_ROOT, 'config', 'examples', 'production.json') });
    assert.match(c.databaseUrl, /^postgres:\/\//);
    assert.deepEqual(c.worker.queues, ['package']);
    assert.equal(c.worker.shutdownGrace, '10m');
    assert.equal(c.storage.work, 's3://custody-work/production');
    assert.equal(c.service.transfer, 's3://preservation-transfer/museum');
  });

  it('puts the working, report and transfer folders in the data folder it is given', () => {
    const c = loadConfig({ CUSTODY_DATA_DIR: '/srv/custody' });
    assert.deepEqual(
      [c.storage.work, c.storage.reports, c.service.transfer, c.databaseUrl],
      ['/srv/custody/work', '/srv/custody/reports', '/srv/custody/service/transfer', '/srv/custody/ledger.sqlite'],
    );
  });

  it('names a storage location it cannot use', () => {
    assert.throws(
      () => loadConfig({ CUSTODY_WORK: 's3://Work_Bucket/x' }),
      /invalid config value storage\.work = "s3:\/\/Work_Bucket\/x" \(from CUSTODY_WORK\): storage location "s3:\/\/Work_Bucket\/x": "Work_Bucket" is not a valid bucket name/,
    );
    assert.throws(
      () => loadConfig({ CUSTODY_TRANSFER: 'ftp://host/in' }),
      /invalid config value service\.transfer = "ftp:\/\/host\/in" \(from CUSTODY_TRANSFER\): .*only file:\/\/ and s3:\/\/ are supported/,
    );
  });

  it('checks the notifications: kinds, the token variable name, the URLs and the retry bounds, one line each', () => {
    const file = configFile(
      JSON.stringify({
        notifications: {
          url: 'hooks.example.org',
          urls: { fixity: 'https://ops.example.org/fixity', retried: 'https://x.example.org' },
          events: ['failed', 'late'],
          tokenEnv: 'my token',
          retry: { initialInterval: '1h', maximumInterval: '1m' },
        },
      }),
    );
    assert.deepEqual(configErrorOf({ CUSTODY_CONFIG: file }).split('\n'), [
      `invalid config value notifications.url = "hooks.example.org" (from ${file}): Invalid URL`,
      `invalid config value notifications.urls.retried = "https://x.example.org" (from ${file}): names no kind of notification: expected one of failed, rejected, frozen, fixity, held`,
      `invalid config value notifications.events[1] = "late" (from ${file}): expected one of "failed"|"rejected"|"frozen"|"fixity"|"held"`,
      `invalid config value notifications.tokenEnv = "my token" (from ${file}): must be the name of an environment variable, such as NOTIFY_TOKEN`,
    ]);
    const bounds = configFile(JSON.stringify({ notifications: { events: ['held', 'held'], retry: { initialInterval: '1h', maximumInterval: '1m' } } }));
    assert.deepEqual(configErrorOf({ CUSTODY_CONFIG: bounds }).split('\n'), [
      `invalid config value notifications.events = ["held","held"] (from ${bounds}): names a kind twice`,
      `invalid config value notifications.retry.maximumInterval = "1m" (from ${bounds}): must be at least retry.initialInterval (1h)`,
    ]);
    const c = loadConfig(
      {},
      { notifications: { url: 'https://hooks.example.org/custody', urls: { fixity: 'https://ops.example.org/fixity' }, tokenEnv: 'NOTIFY_TOKEN' } },
    );
    assert.deepEqual(c.notifications.events, ['failed', 'rejected', 'frozen', 'fixity', 'held']);
    assert.equal(c.notifications.heldLongerThan, '1d');
  });

  it('names an unreadable config file', () => {
    assert.throws(() => loadConfig({ CUSTODY_CONFIG: '/nonexistent/custody.json' }), /cannot read config file \/nonexistent\/custody\.json/);
  });
});
