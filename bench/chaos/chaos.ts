// The chaos run: a collection through the preservation pipeline, worked by worker processes,
// while faults chosen by a seeded plan land at random moments — a worker SIGKILLed and a new
// one started, the Temporal server stopped and started (state kept), the S3 server (working
// files and reports) stopped for a while, the reference service stopped for a while, the same
// items enqueued again, items frozen and unfrozen, one drain and resume. Then the end checks,
// from the ledger, the service and Temporal: what became of every item, what was submitted
// more than once, whether every received package still hashes to what the ledger recorded, and
// whether a secret shows in any workflow history or worker log.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { SETTLED_STAGES, preserveWorkflowId } from '../../common/preservation';
import { REPO_ROOT } from '../../config/config';
import type { ObjectRow } from '../../ledger';
import { DEFAULT_ACCEPTED_FORMATS } from '../../reference-service/validate-sip';
import { drain, drainRound, resume } from '../../starters/drain';
import { enqueue } from '../../starters/enqueue';
import { freeze, unfreeze } from '../../starters/operator';
import { startCustodySystem, type CustodySystem } from '../../test/support/custody-system';
import { S3_ACCESS_KEY, S3_SECRET_KEY, pauseTestS3, startTestS3 } from '../../test/support/s3-server';
import { submissions } from '../../test/support/service-api';
import { restartTemporalServer } from '../../test/support/temporal-server';
import { writeChaosCollection, type ChaosObject } from './collection';
import { ARTICLE_STORE_TOKEN, startChaosArticles } from './articles';
import { DEPOSIT_TOKEN, startChaosCopies, type ChaosCopies } from './copies';
import { seededRandom, type Random } from './random';

export const FAULT_KINDS = [
  'kill-worker',
  'restart-temporal',
  'stop-s3',
  'stop-service',
  'fail-deposit-api',
  'fail-article-store',
  'enqueue-again',
  'freeze',
  'drain',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ChaosOptions {
  seed: number;
  objects: number;
  /** The largest extra file an object gets (a tenth of the objects get this size). */
  maxExtraBytes?: number;
  workers?: number;
  /** Pause between faults, in ms. */
  gapMs?: [number, number];
  /** How long an outage lasts, in ms: short enough that the retry policy outlasts it. */
  outageMs?: [number, number];
  /** The run gives up waiting for items to settle after this long. */
  timeoutMs?: number;
  say?: (line: string) => void;
}

export interface ChaosResult {
  items: number;
  faults: Record<string, number>;
  outcomes: Record<string, number>;
  /** Items that did not end as expected: confirmed, rejected and waiting, or frozen with a reason. */
  lost: string[];
  /** Work done twice: a SIP submitted again, an object confirmed twice, a second accepted package. */
  duplicates: string[];
  fixityFailures: string[];
  secretsFound: string[];
  wallMs: number;
  seed: number;
  line: string;
  /** What the harness did, a line each, for a run to be read back. */
  log: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BY = 'chaos harness';
const FROZEN_BY_CHAOS = 'chaos: frozen by the harness';
/** How long an operator command of the harness may take: a freeze waits for the object's next checkpoint, after a step of minutes at most. */
const OPERATOR_ANSWER_MS = 5 * 60_000;

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const log: string[] = [];
  const say = (line: string) => {
    log.push(line);
    o.say?.(line);
  };
  const random = seededRandom(o.seed);
  const [gapLo, gapHi] = o.gapMs ?? [1500, 5000];
  const [outLo, outHi] = o.outageMs ?? [2000, 6000];
  const faults: Record<string, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0]));

  const s3 = await startTestS3();
  const bucket = async (label: string) => `s3://${await s3.bucket(label)}/custody`;
  const sys: CustodySystem = await startCustodySystem({
    inProcessWorkers: false,
    config: {
      storage: { work: await bucket('chaos-work'), reports: await bucket('chaos-reports'), s3: { ...s3.options, partSize: 5 * 1024 * 1024 } },
      // The GIF passes custody so the service can reject it; a format on no list is frozen before packaging.
      sip: { acceptedFormats: [...DEFAULT_ACCEPTED_FORMATS, 'image/gif'] },
      verdict: { pollAfter: '1s', deadline: '14d' },
      // Retries that outlast every outage the plan makes (a few seconds), so a fault delays, never fails.
      retry: Object.fromEntries(
        ['download', 'package', 'submit', 'io'].map((q) => [
          q,
          { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '2s', maximumAttempts: 0, nonRetryableErrorTypes: [] },
        ]),
      ),
    },
  });
  const logs = path.join(sys.root, 'logs');
  fs.mkdirSync(logs);
  const copies: ChaosCopies = await startChaosCopies(sys, random, Math.max(2, Math.ceil(o.objects / 15))).catch(async (e: unknown) => {
    await sys.close();
    throw e;
  });
  const articles = await startChaosArticles(sys, say);
  const configFile = sys.writeWorkerConfig('chaos-worker');
  // The worker processes copy and publish too: they take those settings from their config file.
  fs.writeFileSync(
    configFile,
    JSON.stringify({ ...JSON.parse(fs.readFileSync(configFile, 'utf8')), copies: sys.config.copies, articles: sys.config.articles }),
  );
  const workers: ChildProcess[] = [];
  let workerCount = 0;
  function startWorker(): void {
    const log = fs.openSync(path.join(logs, `worker-${++workerCount}.log`), 'a');
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'], {
      env: { ...process.env, CUSTODY_CONFIG: configFile },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    workers.push(child);
  }
  const alive = () => workers.filter((w) => w.exitCode === null && w.signalCode === null);
  // A run stopped from outside (Ctrl-C: run.ts exits) must not leave its workers behind.
  const killWorkers = () => {
    for (const w of alive()) w.kill('SIGKILL');
  };
  process.once('exit', killWorkers);

  try {
    const objects = writeChaosCollection(sys.sourceDir, o.objects, random, o.maxExtraBytes ?? 256 * 1024);
    const ids = objects.map((x) => x.id);
    say(`seed ${o.seed}: ${objects.length} objects (${(objects.reduce((n, x) => n + x.bytes, 0) / 1024 ** 2).toFixed(1)} MiB) in ${sys.sourceDir}`);
    for (let i = 0; i < (o.workers ?? 2); i++) startWorker();
    const deps = { client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source };
    await enqueue(deps, { ids });
    await copies.send();

    const frozenByChaos = new Set<string>();
    /** Operator commands that never answered: each one is reported as lost. */
    const unanswered: string[] = [];
    const unfrozen = new Set<string>();
    /** What each freeze and unfreeze of the harness answered, for the report of an item that ended otherwise. */
    const operatorNotes = new Map<string, string[]>();
    const note = (id: string, line: string) => operatorNotes.set(id, [...(operatorNotes.get(id) ?? []), line]);
    let drained = false;
    // Each kind once, in a seeded order, then kinds at random (one drain in all).
    const plan: FaultKind[] = random.shuffle([...FAULT_KINDS]);
    const items = ids.length + copies.datasets.size + articles.count;
    // Just unfrozen, the ledger still says 'frozen' (without the flag) until the next stage starts: not settled.
    const objectSettled = (r: ObjectRow) => SETTLED_STAGES.includes(r.state) && (r.state !== 'frozen' || r.frozen);
    const settled = async () => (await sys.ledger.listObjects({ ids })).filter(objectSettled).length + (await copies.settled()) + (await articles.settled());
    const deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);

    async function inject(kind: FaultKind): Promise<string> {
      const outage = random.between(outLo, outHi);
      switch (kind) {
        case 'kill-worker': {
          const victim = random.pick(alive());
          victim.kill('SIGKILL');
          startWorker();
          return `SIGKILL worker pid ${victim.pid}, started a new one`;
        }
        case 'restart-temporal':
          await restartTemporalServer();
          return 'Temporal server stopped and started again';
        case 'stop-s3': {
          const restart = await pauseTestS3();
          await sleep(outage);
          await restart();
          return `S3 server down ${outage} ms`;
        }
        case 'stop-service':
          await sys.stopService();
          await sleep(outage);
          await sys.startService();
          return `reference service down ${outage} ms`;
        case 'fail-deposit-api': {
          const n = random.between(3, 12);
          await copies.fail(n);
          return `deposit API: the next ${n} requests answer 503, then one answer is lost`;
        }
        case 'fail-article-store': {
          const n = random.between(3, 12);
          await articles.fail(n);
          return `article store: the next ${n} requests answer 503, then one answer is lost`;
        }
        case 'enqueue-again': {
          const again = ids.filter(() => random.next() < 0.3);
          const outcomes = await enqueue(deps, { ids: again });
          const started = outcomes.filter((x) => x.action === 'started').length;
          await copies.send();
          await articles.feedAgain();
          return `enqueued ${again.length} again: ${started} started; every dataset version sent and every article package fed again`;
        }
        case 'freeze': {
          // Unfreeze half of those frozen earlier; freeze a few others still moving.
          const earlier = [...frozenByChaos].filter((id) => !unfrozen.has(id) && random.next() < 0.5);
          for (const id of earlier) {
            const r = await unfreeze(deps, id, BY);
            note(id, `unfreeze: ${r.ok ? '' : 'refused: '}${r.message}`);
            if (r.ok) unfrozen.add(id);
          }
          const moving = (await sys.ledger.listObjects({ ids })).filter((r) => !SETTLED_STAGES.includes(r.state) && !frozenByChaos.has(r.id));
          const chosen = random.shuffle(moving.map((r) => r.id)).slice(0, 3);
          // At once: each freeze's answer waits for its workflow's next checkpoint. One that never
          // comes is a finding, not a reason for the run to wait forever.
          await Promise.all(
            chosen.map(async (id) => {
              const asked = freeze(deps, id, FROZEN_BY_CHAOS, BY);
              asked.catch(() => undefined);
              const r = await Promise.race([asked, sleep(OPERATOR_ANSWER_MS).then(() => undefined)]);
              if (!r) {
                unanswered.push(`${id}: custody freeze had no answer after ${OPERATOR_ANSWER_MS / 1000} s`);
                note(id, 'freeze: no answer');
                return;
              }
              note(id, `freeze: ${r.ok ? '' : 'refused: '}${r.message}`);
              // Frozen in the ledger only (its workflow had ended meanwhile): the object keeps its outcome.
              if (r.ok && !r.message.startsWith('not running')) frozenByChaos.add(id);
            }),
          );
          return `froze ${[...frozenByChaos].filter((id) => chosen.includes(id)).join(' ') || 'none'}; unfroze ${earlier.filter((id) => unfrozen.has(id)).join(' ') || 'none'}`;
        }
        case 'drain': {
          await drain(deps, { by: BY, reason: 'chaos drain' });
          await drainRound(sys.client, { by: BY, reason: 'chaos drain' }, new Set());
          await sleep(outage);
          const r = await resume(deps, { by: BY });
          drained = true;
          return `drained ${outage} ms; resumed ${r.signalled} workflow(s), started ${r.started.length} held`;
        }
      }
    }

    for (let round = 0; ; round++) {
      const done = await settled();
      if (done === items && round >= plan.length) break;
      if (Date.now() > deadline) break;
      await sleep(random.between(gapLo, gapHi));
      let kind = plan[round];
      if (!kind) {
        kind = random.pick(FAULT_KINDS.filter((k) => k !== 'drain' || !drained));
      }
      const what = await inject(kind);
      faults[kind] = (faults[kind] ?? 0) + 1;
      say(`[${((Date.now() - started) / 1000).toFixed(0)} s, ${done}/${items} settled] ${kind}: ${what}`);
    }
    // Those still frozen by the harness stay frozen (with its reason); the rest must finish.
    while ((await settled()) < items && Date.now() < deadline) await sleep(500);
    const expectations = new Map(
      objects.map((x): [string, ChaosObject] => [
        x.id,
        frozenByChaos.has(x.id) && !unfrozen.has(x.id) && x.expected === 'confirmed'
          ? { ...x, expected: 'frozen', reason: FROZEN_BY_CHAOS }
          : { ...x, note: operatorNotes.has(x.id) ? ` (harness: ${operatorNotes.get(x.id)!.join('; ')})` : undefined },
      ]),
    );
    const end = await endChecks(sys, expectations);
    end.lost.push(...unanswered);
    for (const more of [await copies.check(), await articles.check()]) {
      Object.assign(end.outcomes, more.outcomes);
      end.lost.push(...more.lost);
      end.duplicates.push(...more.duplicates);
    }
    const wallMs = Date.now() - started;
    const fmt = (r: Record<string, number>) =>
      Object.entries(r)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
    const line =
      `chaos: items ${items} (${ids.length} objects, ${copies.datasets.size} datasets, ${articles.count} articles) | faults ${fmt(faults)} | outcomes ${fmt(end.outcomes)} | lost ${end.lost.length} | ` +
      `duplicates ${end.duplicates.length} | fixity failures ${end.fixityFailures.length} | secrets ${end.secretsFound.length} | ` +
      `wall ${(wallMs / 1000).toFixed(1)} s | seed ${o.seed}`;
    return { items, faults, ...end, wallMs, seed: o.seed, line, log };
  } catch (e) {
    // Said before the clean-up: a call of the article steps still retrying on the closed connection can end the process there.
    say(`[${((Date.now() - started) / 1000).toFixed(0)} s] the run stopped: ${(e as Error).stack ?? String(e)}`);
    throw e;
  } finally {
    killWorkers();
    process.off('exit', killWorkers);
    articles.stop();
    await sys.close();
    await copies.close();
    await articles.close();
  }
}

async function endChecks(sys: CustodySystem, expected: Map<string, ChaosObject>) {
  const outcomes: Record<string, number> = {};
  const lost: string[] = [];
  const duplicates: string[] = [];
  const fixityFailures: string[] = [];
  const secretsFound: string[] = [];
  const subs = new Map((await submissions(sys)).map((s) => [s.sipId, s]));
  const received = path.join(sys.root, 'service', 'received');

  for (const [id, want] of expected) {
    const row = await sys.ledger.getObject(id);
    const state = row?.state ?? 'missing';
    outcomes[state] = (outcomes[state] ?? 0) + 1;
    let ok = state === want.expected;
    if (ok && state === 'frozen') ok = (row?.frozenReason ?? '').includes(want.reason ?? '');
    if (ok && state === 'confirmed') {
      // Confirmed, its workflow must end (one workflow task after the ledger's record); one still running a
      // minute later is stuck (a freeze it accepted after its last checkpoint, say).
      const handle = sys.client.workflow.getHandle(preserveWorkflowId(id));
      const until = Date.now() + 60_000;
      let status = (await handle.describe()).status.name;
      while (status === 'RUNNING' && Date.now() < until) {
        await sleep(500);
        status = (await handle.describe()).status.name;
      }
      if (status !== 'COMPLETED') lost.push(`${id}: confirmed, but its workflow is ${status}`);
    } else if (ok && state === 'rejected') {
      // Rejected and waiting: the workflow is still there for an operator's reenqueue.
      const status = (await sys.client.workflow.getHandle(preserveWorkflowId(id)).describe()).status.name;
      ok = status === 'RUNNING';
      if (!ok) lost.push(`${id}: rejected, but its workflow is ${status}`);
    } else if (!ok)
      lost.push(
        `${id}: ${state}${row?.frozenReason ? ` (${row.frozenReason})` : ''}${row?.lastError ? ` [${row.lastError}]` : ''}, expected ${want.expected}${want.note ?? ''}`,
      );

    const timeline = await sys.ledger.timeline(id);
    const confirmed = timeline.filter((e) => e.kind === 'stage' && e.stage === 'confirmed').length;
    if (confirmed > 1) duplicates.push(`${id}: confirmed ${confirmed} times`);
    const packages = await sys.ledger.packagesOf(id);
    const accepted = packages.filter((p) => p.verdict === 'accepted').length;
    if (accepted > 1) duplicates.push(`${id}: ${accepted} accepted packages`);
    for (const p of packages) {
      const sub = subs.get(p.sipId);
      if (sub && sub.count > 1) duplicates.push(`${id}: SIP ${p.sipId} submitted ${sub.count} times`);
      if (!sub) continue;
      const file = path.join(received, `${p.sipId}.tar`);
      const found = fs.existsSync(file) ? crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex') : 'missing';
      if (found !== p.sha256 || sub.sha256 !== p.sha256) fixityFailures.push(`${id}: ${p.sipId} ledger ${p.sha256}, service ${sub.sha256}, file ${found}`);
    }
  }

  const secrets = [S3_SECRET_KEY, S3_ACCESS_KEY, DEPOSIT_TOKEN, ARTICLE_STORE_TOKEN];
  for await (const wf of sys.client.workflow.list()) {
    const history = JSON.stringify(await sys.client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory());
    for (const s of secrets) if (history.includes(s)) secretsFound.push(`${wf.workflowId}: history holds ${s.slice(0, 6)}…`);
  }
  const logs = path.join(sys.root, 'logs');
  for (const f of fs.readdirSync(logs)) {
    const text = fs.readFileSync(path.join(logs, f), 'utf8');
    for (const s of secrets) if (text.includes(s)) secretsFound.push(`${f} holds ${s.slice(0, 6)}…`);
  }
  return { outcomes, lost, duplicates, fixityFailures, secretsFound };
}

export type { Random };
