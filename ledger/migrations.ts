// The ledger's schema history. Migrations are code, not files, so the worker bundle and
// the CLI carry them without a migrations folder; they are only ever appended to.
import { PostgresAdapter, type Kysely, type Migration, type MigrationProvider } from 'kysely';

/** Auto-incrementing integer key: SQLite's `integer primary key autoincrement` has no
 *  PostgreSQL spelling, so the one column that needs it is the one place that branches. */
function isPostgres(db: Kysely<unknown>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/** The tables whose rows carry the build id of the worker that wrote them. */
export const BUILD_STAMPED = ['events', 'packages', 'deliveries', 'copy_versions'] as const;

const migrations: Record<string, Migration> = {
  '0001-initial': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('objects')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('title', 'text')
        .addColumn('source_modified_at', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('frozen', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('frozen_reason', 'text')
        .addColumn('frozen_by', 'text')
        .addColumn('last_sip_id', 'text')
        .addColumn('last_error', 'text')
        .addColumn('preserved_modified_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('objects_state').ifNotExists().on('objects').column('state').execute();

      await db.schema
        .createTable('packages')
        .ifNotExists()
        .addColumn('sip_id', 'text', (c) => c.primaryKey())
        .addColumn('object_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('payload_bytes', 'bigint', (c) => c.notNull())
        .addColumn('payload_files', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('verdict', 'text')
        .addColumn('reasons', 'text')
        .addColumn('decided_at', 'text')
        .addColumn('report_path', 'text')
        .execute();
      await db.schema.createIndex('packages_object').ifNotExists().on('packages').column('object_id').execute();

      const events = isPostgres(db)
        ? db.schema
            .createTable('events')
            .ifNotExists()
            .addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema
            .createTable('events')
            .ifNotExists()
            .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await events
        .addColumn('key', 'text', (c) => c.notNull().unique())
        .addColumn('object_id', 'text', (c) => c.notNull())
        .addColumn('sip_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('stage', 'text')
        .addColumn('detail', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_object_at').ifNotExists().on('events').columns(['object_id', 'at', 'id']).execute();
    },
  },
  '0002-copies-and-deliveries': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('copy_versions')
        .ifNotExists()
        .addColumn('copy_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('deposition_id', 'bigint')
        .addColumn('record_id', 'bigint')
        .addColumn('doi', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('copy_versions_pk', ['copy_id', 'version'])
        .execute();
      await db.schema
        .createTable('copy_files')
        .ifNotExists()
        .addColumn('copy_id', 'text', (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('size', 'bigint', (c) => c.notNull())
        .addColumn('sha256', 'text', (c) => c.notNull())
        .addColumn('md5', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('copy_files_pk', ['copy_id', 'version', 'name'])
        .execute();
      const log = isPostgres(db)
        ? db.schema
            .createTable('deposit_log')
            .ifNotExists()
            .addColumn('id', 'serial', (c) => c.primaryKey())
        : db.schema
            .createTable('deposit_log')
            .ifNotExists()
            .addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
      await log
        .addColumn('copy_id', 'text', (c) => c.notNull())
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('ms', 'integer', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('detail', 'text')
        .execute();
      await db.schema.createIndex('deposit_log_copy').ifNotExists().on('deposit_log').columns(['copy_id', 'id']).execute();
      await db.schema
        .createTable('deliveries')
        .ifNotExists()
        .addColumn('item_id', 'text', (c) => c.notNull())
        .addColumn('destination', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .addColumn('name', 'text')
        .addColumn('size', 'bigint')
        .addColumn('sha256', 'text')
        .addColumn('delayed_until', 'text')
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('deliveries_pk', ['item_id', 'destination'])
        .execute();
      await db.schema.createIndex('deliveries_destination').ifNotExists().on('deliveries').columns(['destination', 'state']).execute();
    },
  },
  '0003-source-cursors': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('source_cursors')
        .ifNotExists()
        .addColumn('source', 'text', (c) => c.primaryKey())
        .addColumn('location', 'text', (c) => c.notNull())
        .addColumn('position_at', 'text', (c) => c.notNull())
        .addColumn('position_key', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('updated_by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('last_run_at', 'text')
        .addColumn('last_error', 'text')
        .execute();
      await db.schema
        .createTable('harvested_objects')
        .ifNotExists()
        .addColumn('object_id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('changed_at', 'text', (c) => c.notNull())
        .addColumn('recorded_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0004-build-ids': {
    // The build of the worker that wrote a row, so what one deployment produced can be found
    // again (`custody find --build`); null for rows written before this or by the CLI.
    async up(db: Kysely<unknown>): Promise<void> {
      // Like the ifNotExists of the others: a column already there (a half-applied run) is kept.
      const tables = await db.introspection.getTables();
      for (const table of BUILD_STAMPED) {
        if (!tables.some((t) => t.name === table && t.columns.some((c) => c.name === 'build_id')))
          await db.schema.alterTable(table).addColumn('build_id', 'text').execute();
        await db.schema.createIndex(`${table}_build`).ifNotExists().on(table).column('build_id').execute();
      }
    },
  },
  '0005-notifications': {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('notifications')
        .ifNotExists()
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('what', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('workflow_id', 'text', (c) => c.notNull())
        .addColumn('stage', 'text')
        .addColumn('reason', 'text')
        .addColumn('detail', 'text')
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'text', (c) => c.notNull())
        .addColumn('sent_at', 'text')
        .addColumn('last_error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('notifications_due').ifNotExists().on('notifications').columns(['state', 'next_attempt_at']).execute();
      // The held-too-long scan looks for each article's and copy's latest event of a waiting kind.
      await db.schema.createIndex('events_kind_at').ifNotExists().on('events').columns(['kind', 'at']).execute();
    },
  },
  '0006-drain': {
    async up(db: Kysely<unknown>): Promise<void> {
      // One row while custody is drained (id 'custody'); gone after resume.
      await db.schema
        .createTable('drain_state')
        .ifNotExists()
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('drained_at', 'text', (c) => c.notNull())
        .addColumn('drained_by', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('paused_schedules', 'text', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('held_work')
        .ifNotExists()
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('item_id', 'text', (c) => c.notNull())
        .addColumn('args', 'text', (c) => c.notNull())
        .addColumn('held_at', 'text', (c) => c.notNull())
        .addColumn('held_by', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('held_work_pk', ['kind', 'item_id'])
        .execute();
    },
  },
  '0007-scale-indexes': {
    async up(db: Kysely<unknown>): Promise<void> {
      // `custody status` lists frozen objects in any state; without this a million-object ledger
      // is read whole to find the few frozen ones (state has its own index since 0001).
      await db.schema.createIndex('objects_frozen').ifNotExists().on('objects').column('frozen').execute();
    },
  },
};

export const ledgerMigrations: MigrationProvider = {
  getMigrations: async () => migrations,
};
