// The operator's commands for repository copies, run as a user runs them (bin/custody.js in a
// child process) against the real Temporal dev server, a worker and the reference deposit
// service: copy (with --dry-run, --version, --mode), enqueue --pipeline copy, approve and reject
// of copy:<dataset>:<type>, freeze/unfreeze/reenqueue, status with --log and --json.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { copyStateQuery, copyWorkflowId, type CopyState } from '../common/copies';
import { startDepositService, type RunningDepositService } from '../reference-deposit-service/server';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { eventually } from './support/eventually';
import { writeDatasetVersion } from './support/datasets';
import { testTemporal } from './support/temporal-server';
import { custody, oneLineError } from './support/custody-cli';

const TOKEN = 'cli-deposit-token-91b2';

/** Human output with its wrapped lines joined again. */
const unwrapped = (out: string) => out.replace(/\n {4,}/g, ' ');

describe('custody CLI: repository copies (copy, approve, reject, freeze, status of copy:<dataset>:<type>)', function () {
  this.timeout(180_000);
  let sys: CustodySystem;
  let service: RunningDepositService;
  let env: Record<string, string>;
  let datasets: string;

  async function stateOf(copyId: string): Promise<CopyState | undefined> {
    return sys.client.workflow
      .getHandle(copyId)
      .query(copyStateQuery)
      .catch(() => undefined);
  }
  async function until(copyId: string, done: (s: CopyState) => boolean): Promise<CopyState> {
    const s = await eventually(
      copyId,
      () => stateOf(copyId),
      (s) => s !== undefined && done(s),
      { everyMs: 100 },
    );
    return s!;
  }

  before(async () => {
    process.env.DEPOSIT_TOKEN = TOKEN;
    sys = await startCustodySystem({ inProcessWorkers: false });
    service = await startDepositService({ port: 0, dataDir: path.join(sys.root, 'deposits'), token: TOKEN });
    datasets = path.join(sys.root, 'datasets');
    fs.mkdirSync(datasets);
    const copies = {
      ...sys.config.copies,
      source: datasets,
      depositUrl: service.url,
      requestRetries: { attempts: 2, initialDelay: '50ms', maxDelay: '100ms' },
    };
    Object.assign(sys.config.copies, copies);
    await sys.startWorkers();
    const configFile = path.join(sys.root, 'operator.json');
    const { dataDir, storage, databaseUrl, service: svc, verdict, heartbeatTimeout, retry } = sys.config;
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, storage, databaseUrl, service: svc, verdict, heartbeatTimeout, retry, copies }));
    env = { CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
    writeDatasetVersion(datasets, 'ds-cli', 1, { 'one.csv': 'x,1\n' });
    writeDatasetVersion(datasets, 'ds-cli', 2, { 'one.csv': 'x,2\n' });
  });
  after(async () => {
    await sys?.close();
    await service?.close();
    delete process.env.DEPOSIT_TOKEN;
  });

  it('refuses bad arguments in one line naming them, before anything is sent', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['copy', '../etc'], /^custody: .*"\.\.\/etc" is not a dataset id/],
      [
        ['copy', 'ds-cli', '--type', 'images'],
        /^custody: option '--type <type>' argument 'images' is invalid\. Allowed choices are data, software, supplementary/,
      ],
      [['copy', 'ds-cli', '--version', '0'], /^custody: option '--version <v>' argument '0' is invalid\. "0" is not a positive whole number/],
      [['copy', 'no-such-dataset'], /^custody: no dataset no-such-dataset in .* \(expected no-such-dataset\/v<version>\/data\/\)/],
      [['status', 'copy:ds-cli'], /^custody: "copy:ds-cli" is not a copy: write copy:<dataset>:<type>/],
      [['status', 'copy:ds-cli:images'], /is not a copy: .*a type of data, software, supplementary/],
      [['status', 'mus-0001', '--log'], /^custody: --log shows the deposit API requests of a copy: give it copy:<dataset>:<type>/],
      [['approve', 'copy:ds-cli:data', '--at', '2099-01-01T00:00Z'], /^custody: --at schedules an article; a copy is published when approved/],
      [['enqueue', '--pipeline', 'copy', '--since', '2020-01-01'], /^custody: --since is for objects; a dataset version is copied whatever its age/],
      [['enqueue', '--pipeline', 'copies'], /^custody: option '--pipeline <pipeline>' argument 'copies' is invalid\. Allowed choices are preservation, copy/],
    ];
    for (const [args, expected] of cases) assert.match(oneLineError(await custody(args, env), args.join(' ')), expected, args.join(' '));
    assert.equal(await stateOf(copyWorkflowId('ds-cli', 'data')), undefined, 'nothing was started');
  });

  it('copy --dry-run says what would be sent; copy --mode preview waits for approve; a resend while its predecessor is unfinished is refused', async () => {
    const dry = await custody(['copy', 'ds-cli', '--dry-run'], env);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(dry.stdout.trimEnd().split('\n'), ['copy:ds-cli:data v1: would be sent', 'copy:ds-cli:data v2: would be sent']);

    const sent = await custody(['copy', 'ds-cli', '--mode', 'preview'], env);
    assert.equal(sent.code, 0, sent.stderr);
    assert.deepEqual(sent.stdout.trimEnd().split('\n'), ['copy:ds-cli:data v1: sent', 'copy:ds-cli:data v2: sent']);
    const copyId = copyWorkflowId('ds-cli', 'data');
    await until(copyId, (s) => s.stage === 'awaiting-approval' && s.current?.version === 1);

    const resend = await custody(['copy', 'ds-cli', '--version', '2'], env);
    assert.equal(resend.code, 1);
    assert.match(unwrapped(resend.stdout), /copy:ds-cli:data v2: refused: v2 was sent already and waits for v1, which is unfinished/);
    assert.match(resend.stderr, /1 version refused/);

    const wrong = await custody(['approve', 'copy:ds-cli:data', '--version', '2'], env);
    assert.match(oneLineError(wrong, 'approve v2'), /copy:ds-cli:data: refused: copy:ds-cli:data v2 is not waiting for approval; v1 is/);

    const approved = await custody(['approve', 'copy:ds-cli:data'], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /copy:ds-cli:data: v1 approved by .*; publishing its deposition now/);
    await until(copyId, (s) => s.copied?.version === 1 && s.current?.version === 2 && s.stage === 'awaiting-approval');

    const rejected = await custody(['reject', 'copy:ds-cli:data', '--reason', 'wrong file'], env);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(unwrapped(rejected.stdout), /v2 rejected by .*: wrong file/);
    await until(copyId, (s) => s.stage === 'waiting' && s.current === undefined);
  });

  it('status copy:<dataset>:<type> shows the versions with their depositions and the history; --log every request without the token; --json the whole record', async () => {
    const status = await custody(['status', 'copy:ds-cli:data'], env);
    assert.equal(status.code, 0, status.stderr);
    const out = unwrapped(status.stdout);
    assert.match(out, /^copy:ds-cli:data — waiting/);
    assert.match(out, /v1 {2}published {2}deposition \d+ {2}DOI 10\.5072\/zenodo\.\d+/);
    assert.match(out, /v2 {2}prepared {2}deposition \d+|v2 {2}uploaded {2}deposition \d+/);
    assert.match(out, /rejected {2}v2 rejected by .*: wrong file/);
    const log = await custody(['status', 'copy:ds-cli:data', '--log'], env);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /deposit API requests \(\d+ to http:\/\/127\.0\.0\.1:\d+, secrets redacted\)/);
    assert.match(log.stdout, /POST \/api\/deposit\/depositions → 201/);
    assert.ok(!log.stdout.includes(TOKEN));
    const json = await custody(['status', 'copy:ds-cli:data', '--log', '--json'], env);
    const [parsed] = JSON.parse(json.stdout) as Array<{ copyId: string; versions: Array<{ version: number; state: string }>; log: Array<{ method: string }> }>;
    assert.equal(parsed!.copyId, 'copy:ds-cli:data');
    assert.deepEqual(
      parsed!.versions.map((v) => v.version),
      [1, 2],
    );
    assert.ok(parsed!.log.length > 3);
    assert.ok(!json.stdout.includes(TOKEN));
  });

  it('freeze, unfreeze and reenqueue take copy:<dataset>:<type> like objects', async () => {
    const frozen = await custody(['freeze', 'copy:ds-cli:data', '--reason', 'repository maintenance'], env);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.match(frozen.stdout, /copy:ds-cli:data: frozen while waiting for a version/);
    const again = await custody(['freeze', 'copy:ds-cli:data', '--reason', 'twice'], env);
    assert.equal(again.code, 1);
    assert.match(unwrapped(again.stdout), /copy:ds-cli:data is frozen already: repository maintenance/);
    const reenqueue = await custody(['reenqueue', 'copy:ds-cli:data', '--dry-run'], env);
    assert.match(unwrapped(reenqueue.stdout), /refused: copy:ds-cli:data is frozen, not a version waiting for an operator/);
    const unfrozen = await custody(['unfreeze', 'copy:ds-cli:data'], env);
    assert.equal(unfrozen.code, 0, unfrozen.stderr);
    assert.match(unfrozen.stdout, /copy:ds-cli:data: unfrozen; continues with waiting/);
    const unknown = await custody(['freeze', 'copy:ds-none:data', '--reason', 'x'], env);
    assert.match(oneLineError(unknown, 'unknown copy'), /unknown copy copy:ds-none:data: there is no such workflow/);
  });

  it('enqueue --pipeline copy sends every version not yet copied of each dataset', async () => {
    writeDatasetVersion(datasets, 'ds-enq', 1, { 'a.txt': 'a' });
    writeDatasetVersion(datasets, 'ds-enq', 2, { 'a.txt': 'b' });
    const r = await custody(['enqueue', '--pipeline', 'copy', '--ids', 'ds-enq'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trimEnd().split('\n'), [
      'copy:ds-enq:data v1: sent',
      'copy:ds-enq:data v2: sent',
      '2 version(s) sent to 1 dataset copy workflow(s)',
    ]);
    await until(copyWorkflowId('ds-enq', 'data'), (s) => s.copied?.version === 2);
    const twice = await custody(['copy', 'ds-enq'], env);
    assert.equal(twice.code, 0, twice.stderr);
    assert.match(unwrapped(twice.stdout), /copy:ds-enq:data: every version in the source is copied or on its way; nothing sent/);
  });
});
