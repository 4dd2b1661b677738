// `custody reconcile`: after a ledger was restored from a backup (or lost rows), compares it with
// what Temporal and the preservation service know, lists every disagreement with the fix it would
// apply, and applies them with --apply. Each fact has one source of truth: the preserve workflow
// says where an object is now, the service what it received and decided; the ledger must agree.
import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { SETTLED_STAGES, STAGES, preserveWorkflowId, stateQuery, type Stage } from '../common/preservation';
import { SA } from '../common/search-attributes';
import type { Verdict } from '../common/sip';
import type { Config } from '../config/config';
import type { Ledger, ObjectRow, PackageRow } from '../ledger';
import type { PreservationService, ServiceSubmission } from '../services/preservation-service';
import { joinKey, type Storage } from '../storage';
import { putBytes } from '../storage/small-objects';
import { signalVerdict } from '../activities/sync-processed-sips';
import { startPreservation } from './enqueue';
import { printable, wrap } from './printable';
import { forEachConcurrently } from '../common/concurrently';

export type DisagreementKind =
  'missing-object' | 'missing-package' | 'missing-verdict' | 'verdict-differs' | 'verdict-undelivered' | 'state' | 'frozen' | 'lost';

export interface Disagreement {
  /** The object id. */
  id: string;
  kind: DisagreementKind;
  sipId?: string;
  /** What the ledger says. */
  ledger: string;
  /** What Temporal or the preservation service says. */
  found: string;
  fix: string;
}

export interface ReconcileReport {
  disagreements: Disagreement[];
  compared: { objects: number; workflows: number; sips: number };
  /** Why the preservation service's side was not compared (it did not answer); the rest was. */
  serviceError?: string;
  /** With --apply: each fix that failed, with why; the re-check below lists what remains. */
  failed?: Array<Disagreement & { error: string }>;
  applied?: number;
  /** With --apply: objects whose lost workflow was started again (not checked again in this run). */
  restarted?: string[];
}

export interface ReconcileDeps {
  client: Client;
  ledger: Ledger;
  service: PreservationService;
  /** Where verdict reports are archived (storage.reports): a restored verdict gets its report there too. */
  reports: Storage;
  config: Config;
}

/** What a preserve workflow says of its object: from visibility, or (when `live`) from the workflow itself. */
interface WorkflowView {
  objectId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED… */
  status: string;
  stage: Stage;
  frozen: boolean;
  frozenReason?: string;
  frozenBy?: string;
  sipId?: string;
  attempt?: number;
  updatedAt?: string;
  lastError?: string;
  live: boolean;
}

interface Finding extends Disagreement {
  apply: () => Promise<void>;
}

/** `<objectId>.a<attempt>.<8 hex>`: how preserveObject names its SIPs. Others are not custody's. */
const SIP_ID = /^(.+)\.a(\d+)\.[0-9a-f]{8}$/;
const PRESERVE_PREFIX = preserveWorkflowId('');

/** Stages preserveObject's steps record as they start (see StageEntry): the ledger reaches them when a worker takes the step. */
const RECORDED_BY_THEIR_STEP: readonly Stage[] = ['queued', 'downloading', 'packaging', 'submitting', 'confirming'];
const isStage = (s: unknown): s is Stage => typeof s === 'string' && (STAGES as readonly string[]).includes(s);
const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const short = (sha: string) => `${sha.slice(0, 12)}…`;

/** A closed workflow that did not complete ended in failure, whatever stage its attributes last showed. */
function stageOfClosed(status: string, shown: Stage): { stage: Stage; error?: string } {
  if (status === 'COMPLETED') return { stage: shown };
  return { stage: 'failed', error: `workflow ${status.toLowerCase().replace(/_/g, ' ')} at stage ${shown}` };
}

function fromVisibility(objectId: string, wf: Pick<WorkflowExecutionInfo, 'status' | 'typedSearchAttributes'>): WorkflowView {
  const shown = wf.typedSearchAttributes.get(SA.stage);
  const stage: Stage = isStage(shown) ? shown : 'queued';
  const status = wf.status.name;
  const frozen = wf.typedSearchAttributes.get(SA.frozen) === true;
  if (status === 'RUNNING') return { objectId, status, stage, frozen, live: false };
  return { objectId, status, frozen: false, live: false, ...stageOfClosed(status, stage) };
}

/** The workflow's own answer (describe, then its state query); undefined when Temporal has no such workflow. */
async function liveView(client: Client, objectId: string, fallback?: WorkflowView): Promise<WorkflowView | undefined> {
  const handle = client.workflow.getHandle(preserveWorkflowId(objectId));
  let described: Pick<WorkflowExecutionInfo, 'status' | 'typedSearchAttributes'>;
  try {
    described = await handle.describe();
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return undefined;
    throw e;
  }
  const status = described.status.name;
  const base = fallback?.status === status ? fallback : fromVisibility(objectId, described);
  try {
    const s = await handle.query(stateQuery);
    const running = status === 'RUNNING';
    const closed = running ? { stage: s.stage } : stageOfClosed(status, s.stage);
    return {
      objectId,
      status,
      stage: closed.stage,
      frozen: running && (s.stage === 'frozen' || s.frozenReason !== undefined),
      frozenReason: s.frozenReason,
      frozenBy: s.frozenBy,
      sipId: s.sipId,
      attempt: s.attempt,
      updatedAt: s.updatedAt,
      lastError: closed.error ?? s.lastError,
      live: true,
    };
  } catch {
    // No worker to answer the query (a closed workflow is replayed to answer): its search attributes stand.
    return base;
  }
}

/** Every preserve workflow Temporal knows (the newest run per object), page by page through visibility. */
async function listWorkflows(client: Client, ids?: string[]): Promise<Map<string, WorkflowView>> {
  const query = [`CustodyPipeline = 'preservation'`, ...(ids ? [`CustodyObjectId IN (${ids.map(quote).join(', ')})`] : [])].join(' AND ');
  const newest = new Map<string, WorkflowExecutionInfo>();
  for await (const wf of client.workflow.list({ query })) {
    if (!wf.workflowId.startsWith(PRESERVE_PREFIX) || wf.status.name === 'CONTINUED_AS_NEW') continue;
    const id = wf.workflowId.slice(PRESERVE_PREFIX.length);
    const seen = newest.get(id);
    if (!seen || seen.startTime < wf.startTime) newest.set(id, wf);
  }
  return new Map([...newest].map(([id, wf]) => [id, fromVisibility(id, wf)]));
}

interface ServiceSip extends ServiceSubmission {
  objectId: string;
  attempt: number;
  verdict?: Verdict;
}

/** What the service received and decided, by object; SIPs custody did not name are left out. */
async function serviceSips(service: PreservationService, ids?: Set<string>): Promise<Map<string, ServiceSip[]>> {
  const [submissions, verdicts] = await Promise.all([service.submissions(), service.verdictsSince(new Date(0))]);
  // Oldest first: the last verdict of a SIP is its current one.
  const latest = new Map(verdicts.map((v) => [v.sipId, v]));
  const byObject = new Map<string, ServiceSip[]>();
  for (const s of submissions) {
    const m = SIP_ID.exec(s.sipId);
    if (!m || (ids && !ids.has(m[1]))) continue;
    const sip: ServiceSip = { ...s, objectId: m[1], attempt: Number(m[2]), verdict: latest.get(s.sipId) };
    byObject.set(
      sip.objectId,
      [...(byObject.get(sip.objectId) ?? []), sip].sort((a, b) => a.attempt - b.attempt),
    );
  }
  return byObject;
}

/** The SIP's sizes as its createSip step returned them, from the workflow's history (the latest run only). */
async function packageFromHistory(
  client: Client,
  objectId: string,
  sipId: string,
): Promise<{ size: number; payloadBytes: number; payloadFiles: number } | undefined> {
  let events;
  try {
    events = (await client.workflow.getHandle(preserveWorkflowId(objectId)).fetchHistory()).events ?? [];
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return undefined;
    throw e;
  }
  for (const e of events) {
    const payload = e.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
    if (!payload) continue;
    const r = defaultPayloadConverter.fromPayload(payload as Payload) as {
      sipId?: string;
      tarSize?: number;
      payloadBytes?: number;
      payloadFiles?: number;
    } | null;
    if (r?.sipId === sipId && typeof r.tarSize === 'number') return { size: r.tarSize, payloadBytes: r.payloadBytes ?? 0, payloadFiles: r.payloadFiles ?? 0 };
  }
  return undefined;
}

const describeWorkflow = (wf: WorkflowView) =>
  `workflow ${wf.status === 'RUNNING' ? 'running' : `closed (${wf.status.toLowerCase().replace(/_/g, ' ')})`}, ${wf.stage}${wf.frozen && wf.stage !== 'frozen' ? ', frozen' : ''}`;

/** The state an object with no workflow left gets from what the service decided of its latest SIP. */
function stateFromService(sip: ServiceSip): Stage {
  if (sip.verdict) return sip.verdict.status === 'accepted' ? 'confirmed' : 'rejected';
  // Received but undecided, and nothing waits for the verdict: `custody reenqueue` asks again.
  return 'no-verdict';
}

interface Snapshot {
  rows: Map<string, ObjectRow>;
  workflows: Map<string, WorkflowView>;
  sips: Map<string, ServiceSip[]>;
  packages: Map<string, PackageRow>;
  /** SIPs whose verdict the poller (or reconcile) already signalled to their workflow. */
  signalled: Set<string>;
}

/** The ledger's rows of one object read again. */
async function rereadLedger(ledger: Ledger, snap: Snapshot, id: string): Promise<void> {
  const row = await ledger.getObject(id);
  if (row) snap.rows.set(id, row);
  else snap.rows.delete(id);
  const sipIds = (snap.sips.get(id) ?? []).map((s) => s.sipId);
  for (const p of await ledger.packagesById(sipIds)) snap.packages.set(p.sipId, p);
  for (const d of await ledger.verdictDeliveryOf(sipIds)) if (d.delivered) snap.signalled.add(d.sipId);
}

/** Every disagreement about one object, each with the fix that makes the ledger agree. */
function compare(deps: ReconcileDeps, snap: Snapshot, id: string, by: string): Finding[] {
  const { ledger } = deps;
  const row = snap.rows.get(id);
  const wf = snap.workflows.get(id);
  const sips = snap.sips.get(id) ?? [];
  const out: Finding[] = [];
  const now = () => new Date().toISOString();
  /** Records the fix as a 'reconciled' event: the key names the fact it fixed, so a second --apply adds nothing. */
  const noted = (d: Disagreement, fact: string, act: () => Promise<void>): Finding => ({
    ...d,
    apply: async () => {
      await act();
      await ledger.recordEvent({
        key: `reconcile:${id}:${d.kind}:${fact}`,
        objectId: id,
        sipId: d.sipId,
        kind: 'reconciled',
        detail: { by, what: d.kind, ledger: d.ledger, found: d.found, fix: d.fix },
        at: now(),
      });
    },
  });

  if (!row && (wf || sips.length)) {
    const latest = sips.at(-1);
    const state = wf ? wf.stage : stateFromService(latest!);
    const sipId = wf?.sipId ?? latest?.sipId;
    const found = wf ? describeWorkflow(wf) : `service has SIP ${latest!.sipId}${latest!.verdict ? ` (${latest!.verdict.status})` : ''}, no workflow`;
    const d: Disagreement = {
      id,
      kind: 'missing-object',
      ledger: 'no object row',
      found,
      fix: `insert the object, state ${state}${wf?.frozen ? ', frozen' : ''}`,
    };
    out.push(
      noted(d, state, async () => {
        const at = wf?.updatedAt ?? now();
        await ledger.setState(id, state, { key: `reconcile:${id}:object:${state}`, at, sipId, error: wf?.lastError });
        if (wf?.frozen)
          await ledger.setFrozen(id, { reason: wf.frozenReason ?? 'frozen in Temporal', by: wf.frozenBy }, { key: `reconcile:${id}:object:frozen`, at });
      }),
    );
  } else if (row && wf) {
    // While a workflow runs, a stage with no work is written to the ledger first (a ledger newer
    // than the workflow's stage is a step in transit), and a stage with work is written by its step
    // when that starts (a workflow showing one the ledger has not reached waits for a worker).
    const inTransit =
      wf.status === 'RUNNING' &&
      ((wf.updatedAt !== undefined && row.updatedAt > wf.updatedAt) || (RECORDED_BY_THEIR_STEP.includes(wf.stage) && row.state !== wf.stage));
    if (row.state !== wf.stage && !inTransit) {
      const d: Disagreement = { id, kind: 'state', ledger: row.state, found: describeWorkflow(wf), fix: `set the state to ${wf.stage}` };
      const fact = `${wf.stage}:${wf.updatedAt ?? wf.status}`;
      out.push(
        noted(d, fact, () =>
          ledger.setState(id, wf.stage, { key: `reconcile:${id}:state:${fact}`, at: wf.updatedAt ?? now(), sipId: wf.sipId, error: wf.lastError }),
        ),
      );
    }
    if (wf.status === 'RUNNING' && row.frozen !== wf.frozen && !inTransit) {
      const d: Disagreement = {
        id,
        kind: 'frozen',
        ledger: row.frozen ? `frozen (${row.frozenReason ?? ''})` : 'not frozen',
        found: describeWorkflow(wf),
        fix: wf.frozen ? 'freeze it in the ledger' : 'unfreeze it in the ledger',
      };
      const fact = `${wf.frozen}:${wf.updatedAt ?? ''}`;
      const freeze = wf.frozen ? { reason: wf.frozenReason ?? 'frozen in Temporal', by: wf.frozenBy } : null;
      out.push(noted(d, fact, () => ledger.setFrozen(id, freeze, { key: `reconcile:${id}:frozen:${fact}`, at: wf.updatedAt ?? now() })));
    }
  } else if (row && !row.frozen && !SETTLED_STAGES.includes(row.state)) {
    // A frozen row without a workflow was frozen before it was enqueued: nothing was lost.
    const attempt = Number(SIP_ID.exec(row.lastSipId ?? '')?.[2] ?? 0) + 1;
    const d: Disagreement = {
      id,
      kind: 'lost',
      ledger: `${row.state} (in progress)`,
      found: 'no workflow in Temporal',
      fix: `re-enqueue: start ${preserveWorkflowId(id)}, attempt ${attempt}`,
    };
    out.push(
      noted(d, `${row.state}:${row.updatedAt}`, async () => {
        await startPreservation({ client: deps.client, config: deps.config, ledger }, { objectId: id, attempt, reason: 'reconcile' });
      }),
    );
  }

  const finalState = wf?.stage ?? row?.state ?? (sips.length ? stateFromService(sips.at(-1)!) : undefined);
  for (const sip of sips) {
    const pkg = snap.packages.get(sip.sipId);
    if (!pkg) {
      const d: Disagreement = {
        id,
        kind: 'missing-package',
        sipId: sip.sipId,
        ledger: `no package ${sip.sipId}`,
        found: `service received it (sha256 ${short(sip.sha256)})`,
        fix: 'record the package',
      };
      out.push(
        noted(d, sip.sipId, async () => {
          const sizes =
            (await packageFromHistory(deps.client, id, sip.sipId)) ??
            (sip.size !== undefined ? { size: sip.size, payloadBytes: 0, payloadFiles: 0 } : undefined);
          if (!sizes) throw new Error(`the size of SIP ${sip.sipId} is known neither to its workflow's history nor to the service`);
          await ledger.recordPackage({ sipId: sip.sipId, objectId: id, attempt: sip.attempt, sha256: sip.sha256, createdAt: sip.firstReceivedAt, ...sizes });
        }),
      );
    }
    const v = sip.verdict;
    if (!v || pkg?.verdict === v.status) continue;
    const current = wf?.status === 'RUNNING' && wf.sipId === sip.sipId;
    // Confirming: the workflow is recording this verdict right now.
    if (current && wf.stage === 'confirming') continue;
    if (current && wf.stage === 'awaiting-verdict') {
      if (snap.signalled.has(sip.sipId)) continue;
      const d: Disagreement = {
        id,
        kind: 'verdict-undelivered',
        sipId: sip.sipId,
        ledger: 'no verdict yet',
        found: `service: ${v.status} at ${v.decidedAt}; workflow awaits it`,
        fix: `signal the verdict to ${preserveWorkflowId(id)} (as the sync-processed-sips poller does)`,
      };
      out.push(
        noted(d, sip.sipId, async () => {
          await signalVerdict(deps.client.workflow, ledger, id, v);
        }),
      );
      continue;
    }
    const preserved = v.status === 'accepted' && sip === sips.at(-1) && finalState === 'confirmed';
    const d: Disagreement = {
      id,
      kind: pkg?.verdict ? 'verdict-differs' : 'missing-verdict',
      sipId: sip.sipId,
      ledger: pkg?.verdict ? `verdict ${pkg.verdict}` : 'no verdict',
      found: `service: ${v.status} at ${v.decidedAt}`,
      fix: `record the service's verdict${preserved ? ' and mark the object preserved' : ''}`,
    };
    out.push(
      noted(d, `${sip.sipId}:${v.status}:${v.decidedAt}`, async () => {
        const key = joinKey(id, `${sip.sipId}.xml`);
        // The report is archived as confirmOutcome archives it, unless it is still there from before.
        if (!(await deps.reports.head(key))) await putBytes(deps.reports, key, Buffer.from(await deps.service.report(sip.sipId), 'utf8'));
        await ledger.recordVerdict({ sipId: sip.sipId, status: v.status, decidedAt: v.decidedAt, reasons: v.reasons, reportPath: deps.reports.urlOf(key) });
        if (preserved) await ledger.markPreserved(id, sip.sipId, now());
      }),
    );
  }
  return out;
}

/** Workflows asked at once: enough to hide each round trip on a big archive, few enough not to load the server. */
const ASK_CONCURRENCY = 16;

const ORDER: DisagreementKind[] = ['missing-object', 'state', 'frozen', 'missing-package', 'missing-verdict', 'verdict-differs', 'verdict-undelivered', 'lost'];

/** One pass: gathers the three sides (in bulk), compares them, and asks each disagreeing workflow itself before believing visibility. */
async function check(
  deps: ReconcileDeps,
  opts: { ids?: string[] },
  by: string,
): Promise<{ findings: Finding[]; report: Omit<ReconcileReport, 'disagreements'> }> {
  const { client, ledger, service } = deps;
  const ids = opts.ids ? new Set(opts.ids) : undefined;
  const rows = new Map((await ledger.listObjects(opts.ids ? { ids: opts.ids } : undefined)).map((r) => [r.id, r]));
  const workflows = await listWorkflows(client, opts.ids);
  let sips = new Map<string, ServiceSip[]>();
  let serviceError: string | undefined;
  try {
    sips = await serviceSips(service, ids);
  } catch (e) {
    serviceError = `preservation service ${deps.config.service.url} did not answer (${(e as Error).message.split('\n')[0]}): packages and verdicts were not compared`;
  }
  const sipIds = [...sips.values()].flat().map((s) => s.sipId);
  const packages = new Map((await ledger.packagesById(sipIds)).map((p) => [p.sipId, p]));
  const signalled = new Set((await ledger.verdictDeliveryOf(sipIds)).filter((d) => d.delivered).map((d) => d.sipId));
  const snap: Snapshot = { rows, workflows, sips, packages, signalled };
  const all = [...new Set([...rows.keys(), ...workflows.keys(), ...sips.keys()])].sort();

  const findings: Finding[] = [];
  const doubtful: string[] = [];
  for (const id of all) {
    const found = compare(deps, snap, id, by);
    // Visibility lags and lacks SIP ids: each object it shows disagreeing is asked directly.
    if (found.some((f) => f.kind !== 'missing-package')) doubtful.push(id);
    else findings.push(...found);
  }
  await forEachConcurrently(doubtful, ASK_CONCURRENCY, async (id) => {
    const live = await liveView(client, id, workflows.get(id));
    if (live) workflows.set(id, live);
    else workflows.delete(id);
    // Read after the workflow answered: a step it took since the first read is in the ledger too.
    await rereadLedger(ledger, snap, id);
    findings.push(...compare(deps, snap, id, by));
  });
  findings.sort((a, b) => a.id.localeCompare(b.id) || ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  const compared = { objects: rows.size, workflows: workflows.size, sips: sipIds.length };
  return { findings, report: { compared, ...(serviceError ? { serviceError } : {}) } };
}

const plain = ({ apply: _apply, ...d }: Finding): Disagreement => d;

/** Lists every disagreement; with `apply`, fixes each (in order, per object), then checks again and reports what remains. */
export async function reconcile(deps: ReconcileDeps, opts: { ids?: string[]; apply?: boolean; by: string }): Promise<ReconcileReport> {
  const first = await check(deps, opts, opts.by);
  if (!opts.apply || first.findings.length === 0) return { disagreements: first.findings.map(plain), ...first.report };
  const failed: Array<Disagreement & { error: string }> = [];
  const restarted: string[] = [];
  let applied = 0;
  for (const f of first.findings) {
    try {
      await f.apply();
      applied++;
      if (f.kind === 'lost') restarted.push(f.id);
    } catch (e) {
      failed.push({ ...plain(f), error: (e as Error).message.split('\n')[0] });
    }
  }
  // A workflow just started has not recorded its first stage yet: the ledger is its own from now on.
  const again = await check(deps, opts, opts.by);
  const remaining = again.findings.filter((f) => !restarted.includes(f.id));
  return { disagreements: remaining.map(plain), ...again.report, applied, failed, restarted };
}

/** One line per disagreement: id, what the ledger says, what Temporal or the service says, the fix. */
export function formatReconcile(r: ReconcileReport, opts: { applied?: boolean } = {}): string[] {
  const lines: string[] = [];
  const line = (d: Disagreement) => `${d.id}  ${d.ledger}  ${d.found}  fix: ${d.fix}`;
  if (r.applied !== undefined) {
    lines.push(`applied ${r.applied} fix${r.applied === 1 ? '' : 'es'}`);
    for (const f of r.failed ?? []) lines.push(`FAILED ${line(f)}: ${f.error}`);
    for (const id of r.restarted ?? []) lines.push(`${id}: started again as ${preserveWorkflowId(id)}; its workflow records its state from now on`);
  }
  const remaining = r.disagreements;
  if (remaining.length) {
    if (r.applied !== undefined) lines.push('still disagreeing after the fixes:');
    lines.push(...remaining.map(line));
  }
  const { objects, workflows, sips } = r.compared;
  const what = `${objects} ledger objects, ${workflows} workflows, ${r.serviceError ? 'no' : sips} service SIPs compared`;
  if (!remaining.length)
    lines.push(
      `${opts.applied ? 'now the ledger agrees' : 'the ledger agrees'} with Temporal${r.serviceError ? '' : ' and the preservation service'} (${what})`,
    );
  else {
    const counts = ORDER.map((k) => [k, remaining.filter((d) => d.kind === k).length] as const).filter(([, n]) => n);
    lines.push(`${remaining.length} disagreement${remaining.length === 1 ? '' : 's'} (${counts.map(([k, n]) => `${n} ${k}`).join(', ')}; ${what})`);
  }
  return lines.flatMap((l) => wrap(printable(l)));
}
