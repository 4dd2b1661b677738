// Build ids and provenance on the real dev server, a real reference service and a folder
// destination: two builds of the workers (CUSTODY_BUILD_ID differs between two worker starts)
// preserve and deliver objects; `custody find --build` (run as a user runs it) lists exactly
// each build's objects, packages and deliveries; `custody reenqueue --build A --force` preserves
// A's objects again under build B; and each confirmed preservation leaves a chain of custody
// (PREMIS, valid against the PREMIS 2.3 schema) beside the service's report.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { XMLParser } from 'fast-xml-parser';
import { preserveWorkflowId, stateQuery, type PreserveObjectState } from '../common/preservation';
import { copyStateQuery, copyWorkflowId } from '../common/copies';
import { SA } from '../common/search-attributes';
import { startDepositService, type RunningDepositService } from '../reference-deposit-service/server';
import { sendCopies } from '../starters/copies';
import { writeDatasetVersion } from './support/datasets';
import { deliveryWorkflowId } from '../common/delivery';
import { REPO_ROOT } from '../config/config';
import type { BuildFootprint } from '../ledger';
import { enqueue } from '../starters/enqueue';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal } from './support/temporal-server';
import { custody, oneLineError } from './support/custody-cli';

const BUILD_A = '0.1.0+prov0000000a';
const BUILD_B = '0.1.0+prov0000000b';
const SCHEMAS = path.join(REPO_ROOT, 'reference-service', 'schemas');
const TOKEN = 'provenance-deposit-token-5d1';
const COPY = copyWorkflowId('ds-prov', 'data');

const asPath = (location: string) => (location.startsWith('file://') ? fileURLToPath(location) : location);

describe('build ids and provenance: find --build, reenqueue --build, chain of custody', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let env: Record<string, string>;
  let deposits: RunningDepositService;
  const savedBuildId = process.env.CUSTODY_BUILD_ID;

  /** Until the object's workflow is confirmed in attempt `attempt` and its package is at the mirror. */
  async function preserved(id: string, attempt: number): Promise<PreserveObjectState> {
    const handle = sys.client.workflow.getHandle(preserveWorkflowId(id));
    const deadline = Date.now() + 120_000;
    for (;;) {
      const state = await handle.query(stateQuery).catch(() => undefined);
      if (state?.stage === 'confirmed' && state.attempt === attempt) {
        await sys.client.workflow.getHandle(deliveryWorkflowId({ itemId: id, prefix: `${id}/${state.sipId}` })).result();
        return state;
      }
      if (Date.now() > deadline) throw new Error(`${id} not confirmed in attempt ${attempt}; last state ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Until the copy's v1 is published and its workflow waits for the next version. */
  async function copied(): Promise<void> {
    const handle = sys.client.workflow.getHandle(COPY);
    const deadline = Date.now() + 120_000;
    for (;;) {
      const s = await handle.query(copyStateQuery).catch(() => undefined);
      if (s?.copied?.version === 1 && s.stage === 'waiting') return;
      if (Date.now() > deadline) throw new Error(`${COPY} never copied v1; last state ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function workersOf(buildId: string): Promise<void> {
    await sys.stopWorkers();
    process.env.CUSTODY_BUILD_ID = buildId;
    await sys.startWorkers();
  }

  async function find(buildId: string): Promise<BuildFootprint> {
    const r = await custody(['find', '--build', buildId, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as BuildFootprint;
  }

  before(async function () {
    this.timeout(240_000);
    sys = await startCustodySystem({
      objects: ['mus-0001', 'mus-0002', 'mus-0003'],
      inProcessWorkers: false,
      config: { verdict: { pollAfter: '1s', deadline: '14d' } },
    });
    process.env.DEPOSIT_TOKEN = TOKEN;
    deposits = await startDepositService({ port: 0, dataDir: path.join(sys.root, 'deposits'), token: TOKEN });
    const datasets = path.join(sys.root, 'datasets');
    writeDatasetVersion(datasets, 'ds-prov', 1, { 'table.csv': 'x,1\n' });
    Object.assign(sys.config.copies, { source: datasets, depositUrl: deposits.url, requestRetries: { attempts: 2, initialDelay: '50ms', maxDelay: '100ms' } });
    Object.assign(sys.config.delivery, {
      packages: path.join(sys.root, 'packages'),
      destinations: [{ kind: 'folder', name: 'mirror', path: path.join(sys.root, 'mirror'), compress: false }],
      rules: [{ pipeline: 'preservation', to: ['mirror'] }],
    });
    const configFile = path.join(sys.root, 'operator.json');
    const { dataDir, storage, databaseUrl, service, verdict, guards, heartbeatTimeout, retry, delivery, copies } = sys.config;
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, storage, databaseUrl, service, verdict, guards, heartbeatTimeout, retry, delivery, copies }));
    env = { CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };

    const deps = { client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source };
    await workersOf(BUILD_A);
    await enqueue(deps, { ids: ['mus-0001', 'mus-0002'] });
    await sendCopies({ client: sys.client, config: sys.config }, { datasetId: 'ds-prov', type: 'data' }, 'tester');
    for (const id of ['mus-0001', 'mus-0002']) await preserved(id, 1);
    await copied();
    await workersOf(BUILD_B);
    await enqueue(deps, { ids: ['mus-0003'] });
    await preserved('mus-0003', 1);
  });
  after(async () => {
    await sys?.close();
    await deposits?.close();
    delete process.env.DEPOSIT_TOKEN;
    if (savedBuildId === undefined) delete process.env.CUSTODY_BUILD_ID;
    else process.env.CUSTODY_BUILD_ID = savedBuildId;
  });

  it("find --build lists exactly that build's objects, packages and deliveries, as JSON and as a table", async () => {
    const sipsOf = async (id: string) => (await sys.ledger.packagesOf(id)).map((p) => p.sipId);
    const a = await find(BUILD_A);
    assert.deepEqual(
      a.objects.map((o) => o.id),
      ['mus-0001', 'mus-0002'],
    );
    assert.deepEqual(
      a.packages.map((p) => [p.sipId, p.verdict]),
      [
        [(await sipsOf('mus-0001'))[0], 'accepted'],
        [(await sipsOf('mus-0002'))[0], 'accepted'],
      ],
    );
    assert.deepEqual(
      a.deliveries.map((d) => [d.itemId, d.destination, d.state]),
      [
        ['mus-0001', 'mirror', 'delivered'],
        ['mus-0002', 'mirror', 'delivered'],
      ],
    );
    assert.deepEqual(a.articles, []);
    assert.deepEqual(
      a.copies.map((c) => [c.id, c.versions]),
      [[COPY, [1]]],
    );
    assert.equal((await sys.client.workflow.getHandle(COPY).describe()).typedSearchAttributes.get(SA.buildId), BUILD_A, "the copy workflow's CustodyBuildId");
    const b = await find(BUILD_B);
    assert.deepEqual(
      [b.objects.map((o) => o.id), b.packages.map((p) => p.objectId), b.deliveries.map((d) => d.itemId)],
      [['mus-0003'], ['mus-0003'], ['mus-0003']],
    );

    const table = await custody(['find', '--build', BUILD_A], env);
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.ok(
      lines.every((l) => l.length <= 80),
      `fits 80 columns: ${table.stdout}`,
    );
    // The summary wraps at 80 columns; the table starts after the blank line.
    const blank = lines.indexOf('');
    assert.equal(lines.slice(0, blank).join(' ').replace(/ {5,}/g, ' '), `build ${BUILD_A} touched 2 objects, 2 packages, 0 articles, 1 copy, 2 deliveries`);
    lines.splice(0, blank, 'summary');
    assert.match(lines[2], /^KIND\s+ID\s+DETAIL$/);
    assert.deepEqual(
      lines.slice(3).map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
      [
        'object mus-0001',
        'object mus-0002',
        `package ${a.packages[0].sipId}`,
        `package ${a.packages[1].sipId}`,
        `copy ${COPY}`,
        'delivery mus-0001',
        'delivery mus-0002',
      ],
    );
    assert.match(lines.at(-1)!, /^delivery\s+mus-0002\s+to mirror: delivered$/);
  });

  it('find and reenqueue refuse a bad build id in one line, and say so when a build touched nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['find'], /^custody: required option '--build <id>' not specified/],
      [['find', '--build', ''], /^custody: invalid build id "": it is empty/],
      [['find', '--build', '   '], /^custody: invalid build id "   ": it is empty/],
      [['find', '--build', ' 0.1.0'], /^custody: invalid build id " 0\.1\.0": it starts or ends with white space/],
      [['find', '--build', 'a\x1b[2Jb'], /^custody: invalid build id "a\\x1b\[2Jb": it holds white space or control characters/],
      [['find', '--build', 'x'.repeat(201)], /^custody: invalid build id "x+": it is longer than 200 characters/],
      [['reenqueue', '--build', BUILD_A, '--force'], /^custody: --force needs --reason TEXT/],
      [['reenqueue', '--build', BUILD_A], /^custody: --build needs --reason TEXT/],
      [['reenqueue', '--build', '', '--reason', 'x'], /^custody: invalid build id "": it is empty/],
      [
        ['reenqueue', '--build', '0.0.0+nosuch', '--reason', 'x'],
        /^custody: nothing to reenqueue: no object, article or copy in the ledger names build 0\.0\.0\+nosuch$/,
      ],
    ];
    for (const [args, expected] of cases) assert.match(oneLineError(await custody(args, env), args.join(' ')), expected, args.join(' '));

    const none = await custody(['find', '--build', '0.1.0'], env);
    assert.equal(none.code, 0, none.stderr);
    assert.equal(none.stdout, `no ledger row names build 0.1.0 (builds in the ledger: ${BUILD_A}, ${BUILD_B})\n`, 'a prefix of a build id is not that build');
    const json = JSON.parse((await custody(['find', '--build', '0.1.0', '--json'], env)).stdout) as BuildFootprint;
    assert.deepEqual([json.objects, json.packages, json.deliveries], [[], [], []]);
  });

  it("the chain of custody beside each report names every stage in order, at the workflow's times, with the build that ran it", async () => {
    for (const [id, build] of [
      ['mus-0001', BUILD_A],
      ['mus-0003', BUILD_B],
    ] as const) {
      const [pkg] = await sys.ledger.packagesOf(id);
      const report = asPath(pkg.reportPath!);
      const chainFile = path.join(path.dirname(report), `${pkg.sipId}.chain-of-custody.premis.xml`);
      assert.ok(fs.existsSync(chainFile), `${chainFile} beside ${report}`);

      const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', path.join(SCHEMAS, 'premis-v2-3.xsd'), chainFile], {
        encoding: 'utf8',
        env: { ...process.env, XML_CATALOG_FILES: path.join(SCHEMAS, 'catalog.xml') },
      });
      assert.equal(run.status, 0, `xmllint: ${run.stderr}`);

      const xml = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, isArray: (name) => ['event', 'agent', 'objectIdentifier'].includes(name) });
      const doc = xml.parse(fs.readFileSync(chainFile, 'utf8')) as {
        premis: {
          object: { objectIdentifier: Array<{ objectIdentifierValue: string }> };
          event: Array<{
            eventType: string;
            eventDateTime: string;
            eventOutcomeInformation: { eventOutcome: string };
            linkingAgentIdentifier: { linkingAgentIdentifierValue: string };
          }>;
          agent: Array<{ agentIdentifier: { agentIdentifierValue: string }; agentName: string }>;
        };
      };
      const { premis } = doc;
      assert.deepEqual(
        premis.object.objectIdentifier.map((o) => o.objectIdentifierValue),
        [pkg.sipId, id],
      );
      assert.deepEqual(
        premis.event.map((e) => e.eventType),
        ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'confirmed'],
      );
      assert.deepEqual(
        premis.event.map((e) => e.linkingAgentIdentifier.linkingAgentIdentifierValue),
        premis.event.map(() => build),
      );
      assert.deepEqual(
        premis.agent.map((a) => [a.agentIdentifier.agentIdentifierValue, a.agentName]),
        [[build, `custody (build ${build})`]],
      );
      // The times are the workflow's own, the ones the ledger's timeline holds for each stage.
      const timeline = (await sys.ledger.timeline(id)).filter((e) => e.sipId === pkg.sipId && (e.kind === 'stage' || e.kind === 'confirmed'));
      const ledgerTimes = timeline.filter((e) => e.stage !== 'confirmed' || e.kind === 'confirmed').map((e) => [e.stage, e.at]);
      assert.deepEqual(
        premis.event.map((e) => [e.eventType, e.eventDateTime]),
        ledgerTimes,
      );
      assert.deepEqual(
        premis.event.map((e) => e.eventOutcomeInformation.eventOutcome),
        ['success', 'success', 'success', 'success', 'success', 'accepted', 'success'],
        "confirming's outcome is the service's verdict",
      );
    }
  });

  it("reenqueue --build A --force preserves A's objects again under build B; find --build B then lists them, A keeps its history", async () => {
    const before = await find(BUILD_A);
    const dry = await custody(['reenqueue', '--build', BUILD_A, '--reason', 'build A packed bad METS', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.stdout.trimEnd().split('\n'), [
      'mus-0001: refused: mus-0001 is confirmed (SIP ' +
        before.packages[0].sipId +
        `, ${(await sys.ledger.packagesOf('mus-0001'))[0].decidedAt}); use --force --reason TEXT to preserve it again`,
      'mus-0002: refused: mus-0002 is confirmed (SIP ' +
        before.packages[1].sipId +
        `, ${(await sys.ledger.packagesOf('mus-0002'))[0].decidedAt}); use --force --reason TEXT to preserve it again`,
      `${COPY}: refused: ${COPY} is waiting, not a version waiting for an operator (reenqueue takes a failed or frozen version)`,
      '3 object(s), 3 would be refused; nothing changed (--dry-run)',
    ]);

    const redo = await custody(['reenqueue', '--build', BUILD_A, '--force', '--reason', 'build A packed bad METS'], env);
    // The copy's v1 is published: it is replaced by copying a new version, not redone, so it is refused and named.
    assert.equal(redo.code, 1, redo.stderr);
    assert.deepEqual(redo.stdout.trimEnd().split('\n'), [
      'mus-0001: started again as a new preservation of a confirmed object, attempt 2',
      'mus-0002: started again as a new preservation of a confirmed object, attempt 2',
      `${COPY}: ${COPY} is waiting, not a version waiting for an operator (reenqueue takes a failed or frozen version)`,
      `3 item(s) touched by build ${BUILD_A}: 2 reenqueued, 1 refused`,
    ]);
    assert.equal(redo.stderr, 'custody: 1 of 3 not done (see above)\n');
    for (const id of ['mus-0001', 'mus-0002']) await preserved(id, 2);

    const b = await find(BUILD_B);
    assert.deepEqual(
      b.objects.map((o) => o.id),
      ['mus-0001', 'mus-0002', 'mus-0003'],
    );
    const second = async (id: string) => (await sys.ledger.packagesOf(id)).find((p) => p.attempt === 2)!;
    assert.deepEqual(
      b.packages.map((p) => [p.objectId, p.sipId, p.verdict]),
      [
        ['mus-0001', (await second('mus-0001')).sipId, 'accepted'],
        ['mus-0002', (await second('mus-0002')).sipId, 'accepted'],
        ['mus-0003', (await sys.ledger.packagesOf('mus-0003'))[0].sipId, 'accepted'],
      ],
    );
    // The new packages went to the mirror under build B.
    assert.deepEqual(
      b.deliveries.map((d) => [d.itemId, d.state]),
      [
        ['mus-0001', 'delivered'],
        ['mus-0002', 'delivered'],
        ['mus-0003', 'delivered'],
      ],
    );
    const a = await find(BUILD_A);
    assert.deepEqual(a.packages, before.packages, "A's packages stay A's: the record of what it made");
    const reenqueued = (await sys.ledger.timeline('mus-0001')).find((e) => e.kind === 'reenqueued');
    assert.deepEqual((reenqueued?.detail as { reason?: string; forced?: boolean }) ?? {}, {
      ...(reenqueued?.detail as object),
      reason: 'build A packed bad METS',
      forced: true,
    });
  });
});
