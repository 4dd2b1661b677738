// What one build of custody's workers wrote: each row an activity writes carries the worker's
// build id (migration 0004), so the output of a bad deployment can be listed and redone.
import type { Kysely } from 'kysely';
import { FIXITY_OK, FIXITY_PROBLEMS } from '../common/fixity';
import type { LedgerDatabase } from './schema';

/** An object, article or copy the build recorded events for. */
export interface TouchedItem {
  /** The ledger's id: an object id, `article:<id>` or `copy:<dataset>:<type>`. */
  id: string;
  events: number;
  first: string;
  last: string;
}

export interface BuildFootprint {
  buildId: string;
  objects: TouchedItem[];
  articles: TouchedItem[];
  copies: Array<TouchedItem & { versions: number[] }>;
  packages: Array<{ sipId: string; objectId: string; verdict: string | null; createdAt: string }>;
  deliveries: Array<{ itemId: string; destination: string; state: string; updatedAt: string }>;
}

// Rows a build writes about work another build did: the poller passing on a verdict, the fixity
// audit re-reading a package. Redoing an object for them would redo good work.
const NOT_WORK_ON_THE_ITEM = ['verdict-signalled', FIXITY_OK, ...FIXITY_PROBLEMS];

export class BuildLedger {
  constructor(private readonly db: Kysely<LedgerDatabase>) {}

  /** Everything rows stamped with `buildId` name, each list sorted by id. */
  async footprint(buildId: string): Promise<BuildFootprint> {
    const events = await this.db
      .selectFrom('events')
      .select((eb) => ['object_id', eb.fn.countAll<number | string>().as('n'), eb.fn.min('at').as('first'), eb.fn.max('at').as('last')])
      .where('build_id', '=', buildId)
      .where('kind', 'not in', NOT_WORK_ON_THE_ITEM)
      .groupBy('object_id')
      .orderBy('object_id')
      .execute();
    const items = events.map((e): TouchedItem => ({ id: e.object_id, events: Number(e.n), first: e.first, last: e.last }));
    const versions = await this.db
      .selectFrom('copy_versions')
      .select(['copy_id', 'version'])
      .where('build_id', '=', buildId)
      .orderBy('copy_id')
      .orderBy('version')
      .execute();
    const copies = new Map<string, TouchedItem & { versions: number[] }>();
    for (const item of items.filter((i) => i.id.startsWith('copy:'))) copies.set(item.id, { ...item, versions: [] });
    for (const v of versions) {
      const copy = copies.get(v.copy_id) ?? { id: v.copy_id, events: 0, first: '', last: '', versions: [] };
      copy.versions.push(Number(v.version));
      copies.set(v.copy_id, copy);
    }
    const packages = await this.db
      .selectFrom('packages')
      .select(['sip_id', 'object_id', 'verdict', 'created_at'])
      .where('build_id', '=', buildId)
      .orderBy('object_id')
      .orderBy('created_at')
      .execute();
    const deliveries = await this.db
      .selectFrom('deliveries')
      .select(['item_id', 'destination', 'state', 'updated_at'])
      .where('build_id', '=', buildId)
      .orderBy('item_id')
      .orderBy('destination')
      .execute();
    return {
      buildId,
      objects: items.filter((i) => !i.id.startsWith('article:') && !i.id.startsWith('copy:')),
      articles: items.filter((i) => i.id.startsWith('article:')),
      copies: [...copies.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      packages: packages.map((p) => ({ sipId: p.sip_id, objectId: p.object_id, verdict: p.verdict, createdAt: p.created_at })),
      deliveries: deliveries.map((d) => ({ itemId: d.item_id, destination: d.destination, state: d.state, updatedAt: d.updated_at })),
    };
  }

  /** The distinct build ids the ledger holds, for a helpful message when one is not found. */
  async known(): Promise<string[]> {
    const rows = await this.db.selectFrom('events').select('build_id').distinct().where('build_id', 'is not', null).orderBy('build_id').execute();
    return rows.map((r) => r.build_id as string);
  }
}
