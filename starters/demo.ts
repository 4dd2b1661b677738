// The demo: the reference preservation service, a worker serving every queue, the polling
// schedule, and the sample collection in examples/ enqueued — then a progress bar until every
// object is settled, and a table of outcomes with each workflow's Web UI link. Then the
// publishing part (demo-publishing.ts): the reference article store, and sample article packages
// dropped into the folder the watch-articles schedule watches, published, approved and silently
// updated, with the store's records. Then the copies-and-delivery part (demo-copies.ts): sample
// datasets deposited with the reference deposit service, and the packages and articles the other
// parts made delivered to a folder and the reference receiver.
import fs from 'node:fs';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { REPO_ROOT, loadConfig } from '../config/config';
import { connectClient } from '../config/temporal-connection';
import { SETTLED_STAGES } from '../common/preservation';
import { openParts } from '../activities/parts';
import { startWorkers } from '../workers/run-worker';
import { installRuntime } from '../workers/runtime';
import { ChildProcesses } from './child-processes';
import { enqueue } from './enqueue';
import { outcomeTable } from './outcome-table';
import { createSchedules } from './schedules';
import { workflowListUrl, workflowsUrl } from './web-ui';
import { DEMO_PUBLISHING_SETTINGS, resetDemoArticles, runPublishingDemo, serveSite, startArticleStoreProcess } from './demo-publishing';
import { demoCopySettings, resetDemoCopies, runCopiesDemo, setDemoTokens, startCopyServices } from './demo-copies';

const exitWhenDone = process.argv.includes('--exit') || process.env.CI === 'true';

/** What the reference service must decide for each sample object (examples/expected-outcomes.json). */
const expected = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'expected-outcomes.json'), 'utf8')) as Record<string, string>;

/** Stops the reference service and the worker on every way out: the end, an error, Ctrl-C, SIGTERM. */
const children = new ChildProcesses();

function startService(url: string, dataDir: string, transfer: string): Promise<void> {
  const port = new URL(url).port;
  const main = path.join(REPO_ROOT, 'reference-service', 'main.ts');
  const child = children.spawn(process.execPath, ['--require', 'tsx/cjs', main, '--port', port, '--data-dir', dataDir, '--transfer', transfer], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`reference service exited with code ${code} during start-up`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
}

async function main() {
  installRuntime('ERROR'); // worker chatter would break the progress bar
  const runStart = new Date().toISOString();
  // Before anything reads the environment: the worker started below takes its tokens from there.
  const tokens = setDemoTokens();
  // The demo polls every 10 s so the schedule's signals are seen at work; production: hourly.
  // A fresh clone's files are minutes old: the demo does not wait the default settle time.
  const defaults = loadConfig();
  const copySettings = demoCopySettings(defaults.dataDir);
  const config = loadConfig(process.env, {
    ...copySettings,
    schedules: { syncProcessedSips: { every: '10s', catchupWindow: '1h' }, ...DEMO_PUBLISHING_SETTINGS.schedules },
    guards: { ...defaults.guards, settleTime: '2s' },
    articles: { ...DEMO_PUBLISHING_SETTINGS.articles, modeRules: [...DEMO_PUBLISHING_SETTINGS.articles.modeRules, ...defaults.articles.modeRules] },
  });
  // The demo's service keeps its data beside the transfer folder, in custody's data folder.
  const serviceDir = path.join(config.dataDir, 'service');
  console.log(`starting the reference preservation service (${config.service.url}, data in ${serviceDir})`);
  await startService(config.service.url, serviceDir, config.service.transfer);
  const { client, connection } = await connectClient(config);
  children.beforeExit(() => connection.close());
  // The article store keeps its data beside the service's; an earlier demo's articles start over.
  const storeDir = path.join(config.dataDir, 'article-store');
  const reset = await resetDemoArticles(client, config, storeDir);
  if (reset.length)
    console.log(`an earlier demo's articles ${reset.join(', ')} start over (their workflows terminated, their store data and site files removed)`);
  console.log(`starting the reference article store (${config.articles.store.url}, data in ${storeDir})`);
  await startArticleStoreProcess(children, config, storeDir);
  const parts = await openParts(config);
  children.beforeExit(() => parts.ledger.close());
  const resetCopies = await resetDemoCopies(client, config, parts.ledger);
  if (resetCopies.length) console.log(`an earlier demo's ${resetCopies.join(', ')} start over (terminated; deposit service, receiver and mirror data removed)`);
  for (const line of await startCopyServices(children, config, tokens)) console.log(line);
  const site = await serveSite(config);
  if (site) children.beforeExit(() => site.close());
  console.log(site ? `serving the site folder ${config.articles.site} at ${site.url}` : `the site is in ${config.articles.site} (not served)`);
  const workers = await startWorkers(config);
  children.beforeExit(async () => {
    workers.shutdown();
    await workers.done;
  });
  console.log('worker serving every task queue');
  for (const line of await createSchedules(client, config)) console.log(line);

  const outcomes = await enqueue({ client, config, ledger: parts.ledger, source: parts.source }, {});
  const started = outcomes.filter((o) => o.action === 'started').length;
  console.log(`enqueued ${started} object(s); ${outcomes.length - started} already preserved or running`);
  const ids = outcomes.map((o) => o.objectId);

  const bar = new SingleBar(
    { format: 'preserving |{bar}| {value}/{total} settled  {stages}', hideCursor: true, noTTYOutput: true, notTTYSchedule: 2000 },
    Presets.shades_classic,
  );
  bar.start(ids.length, 0, { stages: '' });
  for (;;) {
    const rows = await parts.ledger.listObjects({ ids });
    const settled = rows.filter((r) => SETTLED_STAGES.includes(r.state)).length;
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
    bar.update(settled, { stages: [...counts].map(([s, n]) => `${s}:${n}`).join(' ') });
    if (settled === ids.length) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  bar.stop();

  const rows = await parts.ledger.listObjects({ ids });
  const { lines, asExpected } = outcomeTable(rows, expected, workflowsUrl(config));
  console.log(`\n${lines.join('\n')}`);
  console.log(`\nledger: ${config.databaseUrl}\nreports: ${path.join(config.dataDir, 'reports')}`);
  console.log(`objects in the Web UI: ${workflowListUrl(config)}`);

  console.log('\npublishing: sample article packages through the watched folder');
  const publishing = await runPublishingDemo({ client, config, ledger: parts.ledger, say: (line) => console.log(`  ${line}`) }).catch((e: unknown) => ({
    lines: [`the publishing part stopped: ${(e as Error).message}`],
    asExpected: false,
  }));
  console.log(`\n${publishing.lines.join('\n')}`);
  console.log(`articles in the Web UI: ${workflowListUrl(config, 'CustodyPipeline = "publishing"')}`);

  console.log('\ncopies and delivery: sample datasets to the reference deposit service; packages and articles to two destinations');
  const copies = await runCopiesDemo({
    client,
    config,
    ledger: parts.ledger,
    runStart,
    preservedEarlier: outcomes.filter((o) => o.action === 'skipped' && rows.some((r) => r.id === o.objectId && r.state === 'confirmed')).map((o) => o.objectId),
    say: (line) => console.log(`  ${line}`),
  }).catch((e: unknown) => ({ lines: [`the copies-and-delivery part stopped: ${(e as Error).message}`], asExpected: false }));
  console.log(`\n${copies.lines.join('\n')}`);
  console.log(`copies in the Web UI: ${workflowListUrl(config, 'CustodyPipeline = "copy"')}`);
  const allAsExpected = asExpected && publishing.asExpected && copies.asExpected;

  if (exitWhenDone) {
    console.log(allAsExpected ? 'demo finished: every outcome as expected' : 'demo finished: some outcomes were not the expected ones');
    await children.exit(allAsExpected ? 0 : 1);
  }
  // The worker keeps the process alive; Ctrl-C (SIGINT) or SIGTERM stops everything.
  console.log(
    `\nWeb UI (objects only; the README's Web UI guide has more filters): ${workflowListUrl(config)}\nThe server, the UI and the worker keep running; Ctrl-C stops them.`,
  );
}

main().catch((e: unknown) => {
  console.error(`demo: ${(e as Error).message}`);
  void children.exit(1);
});
