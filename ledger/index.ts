export * from './ledger';
export { ledgerMigrations } from './migrations';
export type { LedgerDatabase } from './schema';
export type { CopyVersionRow, CopyFileRow, DepositLogRow } from './copies';
export { DELIVERY_STATES, type DeliveryRow, type DeliveryState, type DeliveryChange } from './deliveries';
export type { AuditedPackage } from './fixity';
export type { CursorRow, CursorPosition } from './cursors';
export type { DrainState, HeldWork, HeldKind } from './drain';
