// BENCH=orchestration npm run bench: N small objects through all five preservation stages on the
// dev server (custody's workers in 1 and 2 processes, the scheduled poller delivering verdicts)
// against (a) the engine's floor — bench/floor's bare workflow with the same number of activity
// tasks and one signal each, in as many processes, on the same server — and (b) the same activity
// functions called in a plain loop without Temporal, with the same slots per stage. Contenders
// are interleaved round by round. BENCH_OBJECTS (1000), BENCH_OBJECT_KIB (1), BENCH_RUNS (1),
// BENCH_WORKERS (1,2), BENCH_CONTENDERS (custody,floor,floor+upserts,plain: floor+upserts is the
// floor with custody's search-attribute upserts, what visibility alone costs); BENCH_PROFILE=1
// writes a CPU profile of the first custody worker and prints its top entries. Each contender's line is followed by where the machine's CPU went.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import type { Client } from '@temporalio/client';
import { REPO_ROOT } from '../config/config';
import { TASK_QUEUES, preserveWorkflowId, type Stage } from '../common/preservation';
import { createActivities } from '../activities';
import { openParts } from '../activities/parts';
import { ENQUEUE_CONCURRENCY, enqueue } from '../starters/enqueue';
import { createSchedules } from '../starters/schedules';
import { forEachConcurrently } from '../common/concurrently';
import { startCustodySystem, type CustodySystem } from '../test/support/custody-system';
import { removeTemporalState, stopTemporalServer, testTemporal } from '../test/support/temporal-server';
import { summarizeProfile } from './cpu-profile';
import { describeCpu, findProcess, startCpuMeter } from './cpu-meter';
import { BENCH } from './bench-objects';

const N = Number(process.env.BENCH_OBJECTS ?? 1000);
const KIB = Number(process.env.BENCH_OBJECT_KIB ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const WORKERS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const PROFILE = process.env.BENCH_PROFILE === '1';
const CONTENDER_NAMES = ['custody', 'floor', 'floor+upserts', 'plain'];
const CONTENDERS = new Set((process.env.BENCH_CONTENDERS ?? CONTENDER_NAMES.join(',')).split(','));
for (const c of CONTENDERS)
  if (!CONTENDER_NAMES.includes(c)) throw new Error(`BENCH_CONTENDERS: unknown contender "${c}" (known: ${CONTENDER_NAMES.join(', ')})`);
const FLOOR_QUEUE = 'bench-floor';
const TARGET_FLOOR = 1.3;
const TARGET_PLAIN = 1.25;

function writeObjects(sys: CustodySystem, prefix: string): string[] {
  const ids = Array.from({ length: N }, (_, i) => `${prefix}${String(i + 1).padStart(5, '0')}`);
  for (const id of ids) {
    const dir = path.join(sys.sourceDir, id);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'object.json'), JSON.stringify({ id, title: `Bench ${id}`, modifiedAt: '2024-01-01T00:00:00Z' }));
    fs.writeFileSync(
      path.join(dir, 'data.txt'),
      crypto
        .randomBytes(Math.ceil((KIB * 1024) / 2))
        .toString('hex')
        .slice(0, KIB * 1024),
    );
  }
  return ids;
}

/** Waits until every child polls the queue: timing starts with the workers ready, as in production. */
async function pollingBy(client: Client, taskQueue: string, children: ChildProcess[]): Promise<void> {
  for (const end = Date.now() + 120_000; ;) {
    const { pollers } = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    const ids = (pollers ?? []).map((p) => p.identity ?? '');
    if (children.every((c) => ids.some((id) => id.includes(`@${c.pid}@`) || id.startsWith(`${c.pid}@`)))) return;
    if (Date.now() > end) throw new Error(`workers not polling ${taskQueue} within 2 minutes`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null) return resolve();
          c.once('exit', () => resolve());
          c.kill('SIGTERM');
        }),
    ),
  );
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

async function runCustody(sys: CustodySystem, configFile: string, round: string, workers: number, profileDir?: string): Promise<{ s: number; shape: Shape }> {
  const ids = writeObjects(sys, `c${round}w${workers}-`);
  const env = { ...process.env, CUSTODY_CONFIG: configFile, TEMPORAL_ADDRESS: testTemporal.address, TEMPORAL_NAMESPACE: testTemporal.namespace };
  const children = Array.from({ length: workers }, (_, i) =>
    spawn(
      process.execPath,
      [...(profileDir && i === 0 ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), path.join(REPO_ROOT, 'bin', 'custody.js'), 'worker'],
      {
        env,
        stdio: 'ignore',
      },
    ),
  );
  try {
    await pollingBy(sys.client, TASK_QUEUES.io, children);
    const t0 = performance.now();
    const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });
    if (outcomes.some((o) => o.action !== 'started')) throw new Error(`not all started: ${JSON.stringify(outcomes.find((o) => o.action !== 'started'))}`);
    const results = await Promise.all(ids.map((id) => sys.client.workflow.getHandle(preserveWorkflowId(id)).result() as Promise<{ stage: string }>));
    const s = seconds(t0);
    const notConfirmed = results.filter((r) => r.stage !== 'confirmed').length;
    if (notConfirmed) throw new Error(`${notConfirmed} objects not confirmed`);
    const history = await sys.client.workflow.getHandle(preserveWorkflowId(ids[0])).fetchHistory();
    const events = history.events ?? [];
    const shape = {
      activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
      upserts: events.filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length,
    };
    return { s, shape };
  } finally {
    await stop(children);
  }
}

/** What one custody workflow asks of the server, which the floor copies. */
interface Shape {
  activities: number;
  upserts: number;
}

async function runFloor(sys: CustodySystem, round: string, workers: number, activities: number, upserts = 0): Promise<number> {
  const slots = Object.values(sys.config.worker.slots).reduce((a, b) => a + b, 0);
  const children = Array.from({ length: workers }, () =>
    spawn(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(__dirname, 'floor', 'bare-worker.ts'), testTemporal.address, testTemporal.namespace, FLOOR_QUEUE, String(slots)],
      {
        stdio: 'ignore',
      },
    ),
  );
  try {
    await pollingBy(sys.client, FLOOR_QUEUE, children);
    const ids = Array.from({ length: N }, (_, i) => `floor-${upserts ? 'u' : ''}${round}w${workers}-${i}`);
    const t0 = performance.now();
    const handles: Array<Promise<unknown>> = [];
    // Started as custody enqueue starts: ENQUEUE_CONCURRENCY at a time.
    await forEachConcurrently(ids, ENQUEUE_CONCURRENCY, async (workflowId) => {
      const handle = await sys.client.workflow.start('bareObject', { workflowId, taskQueue: FLOOR_QUEUE, args: [activities, upserts] });
      handles.push(handle.result());
    });
    await Promise.all(handles);
    return seconds(t0);
  } finally {
    await stop(children);
  }
}

/** Custody's own activity functions, each object's steps one after another, the stages' slots shared as a worker's are. */
async function runPlain(sys: CustodySystem, round: string, workers: number): Promise<number> {
  const ids = writeObjects(sys, `p${round}w${workers}-`);
  const parts = await openParts(sys.config);
  const acts = createActivities(parts);
  const env = new MockActivityEnvironment();
  const slots = sys.config.worker.slots;
  const lanes = Object.fromEntries(Object.entries(slots).map(([role, n]) => [role, limiter(n * workers)])) as Record<keyof typeof slots, Limiter>;
  const spent = new Map<string, number>();
  const run = <A extends unknown[], R>(role: keyof typeof slots, fn: (...a: A) => Promise<R>, ...args: A): Promise<R> =>
    lanes[role](async () => {
      const t = performance.now();
      try {
        return await env.run(fn, ...args);
      } finally {
        spent.set(fn.name || role, (spent.get(fn.name || role) ?? 0) + performance.now() - t);
      }
    });
  let key = 0;
  // As preserveObject hands them over: each step records the stage it starts, submit and confirm the one they end in.
  const stage = (name: Stage, sipId: string) => ({ stage: name, sipId, key: `plain:${key++}:${name}` });
  const entry = (name: Stage, sipId: string) => ({ ...stage(name, sipId), at: new Date().toISOString() });
  try {
    const t0 = performance.now();
    await forEachConcurrently(ids, ids.length, async (objectId) => {
      const sipId = `${objectId}.a1.${crypto.randomUUID().slice(0, 8)}`;
      await run('io', acts.checkObject, { objectId, stage: entry('queued', sipId) });
      const downloaded = await run('download', acts.downloadObject, { objectId, sipId, stage: entry('downloading', sipId) });
      const sip = await run('package', acts.createSip, { objectId, sipId, attempt: 1, workPrefix: downloaded.workPrefix, stage: entry('packaging', sipId) });
      await run('submit', acts.submitSip, {
        objectId,
        sipId,
        tarKey: sip.tarKey,
        size: sip.tarSize,
        sha256: sip.tarSha256,
        stage: entry('submitting', sipId),
        then: stage('awaiting-verdict', sipId),
      });
      let verdict = null;
      // The service's verdict, asked as often as the service looks at its transfer folder.
      while (!(verdict = await run('io', acts.checkVerdict, { sipId }))) await new Promise((r) => setTimeout(r, 200));
      await run('io', acts.confirmOutcome, {
        objectId,
        sipId,
        workPrefix: downloaded.workPrefix,
        verdict,
        stage: entry('confirming', sipId),
        then: stage('confirmed', sipId),
      });
    });
    const s = seconds(t0);
    if (process.env.BENCH_VERBOSE)
      console.log(`    plain loop, seconds in each activity: ${[...spent].map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`).join(', ')}`);
    return s;
  } finally {
    await parts.ledger.close();
  }
}

type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;
function limiter(n: number): Limiter {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r));
    else active++;
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const sys = await startCustodySystem({
    inProcessWorkers: false,
    // The poller delivers the verdicts; an object's own poll is the fallback after 30 s.
    config: { verdict: { pollAfter: '30s', deadline: '14d' }, schedules: { syncProcessedSips: { every: '2s', catchupWindow: '1m' } } },
  });
  try {
    await createSchedules(sys.client, sys.config);
    const configFile = sys.writeWorkerConfig('bench');
    if (PROFILE) fs.mkdirSync(BENCH, { recursive: true });
    const profileDir = PROFILE ? fs.mkdtempSync(path.join(BENCH, 'cpu-prof-')) : undefined;
    console.log(`orchestration: ${N} objects of ${KIB} KiB, ${RUNS} round(s), worker processes ${WORKERS.join(' and ')}; ${new Date().toISOString()}`);
    const figures: Record<string, number[]> = {};
    const add = (k: string, v: number) => (figures[k] ??= []).push(v);
    // Without a custody run in the same process, the floor copies the shape custody's workflow had
    // when this was written (BENCHMARKS.md: 5 activity tasks, 8 upserts per object: 7 stages and
    // the SDK's TemporalChangeVersion).
    let shape: Shape = { activities: 5, upserts: 8 };
    const serverPid = findProcess('start-dev', `--port ${testTemporal.address.split(':').pop()} `);
    const cpuOf = async <T>(run: () => Promise<T>): Promise<[T, string]> => {
      const spent = startCpuMeter(serverPid);
      const result = await run();
      return [result, describeCpu(spent())];
    };
    const report = (r: number, w: number, name: string, s: number, cpu: string, extra = '') => {
      console.log(`  round ${r + 1}, ${w} worker(s): ${name.padEnd(14)} ${s.toFixed(1)} s${extra}`);
      console.log(`    ${cpu}`);
      add(`${name} ${w}`, s);
    };
    for (let r = 0; r < RUNS; r++) {
      for (const w of WORKERS) {
        if (CONTENDERS.has('custody')) {
          const [custody, cpu] = await cpuOf(() => runCustody(sys, configFile, String(r), w, r === 0 && w === WORKERS[0] ? profileDir : undefined));
          shape = custody.shape;
          report(r, w, 'custody', custody.s, cpu, ` (${shape.activities} activity tasks, ${shape.upserts} search-attribute upserts per object)`);
        }
        if (CONTENDERS.has('floor')) {
          const [floor, cpu] = await cpuOf(() => runFloor(sys, String(r), w, shape.activities));
          report(r, w, 'floor', floor, cpu);
        }
        if (CONTENDERS.has('floor+upserts')) {
          const [floor, cpu] = await cpuOf(() => runFloor(sys, String(r), w, shape.activities, shape.upserts));
          report(r, w, 'floor+upserts', floor, cpu, ` (the floor with custody's ${shape.upserts} upserts per object)`);
        }
        if (CONTENDERS.has('plain')) {
          const [plain, cpu] = await cpuOf(() => runPlain(sys, String(r), w));
          report(r, w, 'plain loop', plain, cpu);
        }
      }
    }
    for (const w of WORKERS) {
      const m = (name: string) => (figures[`${name} ${w}`] ? median(figures[`${name} ${w}`]) : undefined);
      const [c, f, fu, p] = [m('custody'), m('floor'), m('floor+upserts'), m('plain loop')];
      const parts = [
        c !== undefined && `custody ${c.toFixed(1)} s`,
        f !== undefined && `floor ${f.toFixed(1)} s`,
        fu !== undefined && `floor+upserts ${fu.toFixed(1)} s`,
        p !== undefined && `plain loop ${p.toFixed(1)} s`,
        c !== undefined && f !== undefined && `custody/floor ${(c / f).toFixed(2)} (target ≤ ${TARGET_FLOOR})`,
        c !== undefined && p !== undefined && `custody/plain ${(c / p).toFixed(2)} (target ≤ ${TARGET_PLAIN})`,
        fu !== undefined && f !== undefined && `floor+upserts/floor ${(fu / f).toFixed(2)}`,
      ].filter(Boolean);
      console.log(`${w} worker process(es), median of ${RUNS}: ${parts.join(', ')}`);
    }
    if (profileDir) {
      const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (file)
        console.log(
          `CPU profile of the first custody worker (${path.join(profileDir, file)}), top by self time:\n${summarizeProfile(path.join(profileDir, file), 15)}`,
        );
    }
  } finally {
    await sys.close();
    await stopTemporalServer();
    removeTemporalState();
  }
}

// Ends when the figures are printed: the plain loop's MockActivityEnvironment and clients left
// the process waiting after a run (seen at the 1,000-object run), which would hold npm run bench.
main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
