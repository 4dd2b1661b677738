// The ledger's part of the repository-copy pipeline: each version's deposition (recorded the
// moment it exists, so a retried step reuses it rather than making a second), the digests a
// version's files had when checked, and the log of every request to the deposit API.
import type { Kysely } from 'kysely';
import type { LedgerDatabase } from './schema';

export interface CopyVersionRow {
  copyId: string;
  version: number;
  depositionId: number | null;
  recordId: number | null;
  doi: string | null;
  state: string;
  updatedAt: string;
}

export interface CopyFileRow {
  name: string;
  size: number;
  sha256: string;
  /** The deposit API reports MD5: kept so a file already there can be recognised. */
  md5: string;
}

export interface DepositLogRow {
  at: string;
  method: string;
  url: string;
  status: number | null;
  ms: number;
  attempt: number;
  error: string | null;
  detail: unknown;
}

const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

export class CopyLedger {
  constructor(
    private readonly db: Kysely<LedgerDatabase>,
    private readonly buildId: string | null = null,
  ) {}

  async version(copyId: string, version: number): Promise<CopyVersionRow | undefined> {
    const r = await this.db.selectFrom('copy_versions').selectAll().where('copy_id', '=', copyId).where('version', '=', version).executeTakeFirst();
    return r && toVersionRow(r);
  }

  async versions(copyId: string): Promise<CopyVersionRow[]> {
    const rows = await this.db.selectFrom('copy_versions').selectAll().where('copy_id', '=', copyId).orderBy('version').execute();
    return rows.map(toVersionRow);
  }

  /** Sets what is given and keeps the rest: a retry that learns nothing new changes nothing. */
  async setVersion(
    copyId: string,
    version: number,
    change: Partial<Omit<CopyVersionRow, 'copyId' | 'version'>> & { state: string; updatedAt: string },
  ): Promise<void> {
    const update = {
      state: change.state,
      updated_at: change.updatedAt,
      ...(this.buildId ? { build_id: this.buildId } : {}),
      ...(change.depositionId !== undefined ? { deposition_id: change.depositionId } : {}),
      ...(change.recordId !== undefined ? { record_id: change.recordId } : {}),
      ...(change.doi !== undefined ? { doi: change.doi } : {}),
    };
    await this.db
      .insertInto('copy_versions')
      .values({ copy_id: copyId, version, ...update })
      .onConflict((oc) => oc.columns(['copy_id', 'version']).doUpdateSet(update))
      .execute();
  }

  /** The digests of a version's files as checked; a re-check replaces them (the source may have been fixed). */
  async recordFiles(copyId: string, version: number, files: CopyFileRow[]): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.deleteFrom('copy_files').where('copy_id', '=', copyId).where('version', '=', version).execute();
      for (let i = 0; i < files.length; i += 200) {
        const chunk = files.slice(i, i + 200).map((f) => ({ copy_id: copyId, version, name: f.name, size: f.size, sha256: f.sha256, md5: f.md5 }));
        if (chunk.length) await tx.insertInto('copy_files').values(chunk).execute();
      }
    });
  }

  async files(copyId: string, version: number): Promise<CopyFileRow[]> {
    const rows = await this.db.selectFrom('copy_files').selectAll().where('copy_id', '=', copyId).where('version', '=', version).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, size: Number(r.size), sha256: r.sha256, md5: r.md5 }));
  }

  async log(copyId: string, entry: DepositLogRow): Promise<void> {
    await this.db
      .insertInto('deposit_log')
      .values({
        copy_id: copyId,
        at: entry.at,
        method: entry.method,
        url: entry.url,
        status: entry.status,
        ms: Math.round(entry.ms),
        attempt: entry.attempt,
        error: entry.error,
        detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
      })
      .execute();
  }

  /**
   * Drops what the ledger holds for a copy's depositions (versions, digests, request log) — for a
   * deposit service whose data is gone, where the recorded deposition ids would name nothing or
   * another dataset's deposition. The copy's timeline stays: it is the record of what happened.
   */
  async forget(copyId: string): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const table of ['copy_files', 'copy_versions', 'deposit_log'] as const) await tx.deleteFrom(table).where('copy_id', '=', copyId).execute();
    });
  }

  /** The newest `limit` requests of a copy, oldest first. */
  async requests(copyId: string, limit = 500): Promise<DepositLogRow[]> {
    const rows = await this.db.selectFrom('deposit_log').selectAll().where('copy_id', '=', copyId).orderBy('id', 'desc').limit(limit).execute();
    return rows.reverse().map((r) => ({
      at: r.at,
      method: r.method,
      url: r.url,
      status: r.status,
      ms: r.ms,
      attempt: r.attempt,
      error: r.error,
      detail: r.detail === null ? undefined : (JSON.parse(r.detail) as unknown),
    }));
  }
}

function toVersionRow(r: {
  copy_id: string;
  version: number;
  deposition_id: number | null;
  record_id: number | null;
  doi: string | null;
  state: string;
  updated_at: string;
}): CopyVersionRow {
  return {
    copyId: r.copy_id,
    version: r.version,
    depositionId: num(r.deposition_id),
    recordId: num(r.record_id),
    doi: r.doi,
    state: r.state,
    updatedAt: r.updated_at,
  };
}
