// The chaos run's repository copies: datasets of one to three versions each, deposited with the
// reference deposit service (in this process), whose fault switch makes the API fail for a
// while (503s, dropped connections, lost answers). At the end every version must be published
// exactly once, each dataset's versions in one deposition lineage, as the service itself counts.
import fs from 'node:fs';
import path from 'node:path';
import { copyWorkflowId } from '../../common/copies';
import { startDepositService, type RunningDepositService } from '../../reference-deposit-service/server';
import { sendCopies } from '../../starters/copies';
import type { CustodySystem } from '../../test/support/custody-system';
import { writeDatasetVersion } from '../../test/support/datasets';
import type { Random } from './random';

export const DEPOSIT_TOKEN = 'chaos-deposit-token-5d2b8e';

export interface ChaosCopies {
  datasets: Map<string, number>;
  service: RunningDepositService;
  /** Sends every version of every dataset (again: refusals are fine, a second deposit is not). */
  send(): Promise<void>;
  /** Makes the deposit API fail: the next `n` requests answer 503, and one answer is lost after the work is done. */
  fail(n: number): Promise<void>;
  settled(): Promise<number>;
  check(): Promise<{ outcomes: Record<string, number>; lost: string[]; duplicates: string[] }>;
  close(): Promise<void>;
}

/** Sets DEPOSIT_TOKEN and the copy settings before the workers start: they take both from there. */
export async function startChaosCopies(sys: CustodySystem, random: Random, count: number): Promise<ChaosCopies> {
  process.env.DEPOSIT_TOKEN = DEPOSIT_TOKEN;
  const service = await startDepositService({ port: 0, dataDir: path.join(sys.root, 'deposits'), token: DEPOSIT_TOKEN });
  const source = path.join(sys.root, 'datasets');
  fs.mkdirSync(source);
  Object.assign(sys.config.copies, {
    source,
    depositUrl: service.url,
    requestRetries: { attempts: 3, initialDelay: '50ms', maxDelay: '200ms' },
  });
  const datasets = new Map<string, number>();
  for (let d = 1; d <= count; d++) {
    const id = `chaos-ds-${String(d).padStart(3, '0')}`;
    const versions = random.between(1, 3);
    for (let v = 1; v <= versions; v++)
      writeDatasetVersion(source, id, v, { 'table.csv': `dataset,version,row\n${`${id},${v},${random.int(1e9)}\n`.repeat(random.between(1, 2000))}` });
    datasets.set(id, versions);
  }
  const api = async (p: string, init?: RequestInit) => {
    const res = await fetch(`${service.url}${p}`, { ...init, headers: { authorization: `Bearer ${DEPOSIT_TOKEN}`, 'content-type': 'application/json' } });
    if (!res.ok) throw new Error(`deposit service ${p}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<unknown>;
  };
  const copied = async (id: string) => (await sys.ledger.copies.versions(copyWorkflowId(id, 'data'))).filter((v) => v.state === 'published');

  return {
    datasets,
    service,
    async send() {
      for (const id of datasets.keys())
        await sendCopies({ client: sys.client, config: sys.config, ledger: sys.ledger }, { datasetId: id, type: 'data' }, 'chaos harness');
    },
    async fail(n) {
      await api('/_faults', { method: 'POST', body: JSON.stringify({ unavailable: n, resetAfter: 1 }) });
    },
    async settled() {
      let n = 0;
      for (const [id, versions] of datasets) if ((await copied(id)).length === versions) n++;
      return n;
    },
    async check() {
      const outcomes: Record<string, number> = {};
      const lost: string[] = [];
      const duplicates: string[] = [];
      const stats = (await api('/_stats')) as { publishes: Record<string, number> };
      for (const [id, versions] of datasets) {
        const rows = await sys.ledger.copies.versions(copyWorkflowId(id, 'data'));
        for (const r of rows) outcomes[`copy-${r.state}`] = (outcomes[`copy-${r.state}`] ?? 0) + 1;
        const published = rows.filter((r) => r.state === 'published');
        if (published.length !== versions)
          lost.push(`${id}: ${published.length} of ${versions} versions published (${rows.map((r) => `v${r.version} ${r.state}`).join(', ')})`);
        for (const r of rows) {
          const times = r.depositionId === null ? 0 : (stats.publishes[String(r.depositionId)] ?? 0);
          if (r.state === 'published' && times !== 1)
            (times > 1 ? duplicates : lost).push(`${id} v${r.version}: deposition ${r.depositionId} published ${times} times`);
        }
      }
      // A deposition published that no ledger row names is a deposit done twice.
      const known = new Set<string>();
      for (const id of datasets.keys()) for (const r of await sys.ledger.copies.versions(copyWorkflowId(id, 'data'))) known.add(String(r.depositionId));
      for (const [deposition, times] of Object.entries(stats.publishes))
        if (!known.has(deposition)) duplicates.push(`deposition ${deposition} published ${times} time(s), and no ledger row names it`);
      return { outcomes, lost, duplicates };
    },
    async close() {
      await service.close();
      delete process.env.DEPOSIT_TOKEN;
    },
  };
}
