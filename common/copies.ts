// Names and message definitions of the repository-copy pipeline, shared by the copy workflow,
// its activities, the CLI and the tests. No Node imports: workflows import this module.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { FreezeRequest, RetrySettings } from './preservation';

/** What is copied of a dataset; each type is its own ordered lane with its own deposition lineage. */
export const COPY_TYPES = ['data', 'software', 'supplementary'] as const;
export type CopyType = (typeof COPY_TYPES)[number];

/** Dataset ids name a folder in the source and part of a workflow id. */
export const DATASET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const copyWorkflowId = (datasetId: string, type: CopyType): string => `copy:${datasetId}:${type}`;

/** `copy:<dataset>:<type>` read back, or undefined when `id` is not one. */
export function parseCopyId(id: string): { datasetId: string; type: CopyType } | undefined {
  const m = /^copy:([^:]+):([a-z]+)$/.exec(id);
  if (!m || !DATASET_ID.test(m[1]!) || !(COPY_TYPES as readonly string[]).includes(m[2]!)) return undefined;
  return { datasetId: m[1]!, type: m[2] as CopyType };
}

/** Task queues: uploads move data to an outside service like a submit does; the rest is light. */
export const COPY_TASK_QUEUES = {
  io: 'custody-io',
  upload: 'custody-submit',
} as const;
export type CopyQueueRole = keyof typeof COPY_TASK_QUEUES;

export const COPY_STAGES = [
  'waiting',
  'checking',
  'preparing',
  'uploading',
  'awaiting-approval',
  'publishing',
  'copied',
  'rejected',
  'frozen',
  'failed',
] as const;
export type CopyStage = (typeof COPY_STAGES)[number];

/** One version of a dataset asked to be copied (by `custody copy` or `enqueue --pipeline copy`). */
export interface CopyRequest {
  datasetId: string;
  type: CopyType;
  version: number;
  /** Publishing waits for `custody approve` in preview mode. */
  mode?: 'automatic' | 'preview';
  by: string;
  at: string;
}

export interface CopiedVersion {
  version: number;
  depositionId: number;
  recordId?: number;
  doi?: string;
  at: string;
}

export interface CopyState {
  datasetId: string;
  type: CopyType;
  stage: CopyStage;
  /** The newest version copied and published. */
  copied?: CopiedVersion;
  current?: { version: number; run: number; mode: 'automatic' | 'preview'; depositionId?: number };
  /** Versions asked for and waiting their turn, in version order. */
  pending: number[];
  lastError?: string;
  frozenReason?: string;
  frozenBy?: string;
  details?: string;
  updatedAt: string;
}

export interface CopySettings {
  retry: Record<CopyQueueRole, RetrySettings>;
  heartbeatTimeout: string;
  defaultMode: 'automatic' | 'preview';
  continueAsNewAfter: number;
}

export interface CopyDatasetInput {
  datasetId: string;
  type: CopyType;
  settings: CopySettings;
  carried?: { copied?: CopiedVersion; pending: CopyRequest[]; runs: Record<number, number> };
}

/** What a check of one version found: its files with the digests recorded in the ledger. */
export interface CheckedVersion {
  files: Array<{ name: string; size: number; sha256: string }>;
  totalBytes: number;
  metadata: DepositMetadata;
}

export interface DepositMetadata {
  title: string;
  description: string;
  upload_type: string;
  creators: Array<{ name: string; affiliation?: string }>;
  version?: string;
}

export const copyRequestSignal = defineSignal<[CopyRequest]>('copyRequest');
export const copyStateQuery = defineQuery<CopyState>('copyState');
export const copyApproveUpdate = defineUpdate<{ copyId: string; version: number }, [{ version?: number; by: string }]>('approve');
export const copyRejectUpdate = defineUpdate<{ copyId: string; version: number }, [{ version?: number; reason: string; by: string }]>('reject');
/** The operator's updates under the same names as the other pipelines', so one command reaches all. */
export const copyFreezeUpdate = defineUpdate<{ copyId: string; stoppedBefore: CopyStage; frozenAt: string }, [FreezeRequest]>('freeze');
export const copyUnfreezeUpdate = defineUpdate<{ copyId: string; resumes: CopyStage }, [{ by: string }]>('unfreeze');
export const copyReenqueueUpdate = defineUpdate<{ copyId: string; version: number }, [{ by: string }]>('reenqueue');

/** Failures that stop a version for the operator with their reason, instead of retrying. */
export const COPY_FREEZE_TYPES = ['CopyGuard', 'InvalidDataset', 'ChecksumMismatch', 'DepositRefused'] as const;
