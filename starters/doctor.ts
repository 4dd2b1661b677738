// `custody doctor`: whether a deployment can work, one line per check, before workers start or
// after something broke. Every check has its own time limit, so one part that hangs is reported
// as such while the others are still checked. It reads and asks, and never writes anything.
import fs from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Client, Connection } from '@temporalio/client';
import { ConfigError, REPO_ROOT, loadConfig, type Config } from '../config/config';
import { TemporalUnreachableError, connectClient, temporalSettings } from '../config/temporal-connection';
import { parseStorageUrl } from '../config/storage-location';
import { inspectLedger } from '../ledger';
import { openStorage } from '../storage';
import { s3Client } from '../storage/s3-storage';
import { referencePreservationService } from '../services/preservation-service';
import { openDestination } from '../destinations';
import { SCHEDULES_TASK_QUEUE, TASK_QUEUES } from '../common/preservation';
import { destinationTaskQueue } from '../common/delivery';
import { SCHEDULE_IDS } from './schedules';
import { COLUMNS, fit, printable, wrap } from './printable';

export type CheckState = 'ok' | 'FAIL' | 'warn';
export interface CheckResult {
  check: string;
  state: CheckState;
  found: string;
}

const ok = (check: string, found: string): CheckResult => ({ check, state: 'ok', found });
const fail = (check: string, found: string): CheckResult => ({ check, state: 'FAIL', found });
const warn = (check: string, found: string): CheckResult => ({ check, state: 'warn', found });

/** Long enough for a distant server, short enough that an operator waits for the answer. */
export const CHECK_TIMEOUT_MS = 10_000;

const GIB = 1024 ** 3;

/** "10s", "90s", "30d": a duration as config writes them. */
function duration(msecs: number): string {
  const s = Math.round(msecs / 1000);
  if (s % 86_400 === 0) return `${s / 86_400}d`;
  if (s % 3600 === 0) return `${s / 3600}h`;
  return `${s}s`;
}

/** The first line of an error's message; for a failed fetch, why it failed (ECONNREFUSED) rather than "fetch failed". */
function why(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err?.cause?.code ?? err?.cause?.message;
  const text = `${err?.message ?? String(e)}`.split('\n')[0];
  if (cause && /fetch failed/.test(text)) return text.replace(/fetch failed/, cause);
  return cause && !text.includes(cause) ? `${text} (${cause})` : text;
}

/** The check's results, or one FAIL naming the time limit when it does not answer within it. */
async function timed(check: string, run: () => Promise<CheckResult[]>, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult[]> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<CheckResult[]>((resolve) => {
    timer = setTimeout(() => resolve([fail(check, `no answer within ${duration(timeoutMs)}`)]), timeoutMs);
  });
  try {
    return await Promise.race([run().catch((e: unknown) => [fail(check, why(e))]), late]);
  } finally {
    clearTimeout(timer);
  }
}

// --- search attributes ------------------------------------------------------------------------

/** Temporal's IndexedValueType numbers, by the names search-attributes.json uses. */
const INDEXED_VALUE_TYPES: Record<number, string> = { 1: 'Text', 2: 'Keyword', 3: 'Int', 4: 'Double', 5: 'Bool', 6: 'Datetime', 7: 'KeywordList' };

/** The problems with what a namespace registered (name → IndexedValueType number or name) against what custody needs; none when all is there. */
export function searchAttributeProblems(wanted: Record<string, string>, registered: Record<string, number | string | null | undefined>): string[] {
  const problems: string[] = [];
  for (const [name, type] of Object.entries(wanted)) {
    const got = registered[name];
    const gotType = typeof got === 'number' ? INDEXED_VALUE_TYPES[got] : typeof got === 'string' ? got.replace(/^INDEXED_VALUE_TYPE_/, '') : undefined;
    if (got === undefined || got === null) problems.push(`${name} (${type}) missing`);
    else if (gotType?.toLowerCase() !== type.toLowerCase()) problems.push(`${name} is ${gotType ?? got}, not ${type}`);
  }
  return problems;
}

function wantedSearchAttributes(): Record<string, string> {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'temporal-config', 'search-attributes.json'), 'utf8')) as Record<string, string>;
}

// --- Temporal ---------------------------------------------------------------------------------

interface Temporal {
  client: Client;
  connection: Connection;
  namespace: string;
}

async function checkNamespace(t: Temporal, address: string): Promise<CheckResult[]> {
  const ns = await t.connection.workflowService.describeNamespace({ namespace: t.namespace });
  const seconds = Number(ns.config?.workflowExecutionRetentionTtl?.seconds ?? 0);
  const retention = seconds ? duration(seconds * 1000) : 'not set';
  return [ok('temporal', `${address}, namespace ${t.namespace}, retention ${retention}`)];
}

async function checkSearchAttributes(t: Temporal): Promise<CheckResult[]> {
  const wanted = wantedSearchAttributes();
  const { customAttributes } = await t.connection.operatorService.listSearchAttributes({ namespace: t.namespace });
  const problems = searchAttributeProblems(wanted, (customAttributes ?? {}) as Record<string, number>);
  if (problems.length) return [fail('search attributes', `${problems.join('; ')} (register them: temporal-config/search-attributes.json)`)];
  return [ok('search attributes', `all ${Object.keys(wanted).length} registered with their types`)];
}

async function checkSchedules(t: Temporal): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const id of SCHEDULE_IDS) {
    const check = `schedule ${id}`;
    try {
      const s = await t.client.schedule.getHandle(id).describe();
      if (s.state.paused) out.push(warn(check, `paused${s.state.note ? `: ${s.state.note}` : ''} (\`custody schedules unpause ${id}\`)`));
      else out.push(ok(check, `active, next run ${s.info.nextActionTimes[0]?.toISOString().replace(/\.\d{3}Z$/, 'Z') ?? 'none'}`));
    } catch (e) {
      if ((e as Error).name === 'ScheduleNotFoundError') out.push(fail(check, 'missing (`custody schedules create` makes it)'));
      else out.push(fail(check, why(e)));
    }
  }
  return out;
}

/** Each task queue custody uses, what it serves, and whether its workers run workflows as well as activities. */
export function taskQueues(config: Config): Array<{ queue: string; serves: string; workflows: boolean }> {
  return [
    { queue: TASK_QUEUES.io, serves: 'workflows and light steps', workflows: true },
    { queue: TASK_QUEUES.download, serves: 'downloading', workflows: false },
    { queue: TASK_QUEUES.package, serves: 'packaging', workflows: false },
    { queue: TASK_QUEUES.submit, serves: 'submitting', workflows: false },
    { queue: SCHEDULES_TASK_QUEUE, serves: 'the schedules', workflows: true },
    ...config.delivery.destinations.map((d) => ({ queue: destinationTaskQueue(d.name), serves: `delivery to ${d.name}`, workflows: false })),
  ];
}

/**
 * A worker long-polls and asks again at least every minute (the server's long-poll limit); a poller last seen longer ago
 * than this has gone (Temporal keeps listing a stopped worker's pollers for some minutes).
 */
export const POLLER_RECENT_MS = 80_000;

async function checkWorkers(t: Temporal, config: Config): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const { queue, serves, workflows } of taskQueues(config)) {
    const check = `worker ${queue}`;
    const types = workflows ? ([1, 2] as const) : ([2] as const);
    const seen: number[] = [];
    for (const taskQueueType of types) {
      const res = await t.connection.workflowService.describeTaskQueue({ namespace: t.namespace, taskQueue: { name: queue, kind: 1 }, taskQueueType });
      const now = Date.now();
      seen.push(
        (res.pollers ?? []).filter((p) => {
          const at = Number(p.lastAccessTime?.seconds ?? 0) * 1000;
          return now - at < POLLER_RECENT_MS;
        }).length,
      );
    }
    const polling = Math.min(...seen);
    if (polling) out.push(ok(check, `${polling} poller${polling > 1 ? 's' : ''} seen in the last ${duration(POLLER_RECENT_MS)}`));
    else out.push(warn(check, `no worker polls ${queue}: ${serves} will wait`));
  }
  return out;
}

async function checkServerVersion(t: Temporal): Promise<CheckResult[]> {
  const info = await t.connection.workflowService.getSystemInfo({});
  return [ok('temporal server', info.serverVersion ? `version ${info.serverVersion}` : 'version not reported')];
}

// --- ledger, storage, disk --------------------------------------------------------------------

async function checkLedger(config: Config): Promise<CheckResult[]> {
  const h = await inspectLedger(config.databaseUrl);
  const where = /^postgres/i.test(config.databaseUrl) ? 'PostgreSQL' : 'SQLite';
  if (h.unknown.length) return [fail('ledger', `${where}: migrations ${h.unknown.join(', ')} are from a newer custody`)];
  if (h.pending.length) return [warn('ledger', `${where}: ${h.pending.length} migration(s) pending (\`custody db migrate\`), ${h.objects} objects`)];
  return [ok('ledger', `${where}, ${h.applied} migrations applied, up to date, ${h.objects} objects`)];
}

/** The configured locations; custody writes into those marked so, and only reads the sources. */
function storageLocations(config: Config): Array<{ key: string; location: string; writes: boolean }> {
  return [
    { key: 'storage.source', location: config.storage.source, writes: false },
    { key: 'storage.work', location: config.storage.work, writes: true },
    { key: 'storage.reports', location: config.storage.reports, writes: true },
    { key: 'articles.source', location: config.articles.source, writes: false },
    { key: 'articles.site', location: config.articles.site, writes: true },
    { key: 'delivery.packages', location: config.delivery.packages, writes: true },
    { key: 'copies.source', location: config.copies.source, writes: false },
    { key: 'service.transfer', location: config.service.transfer, writes: true },
  ];
}

/** The folder itself, or the nearest existing folder above it (where custody would create it). */
function nearestExisting(dir: string): string {
  let d = path.resolve(dir);
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

async function checkStorage(config: Config, key: string, location: string, writes: boolean): Promise<CheckResult[]> {
  const where = parseStorageUrl(location);
  if (where.kind === 's3') {
    const client = s3Client(config.storage.s3);
    try {
      await client.send(new ListObjectsV2Command({ Bucket: where.bucket, Prefix: where.prefix ? `${where.prefix}/` : undefined, MaxKeys: 1 }));
      return [ok(key, `${location}: bucket answers`)];
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'NoSuchBucket') return [fail(key, `${location}: bucket ${where.bucket} does not exist`)];
      if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch')
        return [fail(key, `${location}: access refused (${name}); check the AWS credentials`)];
      return [fail(key, `${location}: ${name}: ${why(e)}`)];
    } finally {
      client.destroy();
    }
  }
  const dir = where.path;
  const stat = fs.statSync(dir, { throwIfNoEntry: false });
  if (stat && !stat.isDirectory()) return [fail(key, `${dir} is not a folder`)];
  if (!writes) {
    if (!stat) return [warn(key, `${dir} does not exist yet`)];
    try {
      fs.accessSync(dir, fs.constants.R_OK | fs.constants.X_OK);
      return [ok(key, `${dir} readable`)];
    } catch {
      return [fail(key, `${dir} is not readable by this user`)];
    }
  }
  // Checked by permission, not by writing a file: the doctor changes nothing.
  const existing = stat ? dir : nearestExisting(dir);
  try {
    fs.accessSync(existing, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    return [fail(key, stat ? `${dir} is not writable by this user` : `${dir} cannot be created: ${existing} is not writable`)];
  }
  return [ok(key, stat ? `${dir} writable` : `${dir} will be created (${existing === path.dirname(dir) ? 'parent' : existing} writable)`)];
}

async function checkDisk(config: Config): Promise<CheckResult[]> {
  const dir = nearestExisting(config.dataDir);
  const s = await fs.promises.statfs(dir);
  const free = s.bavail * s.bsize;
  const share = s.blocks ? s.bavail / s.blocks : 1;
  const found = `${(free / GIB).toFixed(1)} GiB free (${Math.round(share * 100)} %) for dataDir ${config.dataDir}`;
  if (free < GIB) return [fail('disk', `only ${found}`)];
  if (share < 0.1) return [warn('disk', `only ${found}`)];
  return [ok('disk', found)];
}

// --- services ---------------------------------------------------------------------------------

/** One GET with an optional bearer token; its status, or a thrown error when nothing answers. */
async function get(url: string, token?: string): Promise<number> {
  const res = await fetch(url, {
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    signal: AbortSignal.timeout(CHECK_TIMEOUT_MS),
  });
  await res.body?.cancel();
  return res.status;
}

/** A URL without any user:password part, for a message. */
const shownUrl = (url: string): string => url.replace(/\/\/[^@/]*@/, '//');

async function checkPreservationService(config: Config): Promise<CheckResult[]> {
  const service = referencePreservationService({ url: config.service.url, transfer: openStorage(config.service.transfer, config.storage.s3) });
  try {
    await service.verdictsSince(new Date());
  } catch (e) {
    // The client names the whole request URL; the base and the cause are what fit on the line.
    const cause = /did not answer \S+: (?:\w*Error: )?(.*)$/.exec(why(e))?.[1];
    return [fail('preservation service', cause ? `${shownUrl(config.service.url)}: unreachable (${cause.replace(/^connect /, '')})` : why(e))];
  }
  return [ok('preservation service', `${shownUrl(config.service.url)}: report API answers`)];
}

/** A service with a bearer token from `tokenEnv`; `needsToken`: without it custody cannot use the service, so an unset one is a warning. */
async function checkTokenService(
  check: string,
  base: string,
  route: string,
  token: { env: NodeJS.ProcessEnv; name: string; needed: boolean },
): Promise<CheckResult[]> {
  const tokenEnv = token.name;
  const value = token.env[tokenEnv] || undefined;
  const url = `${base.replace(/\/$/, '')}${route}`;
  let status: number;
  try {
    status = await get(url, value);
  } catch (e) {
    return [fail(check, `${shownUrl(base)}: unreachable (${why(e)})`)];
  }
  const refused = status === 401 || status === 403;
  if (refused && value) return [fail(check, `${shownUrl(base)}: token refused (${status}); check ${tokenEnv}`)];
  if (!value && (refused || token.needed)) return [warn(check, `${shownUrl(base)}: answers, but ${tokenEnv} is not set`)];
  if (status >= 200 && status < 300) return [ok(check, `${shownUrl(base)}: answers${value ? ', token accepted' : ''}`)];
  return [fail(check, `${shownUrl(base)}: GET ${route} answered ${status}`)];
}

async function checkDestinations(config: Config, env: NodeJS.ProcessEnv): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of config.delivery.destinations) {
    if (c.kind !== 'http') continue;
    const check = `destination ${c.name}`;
    try {
      // A name no delivery uses: a 404 from file_info says the receiver answers and knows the token.
      const present = await openDestination(c, { s3: config.storage.s3, env }).present({
        name: '.custody-doctor/no-such-file',
        size: 0,
        sha256: '0'.repeat(64),
      });
      out.push(
        present ? warn(check, `${shownUrl(c.url)}: answers, but holds the probe name .custody-doctor/no-such-file`) : ok(check, `${shownUrl(c.url)}: answers`),
      );
    } catch (e) {
      out.push(fail(check, why(e)));
    }
  }
  return out;
}

// --- versions ---------------------------------------------------------------------------------

function checkNode(): CheckResult[] {
  const major = Number(process.versions.node.split('.')[0]);
  return [major >= 24 ? ok('node', `version ${process.versions.node}`) : fail('node', `version ${process.versions.node}; custody needs 24 or later`)];
}

function checkSdk(): CheckResult[] {
  const dir = path.join(REPO_ROOT, 'node_modules', '@temporalio');
  const versions = new Map<string, string[]>();
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    const file = path.join(dir, name, 'package.json');
    if (!fs.existsSync(file)) continue;
    const { version } = JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string };
    versions.set(version, [...(versions.get(version) ?? []), name]);
  }
  if (!versions.size) return [fail('temporal sdk', `no @temporalio packages in ${dir}`)];
  if (versions.size > 1) return [fail('temporal sdk', `mixed versions: ${[...versions].map(([v, names]) => `${v} (${names.join(', ')})`).join('; ')}`)];
  const [[version, names]] = [...versions];
  return [ok('temporal sdk', `${names.length} @temporalio packages, all ${version}`)];
}

// --- all together -----------------------------------------------------------------------------

/** Every check, in the order an operator fixes things: config first, as everything else needs it. */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<CheckResult[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    // Nothing else can be checked without a config: each problem is a line of the report.
    return e.message.split('\n').map((line) => fail('config', line));
  }
  const results: CheckResult[] = [ok('config', env.CUSTODY_CONFIG ? `${env.CUSTODY_CONFIG} is valid` : 'defaults and environment are valid')];

  let temporal: Temporal | undefined;
  const address = temporalSettings(config).connectionOptions.address;
  results.push(
    ...(await timed('temporal', async () => {
      try {
        temporal = await connectClient(config);
      } catch (e) {
        // Its own message goes on to say how to start a dev server; the address and the cause are what fit on the line.
        const cause = /\((.*?)\);/.exec((e as Error).message)?.[1];
        if (e instanceof TemporalUnreachableError) return [fail('temporal', `${address} does not answer${cause ? ` (${cause})` : ''}`)];
        throw e;
      }
      return checkNamespace(temporal, address);
    })),
  );
  const reachable = temporal && results.at(-1)?.state === 'ok';
  const viaTemporal = async (check: string, run: (t: Temporal) => Promise<CheckResult[]>) =>
    reachable && temporal ? timed(check, () => run(temporal as Temporal)) : [warn(check, 'not checked: no Temporal server to ask')];
  results.push(...(await viaTemporal('search attributes', checkSearchAttributes)));
  results.push(...(await viaTemporal('schedules', checkSchedules)));

  results.push(...(await timed('ledger', () => checkLedger(config))));
  for (const { key, location, writes } of storageLocations(config)) results.push(...(await timed(key, () => checkStorage(config, key, location, writes))));

  results.push(...(await timed('preservation service', () => checkPreservationService(config))));
  results.push(
    ...(await timed('article store', () =>
      checkTokenService('article store', config.articles.store.url, '/articles?limit=1', { env, name: 'ARTICLE_STORE_TOKEN', needed: false }),
    )),
  );
  results.push(
    ...(await timed('deposit API', () =>
      checkTokenService('deposit API', config.copies.depositUrl, '/api/deposit/depositions?size=1', { env, name: 'DEPOSIT_TOKEN', needed: true }),
    )),
  );
  results.push(...(await timed('destinations', () => checkDestinations(config, env))));

  results.push(...(await viaTemporal('workers', (t) => checkWorkers(t, config))));
  results.push(...(await timed('disk', () => checkDisk(config))));
  results.push(...checkNode(), ...checkSdk());
  results.push(...(await viaTemporal('temporal server', checkServerVersion)));

  await Promise.race([(temporal as Temporal | undefined)?.connection.close(), new Promise((r) => setTimeout(r, 1000).unref())]).catch(() => undefined);
  return results;
}

/**
 * One line per check: its state, its name, what was found. A finding too long for 80 columns goes
 * on below, under where it started, rather than being cut: the path or cause at its end is what the
 * operator needs.
 */
export function formatDoctor(results: CheckResult[]): string[] {
  // Names align up to a point: a long destination queue name must not push every finding aside.
  const width = Math.min(20, Math.max(...results.map((r) => r.check.length)));
  return results.flatMap((r) => {
    const head = `${r.state.padEnd(4)}  ${printable(r.check).padEnd(width)}  `;
    // A name too long to leave room beside it has its finding on the lines below.
    const at = head.length <= 50 ? head.length : 8;
    const body = wrap(printable(r.found), COLUMNS - at).map((l, i) => (i ? `${' '.repeat(at - 4)}${l}` : l));
    return at === head.length ? [`${head}${body[0]}`, ...body.slice(1)] : [fit(head.trimEnd()), `${' '.repeat(at)}${body[0]}`, ...body.slice(1)];
  });
}

export const doctorFailed = (results: CheckResult[]): boolean => results.some((r) => r.state === 'FAIL');
