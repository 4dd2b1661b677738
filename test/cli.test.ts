// The `custody` command as an operator meets it: its help, and one clear line for a mistake.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';
import { WorkflowNotFoundError } from '@temporalio/client';
import { preserveWorkflowId } from '../common/preservation';
import { parseDate } from '../starters/dates';
import { ensureTemporalServer, testTemporal } from './support/temporal-server';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { custody } from './support/custody-cli';

describe('custody CLI', function () {
  this.timeout(120_000);

  it('lists its subcommands in --help', async () => {
    const { code, stdout } = await custody(['--help']);
    assert.equal(code, 0);
    for (const sub of ['enqueue', 'status', 'schedules', 'worker']) assert.match(stdout, new RegExp(`\\b${sub}\\b`));
  });

  it('prints its version and build id with --version', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const { code, stdout } = await custody(['--version']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^custody ${version.replace(/\./g, '\\.')} \\(build ${version.replace(/\./g, '\\.')}\\+(\\w{12}|nogit)\\)\n$`));
    assert.equal((await custody(['-V'], { CUSTODY_BUILD_ID: 'release-7' })).stdout, `custody ${version} (build release-7)\n`);
  });

  it('refuses an unknown command or option with a non-zero exit and one line naming it, also with --help', async () => {
    const cases: Array<[string[], string, string]> = [
      [['nosuch'], "unknown command 'nosuch'", 'custody --help'],
      [['nosuch', '--help'], "unknown command 'nosuch'", 'custody --help'],
      [['status', '--bogus'], "unknown option '--bogus'", 'custody status --help'],
      [['schedules', 'nosuch'], "unknown command 'nosuch'", 'custody schedules --help'],
      [['schedules', 'list', '--bogus'], "unknown option '--bogus'", 'custody schedules list --help'],
    ];
    for (const [args, problem, help] of cases) {
      const { code, stdout, stderr } = await custody(args, { TEMPORAL_ADDRESS: '127.0.0.1:1' });
      assert.notEqual(code, 0, args.join(' '));
      assert.equal(stdout, '', `${args.join(' ')}: no help text on stdout`);
      assert.equal(stderr, `custody: ${problem} (see \`${help}\`)\n`, args.join(' '));
    }
  });

  it('answers status and db migrate from the ledger alone, without trying Temporal, S3 or the service', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-cli-ledger-only-'));
    // Every other part points at nothing: a command that tried one would fail or hang.
    const env = {
      CUSTODY_DATA_DIR: dir,
      TEMPORAL_ADDRESS: '127.0.0.1:1',
      CUSTODY_SOURCE: 's3://nowhere/source',
      CUSTODY_WORK: 's3://nowhere/work',
      CUSTODY_TRANSFER: 's3://nowhere/transfer',
      CUSTODY_SERVICE_URL: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
    };
    const migrated = await custody(['db', 'migrate', '--json'], env);
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.deepEqual(JSON.parse(migrated.stdout), { upToDate: true, database: 'sqlite', path: path.join(dir, 'ledger.sqlite') });
    const status = await custody(['status'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(status.stdout, '0 objects in the ledger\n');
    assert.equal(status.stderr, '', 'no warning about a missing Temporal');
    assert.deepEqual(JSON.parse((await custody(['status', '--json'], env)).stdout), {
      total: 0,
      counts: {},
      needsAttention: [],
      fixityProblems: [],
      drain: { state: null, held: { counts: {}, total: 0, oldest: null } },
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('says in one line that the server cannot be reached', async () => {
    const { code, stderr } = await custody(['schedules', 'list'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
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

  it('refuses an empty or blank selector, naming the option, instead of taking every object', async () => {
    for (const args of [
      ['enqueue', '--ids', ''],
      ['enqueue', '--ids', ' , '],
      ['reenqueue', '--frozen-reason', ''],
      ['reenqueue', '--frozen-reason', '  '],
      ['freeze', 'mus-0001', '--reason', ' '],
    ]) {
      const { code, stderr } = await custody(args, { TEMPORAL_ADDRESS: '127.0.0.1:1' });
      assert.notEqual(code, 0, args.join(' '));
      assert.match(stderr, new RegExp(`${args.find((a) => a.startsWith('--'))}.*(empty|empty object id)`), args.join(' '));
    }
  });

  it('accepts ISO 8601 dates and date-times and relative times, and refuses the rest with the value named', async () => {
    const now = new Date('2026-03-10T12:00:00Z');
    assert.equal(parseDate('2024-02-29').toISOString(), '2024-02-29T00:00:00.000Z');
    assert.equal(parseDate('2026-01-31T10:00+02:00').toISOString(), '2026-01-31T08:00:00.000Z');
    assert.equal(parseDate('2026-01-31T10:00:30.25Z').toISOString(), '2026-01-31T10:00:30.250Z');
    assert.equal(parseDate('7d', now).toISOString(), '2026-03-03T12:00:00.000Z');
    assert.equal(parseDate('12h', now).toISOString(), '2026-03-10T00:00:00.000Z');
    for (const bad of ['2026-02-30', '1', '2025-02-29', '2026-13-01', '2026-01-31T10:00', '2026-01-31T25:00Z', 'yesterday', '7x']) {
      const { code, stderr } = await custody(['enqueue', '--since', bad], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
      assert.notEqual(code, 0, bad);
      assert.match(stderr, /--since/, bad);
      assert.ok(stderr.includes(`"${bad}" is not a date`), `${bad}: ${stderr}`);
    }
  });

  it('read-only commands refuse a ledger that does not exist, naming it, and create nothing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-cli-typo-'));
    const typo = path.join(dir, 'dta');
    for (const args of [['status'], ['status', 'mus-0001'], ['reenqueue', '--all', '--dry-run'], ['unfreeze', 'mus-0001'], ['find', '--build', '0.1.0+abc']]) {
      const { code, stderr } = await custody(args, { CUSTODY_DATA_DIR: typo, TEMPORAL_ADDRESS: '127.0.0.1:1' });
      assert.equal(code, 1, args.join(' '));
      assert.equal(stderr.trim().split('\n').length, 1, stderr);
      assert.ok(stderr.includes(`no ledger at ${path.join(typo, 'ledger.sqlite')}`), stderr);
    }
    assert.equal(fs.existsSync(typo), false, 'nothing created at the mistyped place');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('against a running system', () => {
    let sys: CustodySystem;
    let env: Record<string, string>;
    before(async () => {
      await ensureTemporalServer();
      sys = await startCustodySystem({
        objects: ['mus-0004'],
        // Submission retries for as long as a test keeps the service down, so `status` can watch it retry.
        config: {
          verdict: { pollAfter: '1s', deadline: '14d' },
          retry: { submit: { initialInterval: '500ms', backoffCoefficient: 1, maximumInterval: '500ms', maximumAttempts: 10_000, nonRetryableErrorTypes: [] } },
        },
      });
      const configFile = path.join(sys.root, 'custody.json');
      fs.writeFileSync(
        configFile,
        JSON.stringify({
          dataDir: sys.config.dataDir,
          storage: sys.config.storage,
          databaseUrl: sys.config.databaseUrl,
          service: sys.config.service,
          verdict: sys.config.verdict,
        }),
      );
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
      assert.match(
        dry.stdout,
        /mus-0004: refused: mus-0004 is confirmed \(SIP mus-0004\.a1\.\w+, [\d-]+T[\d:.]+Z\); use --force --reason TEXT to preserve it again\n1 object\(s\), 1 would be refused; nothing changed \(--dry-run\)/,
      );
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

    it('a dry run prints what the real run then does, per object, and changes nothing in the ledger or Temporal', async () => {
      fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', 'mus-0001'), path.join(sys.sourceDir, 'mus-0001'), { recursive: true });
      const dryFreeze = await custody(['freeze', 'mus-0001', '--not-yet-enqueued', '--reason', 'rights unclear', '--dry-run'], env);
      assert.equal(dryFreeze.code, 0, dryFreeze.stderr);
      assert.match(dryFreeze.stdout, /mus-0001: would be recorded frozen in the ledger before enqueue/);
      assert.equal(await sys.ledger.getObject('mus-0001'), undefined, 'a dry freeze writes nothing');
      const frozen = await custody(['freeze', 'mus-0001', '--not-yet-enqueued', '--reason', 'rights unclear'], env);
      assert.equal(frozen.code, 0, frozen.stderr);

      const snapshot = async () => {
        const objects = await sys.ledger.listObjects();
        const timelines = await Promise.all(objects.map((o) => sys.ledger.timeline(o.id)));
        const packages = await Promise.all(objects.map((o) => sys.ledger.packagesOf(o.id)));
        const runs = [];
        for await (const wf of sys.client.workflow.list({ query: 'WorkflowId STARTS_WITH "preserve:"' }))
          runs.push(`${wf.workflowId} ${wf.runId} ${wf.status.name}`);
        return { objects, timelines, packages, runs: runs.sort() };
      };
      const before = await snapshot();
      const dry = await custody(['reenqueue', 'mus-0004', 'mus-0001', '--dry-run'], env);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(await snapshot(), before, 'ledger and Temporal unchanged by the dry run');
      const verdicts = new Map(
        dry.stdout
          .trim()
          .split('\n')
          .slice(0, -1)
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as const),
      );
      assert.match(verdicts.get('mus-0004') ?? '', /^refused: mus-0004 is confirmed/);
      assert.equal(verdicts.get('mus-0001'), 'would start again as attempt 1 (unfrozen first)');

      const real = await custody(['reenqueue', 'mus-0004', 'mus-0001'], env);
      assert.equal(real.code, 1, 'one of two refused');
      const done = new Map(
        real.stdout
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)] as const),
      );
      assert.equal(done.get('mus-0004'), (verdicts.get('mus-0004') ?? '').replace(/^refused: /, ''), 'refused as the dry run said');
      assert.equal(done.get('mus-0001'), 'started again as attempt 1');
      assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId('mus-0001')).result()).stage, 'confirmed');
    });

    it('preserves a confirmed object again only with --force and a reason, keeping the earlier package and recording who and why', async () => {
      const noReason = await custody(['reenqueue', 'mus-0004', '--force'], env);
      assert.equal(noReason.code, 1);
      assert.match(noReason.stderr, /--force needs --reason TEXT/);
      const refused = await custody(['reenqueue', 'mus-0004'], env);
      assert.equal(refused.code, 1);
      assert.match(
        refused.stdout,
        /mus-0004: mus-0004 is confirmed \(SIP mus-0004\.a1\.\w+, [\d-]+T[\d:.]+Z\); use --force --reason TEXT to preserve it again/,
      );
      const first = (await sys.ledger.packagesOf('mus-0004')).map((p) => [p.sipId, p.attempt, p.verdict]);
      assert.equal(first.length, 1);
      const forced = await custody(['reenqueue', 'mus-0004', '--force', '--reason', 'new master scan'], env);
      assert.equal(forced.code, 0, forced.stderr);
      assert.match(forced.stdout, /mus-0004: started again as a new preservation of a confirmed object, attempt 2/);
      assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId('mus-0004')).result()).stage, 'confirmed');
      const packages = (await sys.ledger.packagesOf('mus-0004')).map((p) => [p.sipId, p.attempt, p.verdict]);
      assert.deepEqual(packages[0], first[0], 'the earlier confirmed package is kept');
      assert.equal(packages.length, 2);
      assert.notEqual(packages[1][0], first[0][0], 'a new SIP id');
      assert.deepEqual(packages[1].slice(1), [2, 'accepted']);
      const status = await custody(['status', 'mus-0004'], env);
      assert.match(status.stdout, /reenqueued {2}attempt 2 by \S+@\S+: new master scan/);
      const json = JSON.parse((await custody(['status', 'mus-0004', '--json'], env)).stdout) as Array<{
        timeline: Array<{ kind: string; detail: Record<string, unknown> }>;
      }>;
      const event = json[0].timeline.find((e) => e.kind === 'reenqueued');
      assert.deepEqual({ ...event?.detail, by: 'x' }, { by: 'x', attempt: 2, reason: 'new master scan', forced: true, previousSipId: first[0][0] });
    });

    it('validates object ids with one rule and refuses ids the ledger does not know, creating nothing', async () => {
      for (const args of [
        ['freeze', 'nope', '--reason', 'x'],
        ['unfreeze', 'nope'],
        ['reenqueue', 'nope'],
        ['status', 'nope'],
      ]) {
        const { code, stderr } = await custody(args, env);
        assert.equal(code, 1, args.join(' '));
        assert.equal(stderr.trim().split('\n').length, 1, stderr);
        assert.match(stderr, /^custody: unknown object id nope: /, args.join(' '));
      }
      assert.equal(await sys.ledger.getObject('nope'), undefined, 'no ghost row');
      const notInSource = await custody(['freeze', 'nope', '--not-yet-enqueued', '--reason', 'x'], env);
      assert.equal(notInSource.code, 1);
      assert.equal(notInSource.stderr.trim(), `custody: unknown object id nope: not in the source ${sys.sourceDir}`);
      assert.equal(await sys.ledger.getObject('nope'), undefined);
      for (const args of [
        ['reenqueue', '../../etc'],
        ['freeze', '../../etc', '--reason', 'x'],
        ['unfreeze', '../../etc'],
        ['status', '../../etc'],
        ['enqueue', '--ids', '../../etc'],
      ]) {
        const { code, stderr } = await custody(args, env);
        assert.equal(code, 1, args.join(' '));
        assert.match(stderr, /^custody: invalid object id "\.\.\/\.\.\/etc": may contain only letters, digits/, args.join(' '));
      }
      await assert.rejects(sys.client.workflow.getHandle(preserveWorkflowId('../../etc')).describe(), WorkflowNotFoundError);
      const mixed = await custody(['freeze', 'mus-0004', 'nope', '--reason', 'x'], env);
      assert.equal(mixed.code, 1);
      assert.equal((await sys.ledger.getObject('mus-0004'))?.frozen, false, 'an unknown id among known ones stops the command before anything is done');
    });

    it('reenqueue needs --all for every waiting object', async () => {
      const none = await custody(['reenqueue'], env);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /give ids, or --all/);
      await custody(['freeze', 'mus-0001', '--reason', 'check colours'], env);
      const all = await custody(['reenqueue', '--all', '--dry-run'], env);
      assert.equal(all.code, 0, all.stderr);
      assert.match(all.stdout, /^mus-0001: refused: mus-0001 is confirmed \(SIP mus-0001\.a1\.\w+, [^)]+\); use --force --reason TEXT to preserve it again$/m);
      assert.doesNotMatch(all.stdout, /mus-0004/, 'a confirmed object that is not frozen is not waiting for an operator');
      const forced = await custody(['reenqueue', '--all', '--force', '--reason', 'colours fixed', '--dry-run'], env);
      assert.match(forced.stdout, /^mus-0001: would start again as a new preservation of a confirmed object, attempt 2 \(unfrozen first\)$/m);
      await custody(['unfreeze', 'mus-0001'], env);
    });

    it('shows an activity that is retrying, with its attempt, last error and next attempt, in status and status --json', async () => {
      fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', 'mus-0010'), path.join(sys.sourceDir, 'mus-0010'), { recursive: true });
      await sys.stopService();
      try {
        assert.equal((await custody(['enqueue', '--ids', 'mus-0010'], env)).code, 0);
        const handle = sys.client.workflow.getHandle(preserveWorkflowId('mus-0010'));
        while (!((await handle.describe()).raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2)) await new Promise((r) => setTimeout(r, 200));
        const text = await custody(['status', 'mus-0010'], env);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /retrying submitSip: attempt \d+, (next attempt at \d{4}-\d\d-\d\dT\S+Z|running now)/);
        assert.match(text.stdout, /last error \(\d{4}-[^)]+\):\s+preservation service at\s+\S+\s+did not answer/);
        const json = JSON.parse((await custody(['status', 'mus-0010', '--json'], env)).stdout) as Array<{
          retrying: Array<{ activity: string; attempt: number; lastError: string }>;
        }>;
        assert.equal(json[0].retrying[0].activity, 'submitSip');
        assert.ok(json[0].retrying[0].attempt >= 2);
        assert.match(json[0].retrying[0].lastError, /did not answer/);
      } finally {
        await sys.startService();
      }
      assert.equal((await sys.client.workflow.getHandle(preserveWorkflowId('mus-0010')).result()).stage, 'confirmed');
    });

    it('answers status from the ledger when Temporal is down, saying on one line that live details are missing', async () => {
      const down = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' };
      const summary = await custody(['status'], down);
      assert.equal(summary.code, 0, summary.stderr);
      assert.match(summary.stdout, /^3 objects in the ledger\n {2}confirmed +3$/m);
      const one = await custody(['status', 'mus-0004'], down);
      assert.equal(one.code, 0, one.stderr);
      assert.match(one.stdout, /state: confirmed/);
      assert.match(one.stdout, /packages:/);
      assert.match(one.stderr, /^custody: live details \(running stages, retries\) missing: cannot reach the Temporal server at 127\.0\.0\.1:1/);
      assert.equal(one.stderr.trim().split('\n').length, 1);
    });

    it('shows control characters in ids, titles, reasons and file names escaped, and exact in --json', async () => {
      // XML (and so object.json) refuses C0 controls in a title; C1 controls and bidi overrides it carries.
      const title = 'Evil \u009b2J\u202e title\u0085';
      const dir = path.join(sys.sourceDir, 'evil');
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'object.json'), JSON.stringify({ id: 'evil', title, modifiedAt: '2026-01-01T00:00:00Z' }));
      fs.writeFileSync(path.join(dir, 'a.txt'), 'hello');
      const reason = 'wait \x1b[31mred\x1b[0m\nforged line';
      assert.equal((await custody(['freeze', 'evil', '--not-yet-enqueued', '--reason', reason], env)).code, 0);
      const skipped = await custody(['enqueue', '--ids', 'evil'], env);
      assert.doesNotMatch(skipped.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/, 'no raw control character');
      assert.ok(skipped.stdout.includes('wait \\x1b[31mred\\x1b[0m\\nforged line'), skipped.stdout);
      const skippedJson = JSON.parse((await custody(['enqueue', '--ids', 'evil', '--json'], env)).stdout) as Array<{ reason: string }>;
      assert.ok(skippedJson[0].reason.includes(reason), 'exact in JSON');
      const summary = await custody(['status'], env);
      assert.ok(summary.stdout.includes('wait \\x1b[31mred\\x1b[0m\\nforged line'), summary.stdout);
      assert.doesNotMatch(summary.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      await custody(['unfreeze', 'evil'], env);
      assert.equal((await custody(['enqueue', '--ids', 'evil'], env)).code, 0);
      const one = await custody(['status', 'evil'], env);
      assert.ok(one.stdout.includes('evil — Evil \\u009b2J\\u202e title\\u0085'), one.stdout);
      assert.doesNotMatch(one.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
      const json = JSON.parse((await custody(['status', 'evil', '--json'], env)).stdout) as Array<{ object: { title: string } }>;
      assert.equal(json[0].object.title, title);
    });

    it('prints each outcome of freeze, unfreeze and reenqueue as exact JSON with --json, and fits long reasons into 80 columns', async () => {
      const reason = `${'donor asked to wait for the rights review of the whole series; '.repeat(3)}end`;
      const frozen = await custody(['freeze', 'mus-0004', '--reason', reason, '--json'], env);
      assert.equal(frozen.code, 0, frozen.stderr);
      assert.deepEqual(JSON.parse(frozen.stdout), [
        { objectId: 'mus-0004', ok: true, message: 'not running: recorded frozen in the ledger; enqueue will skip it' },
      ]);

      const fitsIn80 = (out: string) =>
        out
          .trimEnd()
          .split('\n')
          .forEach((l) => assert.ok([...l].length <= 80, `${[...l].length} columns: ${l}`));
      const summary = await custody(['status'], env);
      fitsIn80(summary.stdout);
      assert.match(summary.stdout, /^ {2}mus-0004 +frozen \(confirmed\) +donor asked to wait for the rights review[^\n]*…$/m);
      const json = JSON.parse((await custody(['status', '--json'], env)).stdout) as { needsAttention: Array<{ id: string; reason: string }> };
      assert.equal(json.needsAttention.find((o) => o.id === 'mus-0004')?.reason, reason, '--json keeps the whole reason');
      const one = await custody(['status', 'mus-0004'], env);
      fitsIn80(one.stdout);
      const unwrapped = (out: string) => out.replace(/\n {4,}/g, ' ');
      assert.ok(unwrapped(one.stdout).includes(`  state: confirmed (frozen: ${reason}, by `), 'status ID wraps the reason, losing nothing');
      const skipped = await custody(['enqueue', '--ids', 'mus-0004'], env);
      fitsIn80(skipped.stdout);
      assert.ok(
        unwrapped(skipped.stdout).includes(`mus-0004: skipped, frozen by ${os.userInfo().username}@${os.hostname()}: ${reason} (custody unfreeze mus-0004)`),
        skipped.stdout,
      );
      const skippedJson = JSON.parse((await custody(['enqueue', '--ids', 'mus-0004', '--json'], env)).stdout) as Array<{ reason: string }>;
      assert.ok(skippedJson[0].reason.includes(reason), 'enqueue --json keeps the whole reason');

      const dry = await custody(['unfreeze', 'mus-0004', '--dry-run', '--json'], env);
      assert.deepEqual(JSON.parse(dry.stdout), [
        { objectId: 'mus-0004', ok: true, message: 'would be unfrozen in the ledger (not running); enqueue would take it', dryRun: true },
      ]);
      const unfrozen = await custody(['unfreeze', 'mus-0004', '--json'], env);
      assert.equal(unfrozen.code, 0, unfrozen.stderr);
      assert.deepEqual(JSON.parse(unfrozen.stdout), [{ objectId: 'mus-0004', ok: true, message: 'not running: unfrozen in the ledger; enqueue will take it' }]);

      const refused = await custody(['reenqueue', 'mus-0004', '--json'], env);
      assert.equal(refused.code, 1, 'a refused object still makes the exit non-zero');
      const outcomes = JSON.parse(refused.stdout) as Array<{ objectId: string; ok: boolean; message: string }>;
      assert.equal(outcomes.length, 1);
      assert.deepEqual({ ...outcomes[0], message: '' }, { objectId: 'mus-0004', ok: false, message: '' });
      assert.match(outcomes[0].message, /^mus-0004 is confirmed \(SIP mus-0004\.a2\.\w+, [^)]+\); use --force --reason TEXT to preserve it again$/);
      assert.equal(refused.stderr, 'custody: 1 of 1 not done (see the JSON above)\n');
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
      assert.match(out, /worker serving download, package \(pid \d+, build \S+, TypeScript via tsx, Node v\d+/);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'exits 0 after a graceful shutdown');
    });

    it('creates, lists, pauses and triggers the polling schedule', async () => {
      const created = (await custody(['schedules', 'create'], env)).stdout;
      assert.match(created, /(created|updated) schedule sync-processed-sips/);
      assert.match(created, /(created|updated) schedule watch-articles \(every 5m, watching .+\)/);
      assert.match(created, /(created|updated) schedule audit-fixity \(every 7d, 10% of the packages a run\)/);
      assert.match(created, /(created|updated) schedule sync-source \(every 1d, harvesting main\)/);
      assert.match(created, /(created|updated) schedule notify \(every 1m, no webhook configured\)/);
      assert.match((await custody(['schedules', 'pause', 'sync-processed-sips'], env)).stdout, /paused/);
      const list = (await custody(['schedules', 'list'], env)).stdout;
      assert.match(
        list,
        /^SCHEDULE +STATE +NEXT RUN +NOTE\naudit-fixity +active +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ *\nnotify +active +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ *\nsync-processed-sips +paused +(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ|-) +via custody schedules pause\nsync-source +active +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ *\nwatch-articles +active +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ *\n$/,
      );
      const json = JSON.parse((await custody(['schedules', 'list', '--json'], env)).stdout) as Array<Record<string, unknown>>;
      assert.deepEqual(
        json.map((r) => ({ ...r, next: undefined, recent: undefined })),
        [
          { id: 'audit-fixity', paused: false, note: '', next: undefined, recent: undefined },
          { id: 'notify', paused: false, note: '', next: undefined, recent: undefined },
          { id: 'sync-processed-sips', paused: true, note: 'via custody schedules pause', next: undefined, recent: undefined },
          { id: 'sync-source', paused: false, note: '', next: undefined, recent: undefined },
          { id: 'watch-articles', paused: false, note: '', next: undefined, recent: undefined },
        ],
      );
      assert.equal(typeof json[2].recent, 'number');
      const long = 'paused while the preservation service moves to its new data centre, back on Monday';
      await custody(['schedules', 'pause', 'sync-processed-sips', '--note', long], env);
      const longList = (await custody(['schedules', 'list'], env)).stdout;
      assert.match(longList, /^sync-processed-sips +paused .*…$/m);
      longList
        .trimEnd()
        .split('\n')
        .forEach((l) => assert.ok([...l].length <= 80, l));
      assert.equal((JSON.parse((await custody(['schedules', 'list', '--json'], env)).stdout) as Array<{ note: string }>)[2].note, long);
      assert.match((await custody(['schedules', 'trigger', 'sync-processed-sips'], env)).stdout, /triggered/);
      const missing = await custody(['schedules', 'pause', 'nope'], env);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /unknown schedule nope/);
      await sys.client.schedule.getHandle('sync-processed-sips').delete();
      await sys.client.schedule.getHandle('watch-articles').delete();
      await sys.client.schedule.getHandle('audit-fixity').delete();
      await sys.client.schedule.getHandle('sync-source').delete();
      await sys.client.schedule.getHandle('notify').delete();
    });
  });
});
