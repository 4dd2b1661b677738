// The demo's copies-and-delivery part. Copies: the reference deposit service (Zenodo's deposit
// API) and the sample datasets of examples/generate-datasets.ts; ds-0001's versions are sent in
// the order 3, 1, 2 and must be deposited 1, 2, 3 as one lineage, ds-0002 (a zero-length file)
// must be frozen by the guard. Delivery: a folder `mirror` and the reference receiver `archive`,
// to which the rules send every accepted package (preservation → both) and every published
// article (publishing → mirror) while the other parts run. Checked with --exit against
// examples/expected-copy-outcomes.json.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { copyStateQuery, copyWorkflowId, type CopyState, type CopyType } from '../common/copies';
import { REPO_ROOT, type Config } from '../config/config';
import type { DeliveryRow, Ledger } from '../ledger';
import { generateDatasets } from '../examples/generate-datasets';
import type { ChildProcesses } from './child-processes';
import { sendCopies } from './copies';
import { deliverNow, destinationSummary, formatDestinations } from './delivery';
import { printable } from './printable';

const DEMO_BY = 'custody demo';
const TYPE: CopyType = 'data';
const RECEIVER_PORT = 8394;
/** The environment variable the `archive` destination's token is read from (its tokenEnv). */
const RECEIVER_TOKEN_ENV = 'CUSTODY_DEMO_RECEIVER_TOKEN';
/** Copies and deliveries take seconds each; this is for a machine that is very busy. */
const WAIT_TIMEOUT_MS = 180_000;

interface ExpectedCopies {
  copies: Record<string, { outcome: 'copied' | 'frozen'; versions?: number[]; reason?: string }>;
  /** Destinations each confirmed sample object (preservation) and each sample article (publishing) must reach. */
  deliveries: { preservation: string[]; publishing: string[] };
}

const readJson = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', name), 'utf8')) as T;
const expectedCopies = () => readJson<ExpectedCopies>('expected-copy-outcomes.json');
/** The sample objects the service accepts: they are the ones delivered. */
const confirmedSamples = () =>
  Object.entries(readJson<Record<string, string>>('expected-outcomes.json'))
    .filter(([, outcome]) => outcome === 'confirmed')
    .map(([id]) => id);
const sampleArticles = () => Object.keys(readJson<Record<string, unknown>>('expected-publishing-outcomes.json')).map((id) => `article:${id}`);

/** Where this part keeps its data, all in custody's data folder. */
export function demoCopyDirs(dataDir: string) {
  return {
    depositService: path.join(dataDir, 'deposit-service'),
    receiver: path.join(dataDir, 'receiver'),
    mirror: path.join(dataDir, 'mirror'),
    datasets: path.join(dataDir, 'datasets'),
  };
}

/** The demo's settings for this part, merged into the config like DEMO_PUBLISHING_SETTINGS. */
export function demoCopySettings(dataDir: string) {
  const dirs = demoCopyDirs(dataDir);
  return {
    copies: { source: dirs.datasets },
    delivery: {
      destinations: [
        { kind: 'folder' as const, name: 'mirror', path: dirs.mirror, compress: false },
        { kind: 'http' as const, name: 'archive', url: `http://127.0.0.1:${RECEIVER_PORT}`, tokenEnv: RECEIVER_TOKEN_ENV, compress: true },
      ],
      rules: [
        { pipeline: 'preservation' as const, to: ['archive', 'mirror'] },
        { pipeline: 'publishing' as const, to: ['mirror'] },
      ],
      // A delivery the demo waits for: a short first retry rather than the production 5 s.
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
    },
  };
}

/**
 * Tokens for the deposit service and the receiver, made up for this run. Set in this process's
 * environment before the worker starts, since the worker reads DEPOSIT_TOKEN and the destination's
 * tokenEnv from there; the children get theirs from their own environment, never the command line.
 */
export function setDemoTokens(): { depositToken: string; receiverToken: string } {
  const token = () => `demo-${crypto.randomBytes(12).toString('hex')}`;
  process.env.DEPOSIT_TOKEN ??= token();
  process.env[RECEIVER_TOKEN_ENV] ??= token();
  return { depositToken: process.env.DEPOSIT_TOKEN, receiverToken: process.env[RECEIVER_TOKEN_ENV]! };
}

/**
 * An earlier demo's copies and deliveries start over: their workflows terminated if running, the
 * deposit service's and receiver's data and the mirror folder removed, and the ledger's record of
 * the copies' depositions dropped (it would name depositions the emptied service does not have).
 * The packages folder stays: it holds the accepted packages of objects preserved by an earlier
 * run, which this run does not preserve again but delivers again. Returns the terminated ids.
 */
export async function resetDemoCopies(client: Client, config: Config, ledger: Ledger): Promise<string[]> {
  const copies = Object.keys(expectedCopies().copies);
  // Delivery workflows are per item and version: the running ones of the demo's items.
  const items = [...confirmedSamples(), ...sampleArticles()];
  const deliveries: string[] = [];
  for await (const wf of client.workflow.list({ query: 'WorkflowType = "deliverItem" AND ExecutionStatus = "Running"' }))
    if (items.some((item) => wf.workflowId.startsWith(`deliver:${item}:`))) deliveries.push(wf.workflowId);
  const reset: string[] = [];
  for (const id of [...copies, ...deliveries]) {
    try {
      const handle = client.workflow.getHandle(id);
      if ((await handle.describe()).status.name !== 'RUNNING') continue;
      await handle.terminate('the demo starts its copies and deliveries over');
      reset.push(id);
    } catch (e) {
      if (!(e instanceof WorkflowNotFoundError)) throw e;
    }
  }
  for (const copyId of copies) await ledger.copies.forget(copyId);
  const dirs = demoCopyDirs(config.dataDir);
  for (const dir of [dirs.depositService, dirs.receiver, dirs.mirror]) fs.rmSync(dir, { recursive: true, force: true });
  return reset;
}

function startReferenceProcess(children: ChildProcesses, what: string, main: string, port: string, dataDir: string, env: NodeJS.ProcessEnv): Promise<void> {
  const child = children.spawn(process.execPath, ['--require', 'tsx/cjs', path.join(REPO_ROOT, main), '--port', port, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...env },
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${what} exited with code ${code} during start-up`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('listening')) resolve();
    });
  });
}

/** Starts the reference deposit service (at `copies.depositUrl`'s port) and the reference receiver; returns what to print. */
export async function startCopyServices(children: ChildProcesses, config: Config, tokens: { depositToken: string; receiverToken: string }): Promise<string[]> {
  const dirs = demoCopyDirs(config.dataDir);
  const depositPort = new URL(config.copies.depositUrl).port || '80';
  await startReferenceProcess(children, 'reference deposit service', 'reference-deposit-service/main.ts', depositPort, dirs.depositService, {
    REFERENCE_DEPOSIT_SERVICE_TOKEN: tokens.depositToken,
  });
  await startReferenceProcess(children, 'reference receiver', 'reference-receiver/main.ts', String(RECEIVER_PORT), dirs.receiver, {
    REFERENCE_RECEIVER_TOKEN: tokens.receiverToken,
  });
  return [
    `starting the reference deposit service (${config.copies.depositUrl}, data in ${dirs.depositService})`,
    `starting the reference receiver (http://127.0.0.1:${RECEIVER_PORT}, data in ${dirs.receiver}); delivery to it and to the folder ${dirs.mirror}`,
  ];
}

export interface CopiesDemo {
  client: Client;
  config: Config;
  ledger: Ledger;
  /** When this run began: a delivery row older than that is an earlier run's. */
  runStart: string;
  /** Sample objects this run did not preserve (an earlier run did): their deliveries are started here. */
  preservedEarlier: string[];
  say: (line: string) => void;
}

async function until<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean, describe: (v: T) => string): Promise<T> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  for (;;) {
    const v = await get();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${WAIT_TIMEOUT_MS / 1000} s: ${describe(v)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The sequence of the header; returns the outcome lines and whether every outcome is the expected one. */
export async function runCopiesDemo({
  client,
  config,
  ledger,
  runStart,
  preservedEarlier,
  say,
}: CopiesDemo): Promise<{ lines: string[]; asExpected: boolean }> {
  const expected = expectedCopies();
  const ids = generateDatasets(config.copies.source);
  say(`sample datasets ${ids.join(', ')} written to ${config.copies.source} (examples/generate-datasets.ts)`);

  const sent: string[] = [];
  const send = async (datasetId: string, version?: number) => {
    for (const o of await sendCopies({ client, config }, { datasetId, type: TYPE, version }, DEMO_BY)) {
      if (o.action !== 'sent') throw new Error(`${o.copyId} v${o.version} was not sent: ${o.reason ?? o.action}`);
      sent.push(`${datasetId} v${o.version}`);
    }
  };
  // Out of order on purpose: the copy workflow holds v3 until v1 and v2 are deposited.
  for (const v of [3, 1, 2]) await send('ds-0001', v);
  await send('ds-0002');
  say(`sent ${sent.join(', ')} (in that order) to their copy workflows`);

  const state = (copyId: string) =>
    client.workflow
      .getHandle(copyId)
      .query(copyStateQuery)
      .catch(() => undefined);
  const describeState = (s: CopyState | undefined) => (s ? `it is ${s.stage}${s.details ? ` (${s.details})` : ''}` : 'no workflow');
  const settled = (s: CopyState | undefined, want: ExpectedCopies['copies'][string]) =>
    want.outcome === 'frozen' ? s?.stage === 'frozen' : s?.stage === 'waiting' && s.copied?.version === want.versions?.at(-1);
  const finals = new Map<string, CopyState | undefined>();
  for (const [copyId, want] of Object.entries(expected.copies))
    finals.set(
      copyId,
      await until(
        `${copyId} ${want.outcome}`,
        () => state(copyId),
        (s) => settled(s, want) || s?.stage === 'failed',
        describeState,
      ),
    );

  const lines = [`${'copy'.padEnd(18)} ${'outcome'.padEnd(8)} versions: deposition, DOI (from the ledger)`];
  let asExpected = true;
  for (const [copyId, want] of Object.entries(expected.copies)) {
    const s = finals.get(copyId);
    const versions = await ledger.copies.versions(copyId);
    const outcome = s?.stage === 'frozen' ? 'frozen' : s?.copied ? 'copied' : (s?.stage ?? '-');
    const problems: string[] = [];
    if (outcome !== want.outcome) problems.push(`${outcome}, expected ${want.outcome}`);
    const published = versions.filter((v) => v.state === 'published').map((v) => v.version);
    if (want.versions && published.join() !== want.versions.join())
      problems.push(`published ${published.map((v) => `v${v}`).join(', ') || 'nothing'}, expected ${want.versions.map((v) => `v${v}`).join(', ')}`);
    if (want.reason && !s?.frozenReason?.startsWith(want.reason)) problems.push(`frozen for "${s?.frozenReason ?? ''}", expected a ${want.reason}`);
    lines.push(`${copyId.padEnd(18)} ${outcome.padEnd(8)} ${versions.length ? '' : '(nothing deposited)'}`.trimEnd());
    for (const v of versions) lines.push(`${''.padEnd(27)} v${v.version} ${v.state}: deposition ${v.depositionId ?? '-'}${v.doi ? `, DOI ${v.doi}` : ''}`);
    if (s?.stage === 'frozen') lines.push(`${''.padEnd(27)} reason: ${printable(s.frozenReason ?? '(none given)')}`);
    for (const p of problems) lines.push(`${''.padEnd(27)} UNEXPECTED: ${p}`);
    asExpected &&= problems.length === 0;
  }
  const depositions = await ledger.timeline(copyWorkflowId('ds-0001', TYPE));
  const order = depositions.filter((e) => e.at >= runStart && e.kind === 'copy-copied').map((e) => `v${(e.detail as { version?: number }).version}`);
  lines.push(`ds-0001 deposited in the order ${order.join(', ')}, each a new version of the one before`);

  // Delivery: started by each pipeline when an item is done, except for objects an earlier run
  // preserved — this run delivers those itself, as `custody deliver` would.
  for (const id of preservedEarlier) await deliverNow({ client, config, ledger }, id, {}, DEMO_BY);
  if (preservedEarlier.length) say(`delivering ${preservedEarlier.join(', ')} again (preserved by an earlier demo; custody deliver)`);
  const wanted: Array<[string, string[]]> = [
    ...confirmedSamples().map((id): [string, string[]] => [id, expected.deliveries.preservation]),
    ...sampleArticles().map((id): [string, string[]] => [id, expected.deliveries.publishing]),
  ];
  const fresh = (r: DeliveryRow) => r.updatedAt >= runStart && (r.state === 'delivered' || r.state === 'skipped');
  const missing = async () => {
    const out: string[] = [];
    for (const [id, to] of wanted) {
      const rows = await ledger.deliveries.of(id);
      for (const d of to) if (!rows.some((r) => r.destination === d && fresh(r))) out.push(`${id} → ${d}`);
    }
    return out;
  };
  const left = await until(
    'every delivery',
    missing,
    (m) => m.length === 0,
    (m) => `not yet delivered: ${m.join(', ')}`,
  ).catch((e: unknown) => {
    lines.push(`UNEXPECTED: ${(e as Error).message}`);
    return undefined;
  });
  if (!left) asExpected = false;
  else
    say(
      `${wanted.length} items delivered: each accepted package to ${expected.deliveries.preservation.join(' and ')}, each article to ${expected.deliveries.publishing.join(' and ')}`,
    );
  lines.push('', 'deliveries by destination (custody status --destinations):', ...formatDestinations(await destinationSummary(ledger, config)));
  return { lines, asExpected };
}
