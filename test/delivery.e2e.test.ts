// Delivery to several destinations end to end: objects preserved by the real pipeline (Temporal
// dev server, reference preservation service) are delivered to a folder, an S3 bucket (the real
// S3 API server) and an HTTP receiver (the reference receiver). The receiver is down for a
// while: the other two finish meanwhile, it catches up when it is back. A second delivery skips
// what is there; a corrupted copy at a destination is recorded, not retried blindly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { deliveryWorkflowId, type DestinationOutcome } from '../common/delivery';
import { preserveWorkflowId } from '../common/preservation';
import { REPO_ROOT } from '../config/config';
import type { DeliveryRow } from '../ledger';
import { startReceiver, type RunningReceiver } from '../reference-receiver/server';
import { deliverNow, destinationSummary } from '../starters/delivery';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { eventually } from './support/eventually';
import { startTestS3, type TestS3 } from './support/s3-server';
import { testTemporal } from './support/temporal-server';
import { waitForStage } from './support/wait-for-stage';

const execFileP = promisify(execFile);

const TOKEN = 'receiver-secret-7f3a';
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

describe('delivery to several destinations (folder, S3, HTTP receiver; real Temporal)', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let s3: TestS3;
  let receiver: RunningReceiver | undefined;
  let receiverPort: number;
  let receiverData: string;
  let mirror: string;
  let bucket: string;

  async function startTheReceiver(): Promise<void> {
    receiver = await startReceiver({ port: receiverPort, dataDir: receiverData, token: TOKEN });
    receiverPort = Number(new URL(receiver.url).port);
  }

  async function rows(itemId: string): Promise<DeliveryRow[]> {
    return sys.ledger.deliveries.of(itemId);
  }

  async function until<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
    return eventually(what, get, done, { timeoutMs });
  }

  const states = (r: DeliveryRow[]) => Object.fromEntries(r.map((x) => [x.destination, x.state]));

  before(async function () {
    this.timeout(240_000);
    s3 = await startTestS3();
    bucket = await s3.bucket('mirror');
    sys = await startCustodySystem({
      objects: ['mus-0001', 'mus-0002', 'mus-0003'],
      inProcessWorkers: false,
      config: { verdict: { pollAfter: '1s', deadline: '14d' } },
    });
    receiverData = path.join(sys.root, 'receiver');
    receiverPort = 0;
    await startTheReceiver();
    mirror = path.join(sys.root, 'mirror');
    process.env.CUSTODY_TEST_RECEIVER_TOKEN = TOKEN;
    Object.assign(sys.config.delivery, {
      packages: path.join(sys.root, 'packages'),
      destinations: [
        { kind: 'folder', name: 'mirror-folder', path: mirror, compress: false },
        { kind: 's3', name: 'mirror-s3', location: `s3://${bucket}/packages`, endpoint: s3.endpoint, forcePathStyle: true, compress: true },
        { kind: 'http', name: 'archive-http', url: receiver!.url, tokenEnv: 'CUSTODY_TEST_RECEIVER_TOKEN', compress: false },
      ],
      rules: [{ pipeline: 'preservation', to: ['mirror-folder', 'mirror-s3', 'archive-http'] }],
      retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
      slots: 2,
    });
    await sys.startWorkers();
  });
  after(async () => {
    await sys?.close();
    await receiver?.close();
    delete process.env.CUSTODY_TEST_RECEIVER_TOKEN;
  });

  it('delivers each accepted package to three destinations; one down for a while delays only its own deliveries, which catch up when it returns', async () => {
    await receiver!.close();
    receiver = undefined;
    const ids = ['mus-0001', 'mus-0002', 'mus-0003'];
    await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });
    for (const id of ids) await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(id)), ['confirmed'], 120_000);

    // The folder and S3 finish while the receiver is down; its rows say delayed, with until when.
    for (const id of ids) {
      const r = await until(
        `${id} at the folder and S3`,
        () => rows(id),
        (r) => states(r)['mirror-folder'] === 'delivered' && states(r)['mirror-s3'] === 'delivered',
      );
      const http = await until(
        `${id} delayed at the receiver`,
        () => rows(id),
        (x) => x.find((d) => d.destination === 'archive-http')?.state === 'delayed',
      );
      const row = http.find((d) => d.destination === 'archive-http')!;
      assert.match(row.lastError ?? '', /archive-http|ECONNREFUSED|connect/i);
      assert.ok(row.delayedUntil && Date.parse(row.delayedUntil) > Date.parse(row.updatedAt) - 1000, 'a delayed row says until when');
      assert.equal(r.find((d) => d.destination === 'mirror-folder')!.state, 'delivered');
    }
    const summary = await destinationSummary(sys.ledger, sys.config);
    const http = summary.find((s) => s.destination === 'archive-http')!;
    assert.equal(http.counts.delayed, 3);
    assert.ok(http.nextRetry);
    assert.equal(summary.find((s) => s.destination === 'mirror-folder')!.counts.delivered, 3);

    // The folder copy is the package custody kept, byte for byte.
    for (const id of ids) {
      const pkg = (await sys.ledger.packagesOf(id)).find((p) => p.verdict === 'accepted')!;
      const file = path.join(mirror, id, `${pkg.sipId}.tar`);
      assert.equal(sha256(fs.readFileSync(file)), pkg.sha256, `${file} is the accepted package`);
    }
    // S3 keeps it compressed.
    const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'packages/' }));
    assert.equal(listed.Contents?.filter((o) => o.Key!.endsWith('.tar.gz')).length, 3);

    // The receiver comes back on the same port: its deliveries resume by themselves.
    await startTheReceiver();
    for (const id of ids)
      await until(
        `${id} at the receiver`,
        () => rows(id),
        (r) => states(r)['archive-http'] === 'delivered',
        60_000,
      );
    for (const id of ids) {
      const pkg = (await sys.ledger.packagesOf(id)).find((p) => p.verdict === 'accepted')!;
      const done = await sys.client.workflow.getHandle(deliveryWorkflowId({ itemId: id, prefix: `${id}/${pkg.sipId}` })).result();
      assert.deepEqual(
        (done as DestinationOutcome[]).map((o) => [o.destination, o.state]),
        [
          ['archive-http', 'delivered'],
          ['mirror-folder', 'delivered'],
          ['mirror-s3', 'delivered'],
        ],
      );
    }
  });

  it('a second delivery asks each destination first and sends nothing that is already there', async () => {
    const done = await deliverNow({ client: sys.client, config: sys.config, ledger: sys.ledger }, 'mus-0001', { wait: true }, 'tester');
    assert.deepEqual(
      done.outcomes!.map((o) => [o.destination, o.state, o.sent]),
      [
        ['archive-http', 'skipped', 0],
        ['mirror-folder', 'skipped', 0],
        ['mirror-s3', 'skipped', 0],
      ],
    );
    assert.deepEqual(states(await rows('mus-0001')), { 'archive-http': 'skipped', 'mirror-folder': 'skipped', 'mirror-s3': 'skipped' });
  });

  it('a copy damaged at the destination is sent again; a receiver that stores other bytes than it was sent fails the delivery with the three values, not retried', async () => {
    const pkg = (await sys.ledger.packagesOf('mus-0002')).find((p) => p.verdict === 'accepted')!;
    // Damaged at rest in the folder: present() no longer matches, so it is sent again.
    const file = path.join(mirror, 'mus-0002', `${pkg.sipId}.tar`);
    const bytes = fs.readFileSync(file);
    bytes[100] ^= 0xff;
    fs.writeFileSync(file, bytes);
    const again = await deliverNow({ client: sys.client, config: sys.config, ledger: sys.ledger }, 'mus-0002', { to: ['mirror-folder'], wait: true }, 'tester');
    assert.deepEqual(
      again.outcomes!.map((o) => [o.destination, o.state, o.sent]),
      [['mirror-folder', 'delivered', 1]],
    );
    assert.equal(sha256(fs.readFileSync(file)), pkg.sha256);

    // The receiver corrupts what it stores: verify sees it, the delivery fails with the values.
    const res = await fetch(`${receiver!.url}/_faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ corruptUploads: 1 }),
    });
    assert.equal(res.status, 200);
    await fetch(`${receiver!.url}/files?name=${encodeURIComponent(`mus-0002/${pkg.sipId}.tar`)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const bad = await deliverNow({ client: sys.client, config: sys.config, ledger: sys.ledger }, 'mus-0002', { to: ['archive-http'], wait: true }, 'tester');
    assert.equal(bad.outcomes![0]!.state, 'failed');
    assert.match(bad.outcomes![0]!.error ?? '', /DeliveryMismatch/);
    const row = (await rows('mus-0002')).find((r) => r.destination === 'archive-http')!;
    assert.equal(row.state, 'failed');
    assert.equal(row.attempts, 1, 'a content problem is not retried blindly');
    assert.match(row.lastError ?? '', new RegExp(pkg.sha256));
  });

  it('refuses deliver of an unknown destination or an object with nothing accepted, naming them', async () => {
    await assert.rejects(
      deliverNow({ client: sys.client, config: sys.config, ledger: sys.ledger }, 'mus-0001', { to: ['nowhere'] }, 'tester'),
      /unknown destination nowhere \(delivery\.destinations has mirror-folder, mirror-s3, archive-http\)/,
    );
    await assert.rejects(
      deliverNow({ client: sys.client, config: sys.config, ledger: sys.ledger }, 'mus-0099', {}, 'tester'),
      /mus-0099 has no accepted package to deliver/,
    );
  });

  it('the CLI: status --destinations per destination, deliver --to --wait, and status ID with each destination', async () => {
    const configFile = path.join(sys.root, 'operator.json');
    const { dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, delivery } = sys.config;
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, delivery }));
    const env = { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
    const cli = (args: string[]) => execFileP(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), ...args], { env, timeout: 60_000 });

    const summary = await cli(['status', '--destinations']);
    const lines = summary.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^DESTINATION +DELIVERED +SKIPPED +PENDING +DELAYED +FAILED$/);
    assert.match(summary.stdout, /\narchive-http +\d+ +\d+ +0 +0 +1\n/);
    assert.match(summary.stdout, /\nmirror-folder +\d+ +\d+ +0 +0 +0\n/);
    const json = JSON.parse((await cli(['status', '--destinations', '--json'])).stdout) as Array<{ destination: string; counts: Record<string, number> }>;
    assert.deepEqual(
      json.map((d) => d.destination),
      ['archive-http', 'mirror-folder', 'mirror-s3'],
    );

    const deliver = await cli(['deliver', 'mus-0003', '--to', 'mirror-folder', '--wait']);
    assert.match(
      deliver.stdout,
      /^mus-0003: delivering to mirror-folder \(deliver:mus-0003:mus-0003\.a1\.[0-9a-f]{8}\)\n {2}mirror-folder: skipped, 0 of 1 file\(s\) sent\n$/,
    );

    const status = await cli(['status', 'mus-0003']);
    assert.match(status.stdout, /\n {2}deliveries:\n {4}archive-http +delivered {2}attempts \d+ {2}sha256 [0-9a-f]{16}…/);
    assert.match(status.stdout, /\n {4}mirror-folder +skipped/);

    const refused = await cli(['deliver', 'mus-0003', '--to', 'elsewhere']).catch((e: { code: number; stderr: string }) => e);
    assert.equal((refused as { code: number }).code, 1);
    assert.match(
      (refused as { stderr: string }).stderr,
      /^custody: unknown destination elsewhere \(delivery\.destinations has mirror-folder, mirror-s3, archive-http\)\n$/,
    );
  });

  it('the S3 copy decompresses to the package', async () => {
    const pkg = (await sys.ledger.packagesOf('mus-0003')).find((p) => p.verdict === 'accepted')!;
    const got = await s3.client().send(new GetObjectCommand({ Bucket: bucket, Key: `packages/mus-0003/${pkg.sipId}.tar.gz` }));
    const { gunzipSync } = await import('node:zlib');
    assert.equal(sha256(gunzipSync(Buffer.from(await got.Body!.transformToByteArray()))), pkg.sha256);
  });
});
