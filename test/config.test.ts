import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, REPO_ROOT, loadConfig } from '../config/config';

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

  it('names each bad value and where it came from', () => {
    assert.throws(
      () => loadConfig({ CUSTODY_SERVICE_URL: 'not a url', CUSTODY_VERDICT_POLL_AFTER: 'soon' }),
      (e: unknown) =>
        e instanceof ConfigError &&
        /service\.url/.test(e.message) &&
        /verdict\.pollAfter .*duration/.test(e.message) &&
        /CUSTODY_SERVICE_URL/.test(e.message),
    );
  });

  it('refuses unknown keys (a typo must not be ignored)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-config-'));
    const file = path.join(dir, 'custody.json');
    fs.writeFileSync(file, JSON.stringify({ verdcit: { deadline: '1d' } }));
    assert.throws(() => loadConfig({ CUSTODY_CONFIG: file }), /verdcit|unrecognized/i);
    fs.rmSync(dir, { recursive: true });
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
    assert.deepEqual([c.storage.work, c.storage.reports, c.service.transfer, c.databaseUrl], ['/srv/custody/work', '/srv/custody/reports', '/srv/custody/service/transfer', '/srv/custody/ledger.sqlite']);
  });

  it('names a storage location it cannot use', () => {
    assert.throws(() => loadConfig({ CUSTODY_WORK: 's3://Work_Bucket/x' }), /invalid config value storage\.work \(from defaults \+ CUSTODY_WORK\): storage location "s3:\/\/Work_Bucket\/x": "Work_Bucket" is not a valid bucket name/);
    assert.throws(() => loadConfig({ CUSTODY_TRANSFER: 'ftp://host/in' }), /invalid config value service\.transfer .*only file:\/\/ and s3:\/\/ are supported/);
  });

  it('names an unreadable config file', () => {
    assert.throws(() => loadConfig({ CUSTODY_CONFIG: '/nonexistent/custody.json' }), /cannot read config file \/nonexistent\/custody\.json/);
  });
});
