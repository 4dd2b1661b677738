// The publishing pipeline's verbs of the `custody` command, run as an operator runs them
// (bin/custody.js in a child process) against the real Temporal dev server, a worker, the
// reference article store, a webhook receiver, and packages in a folder and in S3.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowNotFoundError } from '@temporalio/client';
import { articleStateQuery, articleWorkflowId, type ArticleState } from '../common/articles';
import { generateArticles, type GeneratedPackage } from '../examples/generate-articles';
import { startArticleStore, type RunningArticleStore } from '../reference-article-store/server';
import { openStorage } from '../storage';
import { putBytes } from '../storage/small-objects';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { eventually } from './support/eventually';
import { startTestS3, type TestS3 } from './support/s3-server';
import { testTemporal } from './support/temporal-server';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver';
import { custody, oneLineError } from './support/custody-cli';

const operator = `${os.userInfo().username}@${os.hostname()}`;

/** Every line within 80 columns, as the CLI promises for human output. */
function fitsIn80(out: string): void {
  for (const l of out.trimEnd().split('\n')) assert.ok([...l].length <= 80, `${[...l].length} columns: ${l}`);
}

/** Human output with its wrapped lines joined again. */
const unwrapped = (out: string) => out.replace(/\n {5,}/g, ' ');

describe('custody CLI: the publishing pipeline (feed, approve, reject, silent-update, status of article:<id>)', function () {
  this.timeout(180_000);
  let sys: CustodySystem;
  let store: RunningArticleStore;
  let webhook: WebhookReceiver;
  let s3: TestS3;
  let env: Record<string, string>;
  let generated: string;
  let made: GeneratedPackage[];
  let root: string;

  /** The generated package of this kind. */
  const pkg = (kind: GeneratedPackage['kind']) => path.join(generated, made.find((p) => p.kind === kind)!.file);
  /** A fresh folder holding copies of the given files. */
  function folder(name: string, files: string[]): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    for (const f of files) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    return dir;
  }

  async function stateOf(articleId: string): Promise<ArticleState> {
    return sys.client.workflow.getHandle(articleWorkflowId(articleId)).query(articleStateQuery);
  }
  async function until(articleId: string, done: (s: ArticleState) => boolean): Promise<ArticleState> {
    const s = await eventually(
      articleId,
      () => stateOf(articleId).catch(() => undefined),
      (s) => s !== undefined && done(s),
      { timeoutMs: 120_000, everyMs: 300 },
    );
    return s!;
  }
  async function untilEvent(articleId: string, kind: string): Promise<void> {
    await eventually(
      `a ${kind} event for ${articleId}`,
      async () => (await sys.ledger.timeline(`article:${articleId}`)).some((e) => e.kind === kind),
      Boolean,
      { timeoutMs: 120_000, everyMs: 300 },
    );
  }
  async function published(articleId: string): Promise<{ version: number; state: string; record: { title: string } }> {
    return (await (await fetch(`${store.url}/articles/${articleId}`)).json()) as { version: number; state: string; record: { title: string } };
  }
  async function exists(articleId: string): Promise<boolean> {
    try {
      await sys.client.workflow.getHandle(articleWorkflowId(articleId)).describe();
      return true;
    } catch (e) {
      if (e instanceof WorkflowNotFoundError) return false;
      throw e;
    }
  }

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-cli-articles-'));
    generated = path.join(root, 'generated');
    made = await generateArticles(generated);
    s3 = await startTestS3();
    store = await startArticleStore({ port: 0, dataDir: path.join(root, 'store') });
    webhook = await startWebhookReceiver();
    sys = await startCustodySystem({
      config: {
        storage: { s3: s3.options },
        articles: {
          site: path.join(root, 'site'),
          siteUrl: 'http://site.example.org',
          store: { url: store.url },
          webhookUrl: webhook.url,
          defaultMode: 'automatic',
        },
      },
    });
    // The operator's config: the same ledger, storage and article settings as the worker's.
    const configFile = path.join(root, 'custody.json');
    const { dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, articles } = sys.config;
    fs.writeFileSync(configFile, JSON.stringify({ dataDir, storage, databaseUrl, service, verdict, heartbeatTimeout, retry, articles }));
    env = { CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
  });
  after(async () => {
    await sys?.close();
    await store?.close();
    await webhook?.close();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('refuses bad options and arguments in one line naming the option, before doing anything', async () => {
    const down = { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const cases: Array<[string[], RegExp]> = [
      [
        ['feed', generated, '--filter', '(unclosed'],
        /^custody: option '--filter <regex>' argument '\(unclosed' is invalid\. "\(unclosed" is not a regular expression/,
      ],
      [['feed', generated, '--rate', '0'], /^custody: option '--rate <seconds>' argument '0' is invalid\. "0" is not a positive number of seconds/],
      [['feed', generated, '--rate', '-2'], /--rate <seconds>.*"-2" is not a positive number of seconds/],
      [['feed', generated, '--rate', 'fast'], /--rate <seconds>.*"fast" is not a positive number of seconds/],
      [['feed', generated, '--max', '0'], /^custody: option '--max <n>' argument '0' is invalid\. "0" is not a positive whole number/],
      [['feed', generated, '--mode', 'auto'], /^custody: option '--mode <mode>' argument 'auto' is invalid\. Allowed choices are automatic, preview\./],
      [['feed', path.join(root, 'nowhere')], /^custody: no folder at .*nowhere$/],
      [['feed', 'gs://bucket/x'], /^custody: storage location "gs:\/\/bucket\/x": only file:\/\/ and s3:\/\/ are supported$/],
      [['approve', '00353', '--version', 'two'], /^custody: option '--version <v>' argument 'two' is invalid/],
      [
        ['approve', '00353', '--at', 'tomorrow'],
        /^custody: option '--at <time>' argument 'tomorrow' is invalid\. "tomorrow" is not a date-time \(use YYYY-MM-DDTHH:MM/,
      ],
      [['approve', '00353', '--at', '2026-02-30T10:00Z'], /--at <time>.*"2026-02-30T10:00Z" is not a date: 2026-02 has no day 30/],
      [['approve', '00353', '--at', '2020-01-01T00:00Z'], /^custody: --at 2020-01-01T00:00:00\.000Z has passed: approve without --at to publish now/],
      [['approve', '../x'], /^custody: invalid article id "\.\.\/x": may contain only letters, digits/],
      [['reject', '00353'], /^custody: required option '--reason <text>' not specified/],
      [['reject', '00353', '--reason', '  '], /--reason must not be empty/],
      [['silent-update', '00353'], /^custody: missing required argument 'package'/],
      [['status', 'article:'], /^custody: "article:" names no article: write article:<id>/],
      [['status', 'article:a/b'], /^custody: invalid article id "a\/b"/],
      [['status', '--scheduled', 'article:00353'], /^custody: --scheduled lists every article with a scheduled publication: give it no ids$/],
      [['freeze', 'article:../x', '--reason', 'x'], /^custody: invalid article id "\.\.\/x"/],
    ];
    for (const [args, expected] of cases) assert.match(oneLineError(await custody(args, down), args.join(' ')), expected, args.join(' '));
  });

  it('feed --dry-run says what would be sent and refused, sends nothing, and needs no Temporal', async () => {
    const dir = folder('dry', [pkg('original'), pkg('second-article'), path.join(generated, 'manifest.json')]);
    const dry = await custody(['feed', dir, '--dry-run'], { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal(
      dry.stdout,
      [
        'elife-00353-vor-v1-20121213000000.zip: would be sent to article:00353 (v1)',
        'elife-99353-vor-v1-20130301000000.zip: would be sent to article:99353 (v1)',
        'manifest.json: refused: Package key "manifest.json": file name "manifest.json"',
        '    does not match; expected',
        '    <journal>-<articleId>-<poa|vor>-v<version>[-<yyyymmddHHMMSS>].zip, e.g.',
        '    elife-00353-vor-v1-20121213000000.zip',
        '2 would be sent, 1 refused; nothing sent (--dry-run)',
        '',
      ].join('\n'),
    );
    fitsIn80(dry.stdout);
    const json = JSON.parse((await custody(['feed', dir, '--dry-run', '--json', '--max', '1'], env)).stdout) as Array<Record<string, unknown>>;
    const v1 = fs.statSync(path.join(dir, 'elife-00353-vor-v1-20121213000000.zip'));
    assert.deepEqual(json, [
      {
        key: 'elife-00353-vor-v1-20121213000000.zip',
        articleId: '00353',
        version: 1,
        etag: `${v1.size}:${v1.mtime.toISOString()}`,
        action: 'would-send',
      },
    ]);
    assert.equal(await exists('00353'), false, 'no workflow started');
    assert.equal(await exists('99353'), false, 'no workflow started');
    assert.deepEqual(await sys.ledger.timeline('article:00353'), []);
  });

  it('feed --filter sends only the matching keys; --mode preview waits for approve, which publishes; a wrong --version is refused with the reason', async () => {
    const dir = folder('incoming', [pkg('original'), pkg('second-article')]);
    const fed = await custody(['feed', dir, '--filter', '00353', '--mode', 'preview'], env);
    assert.equal(fed.code, 0, fed.stderr);
    assert.equal(
      fed.stdout,
      [
        'elife-00353-vor-v1-20121213000000.zip: sent to article:00353 (v1)',
        "1 sent, 0 refused (an article's workflow ignores a package it already has: same",
        '    key, same ETag)',
        '',
      ].join('\n'),
    );
    assert.equal(await exists('99353'), false, 'the filter kept 99353 out');
    await until('00353', (s) => s.stage === 'awaiting-approval');
    assert.equal((await fetch(`${store.url}/articles/00353`)).status, 404, 'nothing published yet');
    assert.equal(
      ((await (await fetch(`${store.url}/articles/00353/versions/1`)).json()) as { state: string }).state,
      'unpublished',
      'the store has the preview',
    );

    const waiting = await custody(['status', 'article:00353'], env);
    assert.equal(waiting.code, 0, waiting.stderr);
    assert.match(
      waiting.stdout,
      /^article:00353 — awaiting-approval\n {2}published: nothing yet\n {2}current: v1 \(vor\), run 1, preview mode — elife-00353-vor-v1-20121213000000\.zip\n/,
    );
    assert.match(
      unwrapped(waiting.stdout),
      /awaiting-approval {2}v1 waits for approval: preview at http:\/\/site\.example\.org\/preview\/00353\/v1\/run1\/record\.json\n/,
    );

    const wrong = await custody(['approve', '00353', '--version', '9'], env);
    assert.equal(oneLineError(wrong, 'approve --version 9'), 'custody: article:00353: refused: 00353 v9 is not waiting for approval; v1 is');
    assert.equal((await stateOf('00353')).stage, 'awaiting-approval', 'nothing changed');

    const approved = await custody(['approve', 'article:00353', '--version', '1'], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal(approved.stdout, `article:00353: v1 approved by ${operator}; publishing now\n`);
    await until('00353', (s) => s.published?.version === 1);
    const inStore = await published('00353');
    assert.deepEqual([inStore.version, inStore.state], [1, 'published']);
    assert.equal(((await webhook.nth(1)).body as { articleId: string }).articleId, '00353');

    const nothing = await custody(['approve', '00353'], env);
    assert.match(
      oneLineError(nothing, 'approve again'),
      /^custody: article:00353: refused: 00353 has no version waiting for approval \(it is (publishing|published|waiting)\)$/,
    );
  });

  it('feeding the same folder again handles nothing twice, and says why', async () => {
    await until('00353', (s) => s.stage === 'waiting');
    const events = (await sys.ledger.timeline('article:00353')).length;
    const again = await custody(['feed', path.join(root, 'incoming'), '--filter', '00353'], env);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^1 sent, 0 refused \(an article's workflow ignores a package it already has: same\n {4}key, same ETag\)$/m);
    await new Promise((r) => setTimeout(r, 2000));
    const s = await stateOf('00353');
    assert.deepEqual([s.stage, s.pending, s.published?.version], ['waiting', [], 1]);
    assert.equal((await sys.ledger.timeline('article:00353')).length, events, 'no new event: the package was ignored');
    assert.equal(webhook.notifications.length, 1, 'not published or notified again');
  });

  it('reject --reason records the rejection with the operator and the reason; a second reject is refused', async () => {
    const fed = await custody(['feed', path.join(root, 'incoming'), '--filter', '^elife-99353', '--mode', 'preview', '--json'], env);
    assert.equal(fed.code, 0, fed.stderr);
    assert.deepEqual(
      (JSON.parse(fed.stdout) as Array<{ key: string; action: string }>).map((o) => [o.key, o.action]),
      [['elife-99353-vor-v1-20130301000000.zip', 'sent']],
    );
    await until('99353', (s) => s.stage === 'awaiting-approval');
    const rejected = await custody(['reject', '99353', '--reason', 'figure 1 is upside down', '--json'], env);
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.deepEqual(JSON.parse(rejected.stdout), {
      objectId: 'article:99353',
      ok: true,
      version: 1,
      message: `v1 rejected by ${operator}: figure 1 is upside down (recorded; the article waits for its next version)`,
    });
    await untilEvent('99353', 'article-rejected');
    const status = await custody(['status', 'article:99353'], env);
    assert.match(status.stdout, /^article:99353 — waiting\n {2}published: nothing yet\n/);
    assert.match(unwrapped(status.stdout), new RegExp(`rejected {2}v1 rejected by ${operator}: figure 1 is upside down\n`));
    const again = await custody(['reject', '99353', '--reason', 'still upside down'], env);
    assert.equal(oneLineError(again, 'reject again'), 'custody: article:99353: refused: 99353 has no version waiting for a decision (it is waiting)');
  });

  it('silent-update is refused in one line for another version, another article, nothing published or no such article; the published version is replaced', async () => {
    const refusals: Array<[string[], string]> = [
      [
        ['silent-update', '00353', pkg('new-version')],
        'custody: article:00353: refused: the package elife-00353-vor-v2-20130115000000.zip is v2; a silent update replaces the published version, v1',
      ],
      [
        ['silent-update', '00353', pkg('second-article')],
        'custody: article:00353: refused: the package elife-99353-vor-v1-20130301000000.zip is for article 99353, not 00353',
      ],
      [
        ['silent-update', '99353', pkg('second-article')],
        'custody: article:99353: refused: 99353 has nothing published: a silent update replaces a published version',
      ],
      [
        ['silent-update', '12345', pkg('silent-update')],
        "custody: unknown article 12345: there is no workflow article:12345 (custody feed sends an article's first package)",
      ],
      [
        ['silent-update', '00353', path.join(generated, 'nope.zip')],
        `custody: no package at ${path.join(generated, 'nope.zip')}: nothing there, or not a file`,
      ],
      [
        ['silent-update', '00353', path.join(generated, 'manifest.json')],
        'custody: Package key "manifest.json": file name "manifest.json" does not match; expected <journal>-<articleId>-<poa|vor>-v<version>[-<yyyymmddHHMMSS>].zip, e.g. elife-00353-vor-v1-20121213000000.zip',
      ],
    ];
    for (const [args, expected] of refusals) assert.equal(oneLineError(await custody(args, env), args.join(' ')), expected);
    assert.equal((await stateOf('00353')).stage, 'waiting', 'nothing started');

    const silent = made.find((p) => p.kind === 'silent-update')!;
    const accepted = await custody(['silent-update', '00353', path.relative(process.cwd(), pkg('silent-update'))], env);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.equal(
      accepted.stdout,
      [
        `article:00353: silent update of v1 from ${silent.file}`,
        '    accepted: the published files and record are replaced in place, without a',
        '    notification (custody status article:00353 shows the outcome)',
        '',
      ].join('\n'),
    );
    await untilEvent('00353', 'article-silent-update');
    assert.deepEqual([(await published('00353')).version, (await published('00353')).record.title], [1, silent.title]);
    assert.equal(webhook.notifications.length, 1, 'a silent update notifies nobody');
  });

  it('status article:<id> shows the published version, its URL and the history with the silent update; --json has the whole record', async () => {
    const text = await custody(['status', 'article:00353'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.equal(text.stderr, '');
    fitsIn80(text.stdout);
    const s = await stateOf('00353');
    const lines = text.stdout.split('\n');
    assert.equal(lines[0], 'article:00353 — waiting');
    assert.equal(lines[1], `  published: v1 (vor) at ${s.published!.at}`);
    assert.equal(lines[2], `    ${store.url}/articles/00353/versions/1`);
    const history = unwrapped(text.stdout.slice(text.stdout.indexOf('  history')));
    assert.match(history, /^ {2}history \(outcomes and operators' actions; --json has every step\):\n/);
    assert.match(history, /\n {4}\S+Z {2}awaiting-approval {2}v1 waits for approval: preview at/);
    assert.match(
      history,
      new RegExp(`\\n {4}\\S+Z {2}published {2}published 00353 v1: ${store.url}/articles/00353/versions/1 \\(approved by ${operator}\\)\\n`),
    );
    assert.match(
      history,
      new RegExp(`\\n {4}\\S+Z {2}silent-update {2}silent update of v1 by ${operator}: 0 added, 0 removed, \\d+ replaced; record fields changed: [^\\n]*title`),
    );
    assert.doesNotMatch(history, /fetching|expanding|validating/, 'the steps are left out');
    assert.equal(history.match(/ published {2}/g)?.length, 1, 'one line per publication');

    const json = JSON.parse((await custody(['status', 'article:00353', '--json'], env)).stdout) as Array<{
      articleId: string;
      workflowId: string;
      workflow: string;
      live: ArticleState;
      history: Array<{ kind: string; detail: { version?: number } }>;
    }>;
    assert.equal(json.length, 1);
    assert.deepEqual([json[0].articleId, json[0].workflowId, json[0].workflow], ['00353', 'article:00353', 'RUNNING']);
    assert.deepEqual(json[0].live.published, s.published);
    const kinds = json[0].history.map((e) => e.kind);
    for (const k of ['article-fetching', 'article-awaiting-approval', 'article-published', 'article-silent-update']) assert.ok(kinds.includes(k), k);

    const unknown = await custody(['status', 'article:12345'], env);
    assert.match(
      oneLineError(unknown, 'status of an unknown article'),
      /^custody: unknown article 12345: there is no workflow article:12345 .*, and the ledger has no event of it$/,
    );
  });

  it('approve --at schedules the publication, status --scheduled lists it, approving again without --at publishes now', async () => {
    const dir = folder('v2', [pkg('new-version')]);
    assert.equal((await custody(['feed', dir, '--mode', 'preview'], env)).code, 0);
    await until('00353', (s) => s.stage === 'awaiting-approval' && s.current?.version === 2);
    const at = new Date(Date.now() + 3_600_000);
    at.setUTCMilliseconds(0);
    const scheduled = await custody(['approve', '00353', '--at', at.toISOString().replace('.000Z', 'Z')], env);
    assert.equal(scheduled.code, 0, scheduled.stderr);
    assert.equal(
      scheduled.stdout,
      [`article:00353: v2 approved by ${operator}, to be published at`, `    ${at.toISOString()} (approve again to move it, reject to cancel)`, ''].join('\n'),
    );
    await until('00353', (s) => s.stage === 'scheduled');
    // The visibility store follows the workflow's search attributes a moment later.
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes('article:00353'); i++) {
      listed = (await custody(['status', '--scheduled'], env)).stdout;
      if (!listed.includes('article:00353')) await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal(
      listed,
      `ARTICLE       VERSION PUBLISH AT           PACKAGE\narticle:00353 v2      ${at.toISOString().replace('.000Z', 'Z')} elife-00353-vor-v2-20130115000000.zip\n`,
    );
    fitsIn80(listed);
    const json = JSON.parse((await custody(['status', '--scheduled', '--json'], env)).stdout) as unknown;
    assert.deepEqual(json, [{ articleId: '00353', version: 2, publishAt: at.toISOString(), key: 'elife-00353-vor-v2-20130115000000.zip' }]);
    const text = await custody(['status', 'article:00353'], env);
    assert.match(text.stdout, new RegExp(`\\n {2}scheduled: v2 to be published at ${at.toISOString().replace(/\./g, '\\.')}\\n`));

    const now = await custody(['approve', '00353'], env);
    assert.equal(now.stdout, `article:00353: v2 approved by ${operator}; publishing now\n`);
    await until('00353', (s) => s.published?.version === 2);
    assert.equal((await custody(['status', '--scheduled'], env)).stdout, 'no article has a scheduled publication\n');
    const after = await custody(['status', 'article:00353'], env);
    assert.match(after.stdout, /^article:00353 — (published|waiting)\n {2}published: v2 \(vor\) at /);
    assert.doesNotMatch(after.stdout, /scheduled:/, 'no scheduled publication is left');
    const stale = await custody(['silent-update', '00353', pkg('silent-update')], env);
    assert.match(oneLineError(stale, 'silent update of the old version'), /is v1; a silent update replaces the published version, v2$/);
  });

  it('freeze, unfreeze and reenqueue take article:<id>, with --dry-run and --json like objects', async () => {
    const frozen = await custody(['freeze', 'article:99353', '--reason', 'embargo until Monday'], env);
    assert.equal(frozen.code, 0, frozen.stderr);
    assert.match(frozen.stdout, /^article:99353: frozen while waiting for a package \(at \S+Z\)\n$/);
    const status = await custody(['status', 'article:99353'], env);
    assert.match(status.stdout, new RegExp(`^article:99353 — frozen\\n[^]*\\n {2}frozen: embargo until Monday \\(by ${operator}\\)\\n`));
    const again = await custody(['freeze', 'article:99353', '--reason', 'x'], env);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, `article:99353: article:99353 is frozen already: embargo until Monday (by ${operator})\n`);

    const dry = await custody(['unfreeze', 'article:99353', '--dry-run', '--json'], env);
    assert.deepEqual(JSON.parse(dry.stdout), [
      { objectId: 'article:99353', ok: true, message: 'would be unfrozen and continue from the stage where it stopped', dryRun: true },
    ]);
    const noPackage = await custody(['reenqueue', 'article:99353', '--dry-run'], env);
    assert.equal(
      noPackage.stdout,
      [
        'article:99353: refused: article:99353 is frozen, not a package waiting for an operator (reenqueue takes a rejected, failed or frozen package)',
        '1 object(s), 1 would be refused; nothing changed (--dry-run)',
        '',
      ].join('\n'),
    );
    assert.equal((await stateOf('99353')).stage, 'frozen', 'the dry runs changed nothing');
    const unfrozen = await custody(['unfreeze', 'article:99353', '--json'], env);
    assert.deepEqual(JSON.parse(unfrozen.stdout), [{ objectId: 'article:99353', ok: true, message: 'unfrozen; continues with waiting' }]);
    const notFrozen = await custody(['unfreeze', 'article:00353'], env);
    assert.equal(notFrozen.code, 1);
    assert.equal(notFrozen.stdout, 'article:00353: article:00353 is not frozen (it is waiting)\n');
    assert.equal(notFrozen.stderr, 'custody: 1 of 1 not done (see above)\n');

    const unknown = await custody(['freeze', 'article:12345', 'article:99353', '--reason', 'x'], env);
    assert.equal(
      oneLineError(unknown, 'freeze an unknown article'),
      "custody: unknown article 12345: there is no workflow article:12345 (custody feed sends an article's first package)",
    );
    assert.equal((await stateOf('99353')).frozenReason, undefined, 'an unknown article stops the command before anything is done');

    // A package that is no zip is rejected by the pipeline and waits for an operator.
    const broken = path.join(root, 'broken');
    fs.mkdirSync(broken);
    fs.writeFileSync(path.join(broken, 'elife-77777-vor-v1-20200101000000.zip'), 'not a zip');
    assert.equal((await custody(['feed', broken], env)).code, 0);
    await until('77777', (s) => s.stage === 'rejected');
    const plan = await custody(['reenqueue', 'article:77777', '--dry-run'], env);
    assert.equal(
      plan.stdout,
      'article:77777: would run v1 (elife-77777-vor-v1-20200101000000.zip) again from fetch, as run 2\n1 object(s), 0 would be refused; nothing changed (--dry-run)\n',
    );
    const forced = await custody(['reenqueue', 'article:77777', '--force', '--reason', 'x'], env);
    assert.equal(forced.code, 1);
    assert.match(forced.stdout, /^article:77777: --force is for preserved objects/);
    const re = await custody(['reenqueue', 'article:77777', '--reason', 'the upload was cut short'], env);
    assert.equal(re.code, 0, re.stderr);
    assert.equal(re.stdout, 'article:77777: v1 runs again from fetch, as run 2\n');
    await until('77777', (s) => s.stage === 'rejected' && s.current?.run === 2);
    const history = await custody(['status', 'article:77777'], env);
    assert.match(history.stdout, /\n {2}last error: PackageRefused: /);
    assert.match(
      unwrapped(history.stdout),
      new RegExp(
        `\\n {4}\\S+Z {2}reenqueued {2}v1 reenqueued by ${operator}\\n {4}\\S+Z {2}reenqueue-reason {2}v1: the upload was cut short \\(${operator}\\)\\n`,
      ),
    );
    const skip = await custody(['reject', '77777', '--reason', 'broken upload'], env);
    assert.equal(skip.code, 0, skip.stderr);
    await until('77777', (s) => s.stage === 'waiting');
  });

  it('feeds from S3 with the object ETag as the package identity, and publishes from there', async () => {
    const bucket = await s3.bucket('articles');
    const second = made.find((p) => p.kind === 'second-article')!;
    await putBytes(openStorage(`s3://${bucket}/incoming`, s3.options), second.file, fs.readFileSync(pkg('second-article')));
    const head = await s3.client().send(new HeadObjectCommand({ Bucket: bucket, Key: `incoming/${second.file}` }));
    const etag = head.ETag!.replace(/"/g, '');
    const dry = JSON.parse((await custody(['feed', `s3://${bucket}/incoming`, '--dry-run', '--json'], env)).stdout) as Array<{ etag: string }>;
    assert.deepEqual(dry, [{ key: second.file, articleId: '99353', version: 1, etag, action: 'would-send' }]);
    const fed = await custody(['feed', `s3://${bucket}/incoming/`], env);
    assert.equal(fed.code, 0, fed.stderr);
    assert.match(fed.stdout, /^elife-99353-vor-v1-20130301000000\.zip: sent to article:99353 \(v1\)\n/);
    await until('99353', (s) => s.published?.version === 1);
    assert.equal((await published('99353')).state, 'published');
  });
});
