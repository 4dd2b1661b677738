// The reference preservation service: SIPs arrive as `<sipId>.tar` in a transfer folder or
// bucket (the sender's storage makes a transfer appear only when complete), are validated in the background, and a PREMIS ingest
// report per decision is published through an HTTP API modelled on a national service's (v2).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { FileStorage, type Storage } from '../storage';
import { withDataFolder } from './http-service';
import { ingestReport } from './ingest-report';
import { ServiceState, latestDecision, statusOf, type Decision, type Submission } from './state';
import { DEFAULT_ACCEPTED_FORMATS, reasonsOf, validateSip, type CheckResult } from './validate-sip';

export interface ReferenceServiceOptions {
  port: number;
  dataDir: string;
  pollIntervalMs?: number;
  acceptedFormats?: string[];
  /** Where SIPs arrive: by default the folder `<dataDir>/transfer`; a bucket works the same way. */
  transfer?: Storage;
}

export interface RunningReferenceService {
  url: string;
  close(): Promise<void>;
}

const API = '/api/2.0/ingest';
const TAR = '.tar';

class BadRequest extends Error {}

export async function startReferenceService(opts: ReferenceServiceOptions): Promise<RunningReferenceService> {
  return await withDataFolder(opts.dataDir, (release) => serveDataFolder(opts, release));
}

/** The service on a data folder this process holds the lock of; `release` gives it up once closed. */
async function serveDataFolder(opts: ReferenceServiceOptions, release: () => void): Promise<RunningReferenceService> {
  const transfer = opts.transfer ?? new FileStorage(path.join(opts.dataDir, 'transfer'));
  const receivedDir = path.join(opts.dataDir, 'received');
  const reportsDir = path.join(opts.dataDir, 'reports');
  for (const d of [receivedDir, reportsDir]) fs.mkdirSync(d, { recursive: true });
  if (transfer instanceof FileStorage) fs.mkdirSync(transfer.root, { recursive: true });
  const state = new ServiceState(opts.dataDir);
  const accepted = (opts.acceptedFormats ?? DEFAULT_ACCEPTED_FORMATS).map((f) => f.toLowerCase());
  let baseUrl = '';
  const reportUrl = (sipId: string, transferId?: string) =>
    `${baseUrl}${API}/report/${encodeURIComponent(sipId)}${transferId ? `/${encodeURIComponent(transferId)}` : ''}`;

  /** Writes the report of one transfer; a validated transfer ends the pending state, a refused one leaves it. */
  function publish(s: Submission, d: Omit<Decision, 'status' | 'reportFile' | 'reasons'>, checks: CheckResult[], transferRefused?: string) {
    const { xml, accepted: ok } = ingestReport({ sipId: s.sipId, ...d, checks, transferRefused });
    const reportFile = path.join('reports', s.sipId, `${d.transferId}.xml`);
    fs.mkdirSync(path.join(opts.dataDir, 'reports', s.sipId), { recursive: true });
    fs.writeFileSync(path.join(opts.dataDir, reportFile), xml);
    const reasons = [...(transferRefused ? [transferRefused] : []), ...reasonsOf(checks)];
    const decision: Decision = { ...d, status: ok ? 'accepted' : 'rejected', reasons, reportFile };
    state.put({ ...s, pending: transferRefused ? s.pending : undefined, decisions: [...s.decisions, decision] });
  }

  let closing = false;
  async function validate(sipId: string): Promise<void> {
    const s = state.get(sipId);
    // Once closing, queued validations are left pending: the next start runs them.
    if (!s?.pending || closing) return;
    state.put({ ...s, pending: { ...s.pending, status: 'validating' } });
    let checks: CheckResult[];
    try {
      checks = await validateSip(path.join(receivedDir, `${sipId}${TAR}`), accepted);
    } catch (e) {
      // The service itself failed (not the SIP): report it rather than leave the sender waiting.
      checks = [{ check: 'unpacking', reasons: [`the service could not validate the SIP: ${(e as Error).message}`] }];
    }
    publish(state.get(sipId)!, { transferId: s.pending.transferId, receivedAt: s.pending.receivedAt, decidedAt: new Date().toISOString() }, checks);
  }

  // Validation runs one SIP at a time behind the scanner, so a big SIP never delays receipt.
  let validations: Promise<void> = Promise.resolve();
  const enqueue = (sipId: string) => {
    validations = validations
      .then(() => validate(sipId))
      .catch((e: unknown) => console.error(`reference service: validating ${sipId}: ${(e as Error).message}`));
  };

  /** Takes each complete transfer once; a repeat of a known SIP id is not a new submission. */
  async function scanTransfers(): Promise<void> {
    for await (const entry of transfer.list('')) {
      const name = entry.key;
      // Only top-level `<sipId>.tar`: partial uploads and anything else are not transfers.
      if (name.includes('/') || !name.endsWith(TAR) || name.length === TAR.length) continue;
      const sipId = name.slice(0, -TAR.length);
      // The transfer is copied in and verified before it is removed from the transfer location.
      const incoming = path.join(receivedDir, `${name}.incoming`);
      const { sha256 } = await transfer.getFile(name, incoming);
      const receivedAt = new Date().toISOString();
      const transferId = `${sipId}-${crypto.randomUUID()}${TAR}`;
      const known = state.get(sipId);
      if (known && known.sha256 === sha256) {
        state.put({ ...known, transfers: known.transfers + 1 });
        fs.rmSync(incoming, { force: true });
      } else if (known) {
        const reason = `transfer ${name} conflicts with the SIP received under that id at ${known.firstReceivedAt}: its sha256 is ${sha256}, not ${known.sha256}`;
        const counted = { ...known, transfers: known.transfers + 1, count: known.count + 1 };
        publish(counted, { transferId, receivedAt, decidedAt: receivedAt }, [], reason);
        fs.rmSync(incoming, { force: true });
      } else {
        fs.renameSync(incoming, path.join(receivedDir, name));
        state.put({
          sipId,
          sha256,
          count: 1,
          transfers: 1,
          firstReceivedAt: receivedAt,
          pending: { transferId, receivedAt, status: 'received' },
          decisions: [],
        });
        enqueue(sipId);
      }
      await transfer.remove(name);
    }
  }

  // Validations a restart interrupted are run again.
  for (const s of state.all()) if (s.pending) enqueue(s.sipId);

  let scanning: Promise<void> | undefined;
  const timer = setInterval(() => {
    scanning ??= scanTransfers()
      .catch((e: unknown) => console.error(`reference service: scanning ${transfer.location}: ${(e as Error).message}`))
      .finally(() => (scanning = undefined));
  }, opts.pollIntervalMs ?? 500);

  function statusView(s: Submission | undefined, sipId: string) {
    if (!s) return { sipId, status: 'unknown' };
    const d = latestDecision(s);
    return {
      sipId,
      status: statusOf(s),
      sha256: s.sha256,
      ...(d ? { decidedAt: d.decidedAt, reasons: d.reasons, reportUrl: reportUrl(sipId, d.transferId) } : {}),
    };
  }

  function reports(query: URLSearchParams) {
    const sinceParam = query.get('since');
    const since = sinceParam === null ? -Infinity : Date.parse(sinceParam);
    // Date.parse also takes forms like "March 7"; the API takes ISO 8601 only.
    if (sinceParam !== null && (Number.isNaN(since) || !/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(sinceParam)))
      throw new BadRequest(`parameter since: "${sinceParam}" is not an ISO 8601 date-time (e.g. 2024-05-01T12:00:00Z)`);
    const status = query.get('status');
    if (status !== null && status !== 'accepted' && status !== 'rejected') throw new BadRequest(`parameter status: "${status}" is not accepted or rejected`);
    return state
      .all()
      .flatMap((s) => s.decisions.map((d) => ({ sipId: s.sipId, d })))
      .filter(({ d }) => (!status || d.status === status) && Date.parse(d.decidedAt) > since)
      .sort((a, b) => a.d.decidedAt.localeCompare(b.d.decidedAt))
      .map(({ sipId, d }) => ({ sipId, status: d.status, decidedAt: d.decidedAt, reasons: d.reasons, reportUrl: reportUrl(sipId, d.transferId) }));
  }

  const server = http.createServer((req, res) => {
    const send = (code: number, body: unknown, type = 'application/json') => {
      res.writeHead(code, { 'content-type': `${type}; charset=utf-8` });
      res.end(type === 'application/json' ? JSON.stringify(body) : String(body));
    };
    try {
      const url = new URL(req.url ?? '/', baseUrl);
      if (req.method !== 'GET') return send(405, { error: `method ${req.method} is not allowed: the API is read-only, SIPs arrive in the transfer folder` });
      if (url.pathname === '/healthz') return send(200, { ok: true });
      if (url.pathname === `${API}/reports`) return send(200, { data: reports(url.searchParams) });
      if (url.pathname === `${API}/submissions`)
        return send(200, {
          data: state.all().map((s) => ({
            sipId: s.sipId,
            count: s.count,
            transfers: s.transfers,
            firstReceivedAt: s.firstReceivedAt,
            sha256: s.sha256,
            size: fs.statSync(path.join(receivedDir, `${s.sipId}${TAR}`), { throwIfNoEntry: false })?.size,
          })),
        });
      const m = new RegExp(`^${API}/(status|report)/([^/]+)(?:/([^/]+))?$`).exec(url.pathname);
      if (m) {
        const [, kind, sipId, transferId] = m.map((x) => (x === undefined ? x : decodeURIComponent(x)));
        const s = state.get(sipId);
        if (kind === 'status' && !transferId) return send(200, statusView(s, sipId));
        const d = transferId ? s?.decisions.find((x) => x.transferId === transferId) : s?.decisions.at(-1);
        if (kind === 'report' && d) return send(200, fs.readFileSync(path.join(opts.dataDir, d.reportFile), 'utf8'), 'application/xml');
        if (kind === 'report') return send(404, { error: `no report for SIP ${sipId}${transferId ? ` and transfer ${transferId}` : ''}` });
      }
      return send(404, { error: `no such resource: ${url.pathname}` });
    } catch (e) {
      if (e instanceof BadRequest) return send(400, { error: e.message });
      if (e instanceof URIError) return send(400, { error: `malformed path: ${req.url}` });
      console.error(`reference service: ${req.method} ${req.url}: ${(e as Error).stack}`);
      return send(500, { error: (e as Error).message });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', resolve);
  });
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    // Once: SIGINT and SIGTERM (a Ctrl-C and the demo stopping its child) may both ask.
    close() {
      closed ??= (async () => {
        clearInterval(timer);
        closing = true;
        await scanning;
        await validations;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        state.close();
        release();
      })();
      return closed;
    },
  };
}
