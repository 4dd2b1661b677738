// The ledger's part of the fixity audit: which packages are audited (each object's latest accepted
// package, when custody kept or delivered it), taken in SIP id order after a cursor, and which
// objects have a fixity problem no later re-preservation or audit has resolved. The audit's
// findings are ordinary events; no table of its own.
import type { Kysely, SelectQueryBuilder } from 'kysely';
import { FIXITY_OK, FIXITY_PROBLEMS } from '../common/fixity';
import type { LedgerDatabase } from './schema';

export interface AuditedPackage {
  sipId: string;
  objectId: string;
  size: number;
}

type Audited = SelectQueryBuilder<LedgerDatabase & { p: LedgerDatabase['packages'] }, 'p', object>;

export class FixityLedger {
  constructor(private readonly db: Kysely<LedgerDatabase>) {}

  /** Accepted packages with no later accepted package of their object, whose object has a delivery row. */
  private audited(): Audited {
    return this.db
      .selectFrom('packages as p')
      .where('p.verdict', '=', 'accepted')
      .where(({ exists, selectFrom }) => exists(selectFrom('deliveries as d').select('d.item_id').whereRef('d.item_id', '=', 'p.object_id')))
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('packages as q')
              .select('q.sip_id')
              .whereRef('q.object_id', '=', 'p.object_id')
              .where('q.verdict', '=', 'accepted')
              .where((eb) =>
                eb.or([
                  eb('q.created_at', '>', eb.ref('p.created_at')),
                  eb.and([eb('q.created_at', '=', eb.ref('p.created_at')), eb('q.sip_id', '>', eb.ref('p.sip_id'))]),
                ]),
              ),
          ),
        ),
      ) as unknown as Audited;
  }

  async count(): Promise<number> {
    const r = await this.audited()
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Up to `limit` audited packages after `after` (from the first without it), in SIP id order. */
  async after(after: string | undefined, limit: number): Promise<AuditedPackage[]> {
    let q = this.audited().select(['p.sip_id', 'p.object_id', 'p.size']);
    if (after !== undefined) q = q.where('p.sip_id', '>', after);
    const rows = await q.orderBy('p.sip_id').limit(limit).execute();
    return rows.map((r) => ({ sipId: r.sip_id, objectId: r.object_id, size: Number(r.size) }));
  }

  /**
   * Objects with a fixity problem still standing, sorted: one is resolved by a later confirmation
   * (re-preserved, `reenqueue --force`) or a later audit that found that same copy whole.
   */
  async unresolved(): Promise<string[]> {
    const found = await this.db.selectFrom('events').select('object_id').distinct().where('kind', 'in', FIXITY_PROBLEMS).execute();
    const out: string[] = [];
    // Only objects that ever had a problem are read further: most never have.
    for (const { object_id } of found) if ((await this.openProblems(object_id)).size > 0) out.push(object_id);
    return out.sort();
  }

  /** The copies of `objectId` whose last fixity event is a problem, by `where`. */
  async openProblems(objectId: string): Promise<Set<string>> {
    const rows = await this.db
      .selectFrom('events')
      .select(['kind', 'detail'])
      .where('object_id', '=', objectId)
      .where('kind', 'in', [...FIXITY_PROBLEMS, FIXITY_OK, 'confirmed'])
      .orderBy('at')
      .orderBy('id')
      .execute();
    const open = new Set<string>();
    for (const r of rows) {
      const where = r.detail === null ? '' : String((JSON.parse(r.detail) as { where?: unknown }).where ?? '');
      if (r.kind === 'confirmed') open.clear();
      else if (r.kind === FIXITY_OK) open.delete(where);
      else open.add(where);
    }
    return open;
  }
}
