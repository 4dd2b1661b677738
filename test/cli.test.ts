// The `custody` command as an operator meets it: its help, and one clear line for a mistake.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../config/config';
import { ensureTemporalServer, testTemporal } from './support/temporal-server';
import { startCustodySystem, type CustodySystem } from './support/custody-system';

const execFileP = promisify(execFile);

async function custody(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), ...args], {
      env: { ...process.env, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('custody CLI', function () {
  this.timeout(120_000);

  it('lists its subcommands in --help', async () => {
    const { code, stdout } = await custody(['--help']);
    assert.equal(code, 0);
    for (const sub of ['enqueue', 'status', 'schedules', 'worker']) assert.match(stdout, new RegExp(`\\b${sub}\\b`));
  });

  it('says in one line that the server cannot be reached', async () => {
    const { code, stderr } = await custody(['status'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(code, 1);
    assert.equal(stderr.trim().split('\n').length, 1, stderr);
    assert.match(stderr, /cannot reach the Temporal server at 127\.0\.0\.1:1/);
  });

  it('names a bad config value', async () => {
    const { code, stderr } = await custody(['status'], { CUSTODY_VERDICT_DEADLINE: 'fortnight' });
    assert.equal(code, 1);
    assert.match(stderr, /verdict\.deadline/);
    assert.match(stderr, /CUSTODY_VERDICT_DEADLINE/);
    assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  });

  it('migrates the ledger, twice without harm', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-cli-db-'));
    const env = { DATABASE_URL: path.join(dir, 'ledger.sqlite') };
    for (let i = 0; i < 2; i++) {
      const { code, stdout, stderr } = await custody(['db', 'migrate'], env);
      assert.equal(code, 0, stderr);
      assert.match(stdout, /ledger is up to date \(SQLite .*ledger\.sqlite\)/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('rejects a bad flag value with the flag named', async () => {
    const { code, stderr } = await custody(['enqueue', '--limit', 'lots']);
    assert.notEqual(code, 0);
    assert.match(stderr, /--limit/);
  });

  describe('against a running system', () => {
    let sys: CustodySystem;
    let env: Record<string, string>;
    before(async () => {
      await ensureTemporalServer();
      sys = await startCustodySystem({ objects: ['mus-0004'], config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
      const configFile = path.join(sys.root, 'custody.json');
      fs.writeFileSync(configFile, JSON.stringify({ dataDir: sys.config.dataDir, storage: sys.config.storage, databaseUrl: sys.config.databaseUrl, service: sys.config.service, verdict: sys.config.verdict }));
      env = { CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
    });
    after(async () => sys?.close());

    it('refuses an unknown object id in one line', async () => {
      const { code, stderr } = await custody(['enqueue', '--ids', 'no-such-object'], env);
      assert.equal(code, 1);
      assert.equal(stderr.trim(), `custody: unknown object id no-such-object: not in the source ${sys.sourceDir}`);
    });

    it('enqueues, says so when enqueued again, and reports the object in status', async () => {
      const first = await custody(['enqueue'], env);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /mus-0004: started preserve:mus-0004/);
      const second = await custody(['enqueue'], env);
      assert.match(second.stdout, /mus-0004: (already running as preserve:mus-0004; nothing to do|skipped, already preserved)/);
      await sys.client.workflow.getHandle('preserve:mus-0004').result();
      const status = await custody(['status', '--json'], env);
      const summary = JSON.parse(status.stdout) as { total: number; counts: Record<string, number> };
      assert.equal(summary.total, 1);
      assert.equal(summary.counts.confirmed, 1);
      const one = await custody(['status', 'mus-0004'], env);
      assert.match(one.stdout, /state: confirmed/);
      assert.match(one.stdout, /awaiting-verdict/);
      assert.match(one.stdout, /accepted/);
    });

    it('freezes, lists and unfreezes an object, and reenqueue --dry-run changes nothing', async () => {
      const frozen = await custody(['freeze', 'mus-0004', '--reason', 'donor asked to wait'], env);
      assert.equal(frozen.code, 0, frozen.stderr);
      assert.match(frozen.stdout, /mus-0004: not running: recorded frozen in the ledger; enqueue will skip it/);
      const status = await custody(['status'], env);
      assert.match(status.stdout, /mus-0004\s+frozen \(confirmed\)\s+donor asked to wait\s+\[by \S+@\S+\]/);
      const dry = await custody(['reenqueue', '--frozen-reason', 'donor', '--dry-run'], env);
      assert.match(dry.stdout, /mus-0004: would be reenqueued\n1 object\(s\); nothing changed \(--dry-run\)/);
      assert.equal((await sys.ledger.getObject('mus-0004'))?.frozen, true);
      const none = await custody(['reenqueue', '--rejected'], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /nothing to reenqueue/);
      const noReason = await custody(['freeze', 'mus-0004'], env);
      assert.notEqual(noReason.code, 0);
      assert.match(noReason.stderr, /--reason/);
      const unfrozen = await custody(['unfreeze', 'mus-0004'], env);
      assert.match(unfrozen.stdout, /mus-0004: not running: unfrozen in the ledger/);
      const again = await custody(['unfreeze', 'mus-0004'], env);
      assert.equal(again.code, 1);
      assert.match(again.stdout, /mus-0004: is not frozen/);
    });

    it('runs a worker for chosen queues that stops cleanly on SIGTERM', async () => {
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker', '--queues', 'download,package', '--slots', 'package=1'], {
        env: { ...process.env, ...env },
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const until = Date.now() + 60_000;
      while (!out.includes('worker serving') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /worker serving download, package \(pid \d+\)/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'exits 0 after a graceful shutdown');
    });

    it('creates, lists, pauses and triggers the polling schedule', async () => {
      assert.match((await custody(['schedules', 'create'], env)).stdout, /(created|updated) schedule sync-processed-sips/);
      assert.match((await custody(['schedules', 'pause', 'sync-processed-sips'], env)).stdout, /paused/);
      assert.match((await custody(['schedules', 'list'], env)).stdout, /sync-processed-sips\s+paused/);
      assert.match((await custody(['schedules', 'trigger', 'sync-processed-sips'], env)).stdout, /triggered/);
      const missing = await custody(['schedules', 'pause', 'nope'], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /unknown schedule nope/);
      await sys.client.schedule.getHandle('sync-processed-sips').delete();
    });
  });
});
