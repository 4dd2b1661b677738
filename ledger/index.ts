export * from './ledger';
export { ledgerMigrations } from './migrations';
export type { LedgerDatabase } from './schema';
