// The production shape on one machine: S3 (Versity Gateway) for the source, the working files,
// the reports and the service's transfers; PostgreSQL for the ledger; and three worker
// processes that share no disk — one downloads, one packages, one submits and runs the workflows.
// The workers run the production build (`npm run build`: compiled JavaScript, prebuilt bundle).
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { preserveWorkflowId } from '../common/preservation';
import { REPO_ROOT } from '../config/config';
import { openStorage, type Storage } from '../storage';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { freshPostgresDatabase } from './support/postgres';
import { S3_SECRET_KEY, startTestS3, uploadExamples } from './support/s3-server';
import { submissions } from './support/service-api';
import { testTemporal } from './support/temporal-server';

const IDS = ['mus-0001', 'mus-0002', 'mus-0003', 'mus-0004', 'mus-0005'];
const ROLES = { download: ['download'], package: ['package'], 'submit+io': ['submit', 'io'] } as const;

async function keys(storage: Storage): Promise<string[]> {
  const out: string[] = [];
  for await (const o of storage.list('')) out.push(o.key);
  return out;
}

describe('production parts: S3, PostgreSQL and three worker processes', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  const workers = new Map<string, { child: ChildProcess; dataDir: string; exited: Promise<number | null>; startLine: Promise<string> }>();
  let work: Storage;
  let reports: Storage;
  let transfer: Storage;

  before(async () => {
    const s3 = await startTestS3();
    const bucket = async (label: string) => `s3://${await s3.bucket(label)}/custody`;
    const storage = {
      source: await bucket('source'),
      work: await bucket('work'),
      reports: await bucket('reports'),
      s3: { ...s3.options, partSize: 5 * 1024 * 1024 },
    };
    const transferAt = await bucket('transfer');
    work = openStorage(storage.work, storage.s3);
    reports = openStorage(storage.reports, storage.s3);
    transfer = openStorage(transferAt, storage.s3);
    await uploadExamples(openStorage(storage.source, storage.s3), IDS);
    sys = await startCustodySystem({
      config: { storage, service: { transfer: transferAt }, databaseUrl: await freshPostgresDatabase(), verdict: { pollAfter: '1s', deadline: '14d' } },
      serviceTransfer: transfer,
      inProcessWorkers: false,
    });
    execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (const [role, queues] of Object.entries(ROLES)) {
      // Each worker has its own data folder: nothing passes between stages except through S3.
      const dataDir = path.join(sys.root, `worker-${role}`);
      const configFile = sys.writeWorkerConfig(`worker-${role}`, dataDir);
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker', '--queues', queues.join(','), '--slots', 'package=2'], {
        // The S3 credentials reach the workers as AWS_* variables (set by startTestS3), the standard chain.
        // The compiled worker loads dist/'s bundle, not the one the tests made for in-process workers.
        env: {
          ...process.env,
          NODE_ENV: 'production',
          CUSTODY_WORKFLOW_BUNDLE: '',
          CUSTODY_CONFIG: configFile,
          // A build id per process: the chain of custody names the worker that ran each stage.
          CUSTODY_BUILD_ID: `prod-${role}`,
          TEMPORAL_ADDRESS: testTemporal.address,
          TEMPORAL_NAMESPACE: testTemporal.namespace,
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const startLine = new Promise<string>((resolve) => {
        let out = '';
        child.stdout?.on('data', (chunk: Buffer) => {
          out += chunk.toString('utf8');
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        child.once('exit', () => resolve(out));
      });
      workers.set(role, { child, dataDir, exited: new Promise((resolve) => child.once('exit', resolve)), startLine });
    }
  });
  after(async () => {
    for (const { child } of workers.values()) if (child.exitCode === null) child.kill('SIGKILL');
    await sys?.close();
  });

  it('runs the workers from the compiled build on Node.js 24 or newer', async () => {
    for (const [role, { startLine }] of workers) {
      const line = await startLine;
      assert.match(line, /^worker serving .*, compiled, Node v(\d+)\./, `${role}: ${line}`);
      assert.ok(Number(/Node v(\d+)/.exec(line)?.[1]) >= 24, `${role}: ${line}`);
    }
  });

  it('preserves a collection end to end, each stage in its own process, and keeps every record outside the workers', async () => {
    const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, {});
    assert.deepEqual(
      outcomes.map((o) => [o.objectId, o.action]),
      IDS.map((id) => [id, 'started']),
    );

    for (const id of IDS) {
      const handle = sys.client.workflow.getHandle(preserveWorkflowId(id));
      assert.equal((await handle.result()).stage, 'confirmed', id);

      // Each stage ran in the process that serves its queue.
      const history = await handle.fetchHistory();
      const typeOf = new Map<string, string>();
      const ranOn = new Map<string, Set<string>>();
      for (const e of history.events ?? []) {
        const scheduled = e.activityTaskScheduledEventAttributes;
        if (scheduled) typeOf.set(String(e.eventId), scheduled.activityType?.name ?? '');
        const started = e.activityTaskStartedEventAttributes;
        if (started) {
          const type = typeOf.get(String(started.scheduledEventId)) ?? '';
          const pid = Number((started.identity ?? '').split('@')[1]);
          ranOn.set(type, (ranOn.get(type) ?? new Set()).add([...workers].find(([, w]) => w.child.pid === pid)?.[0] ?? `unknown ${started.identity}`));
        }
      }
      assert.deepEqual([...(ranOn.get('downloadObject') ?? [])], ['download'], id);
      assert.deepEqual([...(ranOn.get('createSip') ?? [])], ['package'], id);
      assert.deepEqual([...(ranOn.get('submitSip') ?? [])], ['submit+io'], id);
      assert.deepEqual([...(ranOn.get('confirmOutcome') ?? [])], ['submit+io'], id);
      // Nothing secret in what Temporal keeps: the histories carry keys, never credentials.
      assert.ok(!JSON.stringify(history).includes(S3_SECRET_KEY), `${id}: no S3 secret in the history`);

      // The ledger (PostgreSQL) has the SIP and its archived report, which is in S3.
      const [pkg] = await sys.ledger.packagesOf(id);
      assert.equal(pkg.verdict, 'accepted');
      const reportKey = `${id}/${pkg.sipId}.xml`;
      assert.equal(pkg.reportPath, reports.urlOf(reportKey));
      assert.match((await buffer(await reports.read(reportKey))).toString('utf8'), new RegExp(pkg.sipId.replace(/\./g, '\\.')));
      // Beside it in S3, the chain of custody: each stage with the build of the process that ran its work.
      const chain = (await buffer(await reports.read(`${id}/${pkg.sipId}.chain-of-custody.premis.xml`))).toString('utf8');
      const steps = [...chain.matchAll(/<premis:eventType>([^<]+)<\/premis:eventType>[\s\S]*?<premis:linkingAgentIdentifierValue>([^<]+)</g)].map(
        (m) => `${m[1]} ${m[2]}`,
      );
      assert.deepEqual(
        steps,
        [
          'queued prod-submit+io',
          'downloading prod-download',
          'packaging prod-package',
          'submitting prod-submit+io',
          'awaiting-verdict prod-submit+io',
          'confirming prod-submit+io',
          'confirmed prod-submit+io',
        ],
        id,
      );
    }
    // The ledger (PostgreSQL) names the package process's build on each package it made.
    assert.deepEqual(
      (await sys.ledger.builds.footprint('prod-package')).packages.map((p) => p.objectId),
      IDS,
    );

    // One submission each, taken in by the service from its bucket; working files cleaned up.
    const subs = await submissions(sys);
    for (const id of IDS) {
      const [pkg] = await sys.ledger.packagesOf(id);
      assert.deepEqual(
        subs.filter((s) => s.sipId === pkg.sipId).map((s) => [s.sha256, s.count]),
        [[pkg.sha256, 1]],
        id,
      );
    }
    assert.deepEqual(await keys(transfer), []);
    assert.deepEqual(await keys(work), [], 'every confirmed attempt removed its working files');
    // The workers' own disks hold nothing between steps.
    for (const [role, { dataDir }] of workers) {
      const left = fs.existsSync(path.join(dataDir, 'scratch')) ? fs.readdirSync(path.join(dataDir, 'scratch')) : [];
      assert.deepEqual(left, [], `${role} worker left scratch files`);
    }
  });

  it('the three workers stop cleanly on SIGTERM', async () => {
    for (const { child } of workers.values()) child.kill('SIGTERM');
    for (const [role, { exited }] of workers) assert.equal(await exited, 0, `${role} worker exit code`);
  });
});
