// Names and message definitions of the preservation pipeline, shared by the workflow,
// the worker, the CLI and the tests. No Node imports: workflows import this module.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DeliverySettings } from './delivery';
import type { Verdict } from './sip';
import type { StageWindows } from './windows';

/** One task queue per stage so each stage's workers scale separately. */
export const TASK_QUEUES = {
  /** Workflow tasks and light I/O activities (ledger, service API). */
  io: 'custody-io',
  download: 'custody-download',
  package: 'custody-package',
  submit: 'custody-submit',
} as const;
export type QueueRole = keyof typeof TASK_QUEUES;

/**
 * The scheduled poller's own queue (its workflow tasks and activities), served by every worker that
 * serves io. On custody-io its every step waited behind the pipeline's backlog, and with a few
 * hundred objects in flight the workflows' fallback polls delivered most verdicts before it did.
 */
export const SCHEDULES_TASK_QUEUE = 'custody-schedules';

export const preserveWorkflowId = (objectId: string): string => `preserve:${objectId}`;

export const STAGES = [
  'queued',
  'deferred',
  /** Outside its task queue's daily window (config `windows`): the next stage starts when it opens. */
  'waiting-for-window',
  'downloading',
  'packaging',
  'submitting',
  'awaiting-verdict',
  'confirming',
  'confirmed',
  'rejected',
  'frozen',
  'failed',
  'no-verdict',
] as const;
export type Stage = (typeof STAGES)[number];

/** Stages in which the workflow has ended or waits for an operator. */
export const SETTLED_STAGES: readonly Stage[] = ['confirmed', 'rejected', 'frozen', 'failed', 'no-verdict'];
/** Stages from which `custody reenqueue` starts the object again. */
export const REENQUEUABLE_STAGES: readonly Stage[] = ['rejected', 'failed', 'frozen', 'no-verdict'];

export interface PreserveObjectInput {
  objectId: string;
  settings: PipelineSettings;
  /** 1 for the first run; a reenqueue continues-as-new with attempt + 1. */
  attempt?: number;
  /** Who or what started the run: 'enqueue', 'reenqueue', 'sync-source'… */
  reason?: string;
  /** The harvest source (a name in harvest.sources) the object is read from; absent: storage.source. */
  source?: string;
}

export interface PreserveObjectState {
  objectId: string;
  stage: Stage;
  attempt: number;
  sipId?: string;
  verdict?: Verdict;
  lastError?: string;
  /** Stack of the last failure, for an operator reading a failed object. */
  lastErrorStack?: string;
  frozenReason?: string;
  frozenBy?: string;
  /** While deferred: when the object is looked at again. */
  deferredUntil?: string;
  /** While waiting for window: when the queue's daily window opens. */
  windowOpensAt?: string;
  /** Build id of the worker that built this attempt's SIP. */
  buildId?: string;
  /** Workflow time of the last change of stage. */
  updatedAt: string;
}

/** Sent by the scheduled poller (or anyone who learned the verdict). */
export const sipProcessedSignal = defineSignal<[Verdict]>('sipProcessed');
export interface FreezeRequest {
  reason: string;
  /** Who or what froze it: an operator (user@host) or custody itself for a known cause. */
  by: string;
}
export interface FreezeAck {
  objectId: string;
  /** The stage the object stopped before, and where unfreeze continues. */
  stoppedBefore: Stage;
  frozenAt: string;
}

/**
 * Operator actions are Updates, so the command learns that they took effect. A freeze waits
 * for the running step to finish (steps are idempotent and cancelling a SIP build half-way
 * only wastes it), then returns the stage the object stopped before.
 */
export const freezeUpdate = defineUpdate<FreezeAck, [FreezeRequest]>('freeze');
export const unfreezeUpdate = defineUpdate<{ objectId: string; resumes: Stage }, [{ by: string }]>('unfreeze');
/** Start again from download with a new SIP id (continue-as-new: each attempt stays in the history chain). */
export const reenqueueUpdate = defineUpdate<{ objectId: string; nextAttempt: number }, [{ by: string }]>('reenqueue');

export const stateQuery = defineQuery<PreserveObjectState>('state');

/** Workflow id of the polling workflow that the schedule starts. */
export const SYNC_PROCESSED_SIPS_SCHEDULE = 'sync-processed-sips';

export interface RetrySettings {
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
  maximumAttempts: number;
  /** Error types no retry can fix, besides those thrown as non-retryable. */
  nonRetryableErrorTypes: string[];
}

/** Failure types that freeze the object with their reason instead of failing it. */
export const AUTO_FREEZE_TYPES = [
  'InvalidObjectMetadata',
  'ObjectNotFound',
  'EmptyObject',
  'UnsafePath',
  'UnsupportedFileType',
  'UnsupportedFormat',
  'ObjectTooLarge',
  'TooManyFiles',
  'ZeroLengthFile',
  'InvalidFileName',
  'NameTooLong',
  'NameCollision',
  'PayloadPathConflict',
  'SourceFileChanged',
  'UnknownSource',
] as const;
export const AUTOMATIC_FREEZER = 'custody (automatic)';

/**
 * Settings the workflow needs from config. They travel in the workflow input (workflows read
 * no config), so each run's history shows the settings it ran with.
 */
export interface PipelineSettings {
  retry: Record<QueueRole, RetrySettings>;
  /** Heartbeat timeout of the data-moving stages: how soon a dead worker's step is retried elsewhere. */
  heartbeatTimeout: string;
  verdict: { pollAfter: string; deadline: string };
  /** Present when delivery rules exist: an accepted package is delivered to the destinations they select. */
  delivery?: DeliverySettings;
  /** Present when config gives a stage's queue daily hours: its steps start only inside them. */
  windows?: StageWindows;
}

/** One stage of a preservation as its workflow saw it, for the chain of custody: when it began and which build ran it. */
export interface CustodyStep {
  stage: string;
  /** From the workflow's clock (its history's time). */
  at: string;
  /** The build id of the worker that ran the stage's work; undefined when the workflow did not learn it. */
  buildId?: string;
  outcome?: string;
  detail?: string;
}

/**
 * A stage's ledger entry, handed to the step that does the stage's work: the step records it
 * before that work, so entering a stage costs no step of its own. The key and time are the
 * workflow's: a retried step records the entry once.
 */
export interface StageEntry {
  stage: Stage;
  key: string;
  at: string;
  sipId?: string;
  error?: string;
  detail?: unknown;
}

/** The stage a step enters when its work is done (submitted: awaiting the verdict), timed by the step's clock. */
export type StageAfter = Omit<StageEntry, 'at'>;

/** What a step recorded for `StageAfter`: the workflow shows that stage from the same time. */
export interface EnteredStage {
  stage: Stage;
  at: string;
}

/** What the check before any work found. */
export type ObjectCheck =
  // buildId: the checking worker's, for the chain of custody (absent in histories from before it).
  { ready: true; payloadBytes: number; payloadFiles: number; buildId?: string } | { ready: false; deferMs: number; reason: string };

export interface PreserveObjectResult {
  objectId: string;
  stage: Stage;
  sipId?: string;
  verdict?: Verdict;
}

/** What the download activity left in working storage. */
export interface DownloadedObject {
  /** The attempt's prefix in working storage (a key, not a URL: nothing secret in histories). */
  workPrefix: string;
  title: string;
  payloadBytes: number;
  payloadFiles: number;
  buildId: string;
}

export interface SyncProcessedSipsInput {
  /** Where to start when there is no checkpoint from a previous run. ISO date-time. */
  since?: string;
}
export interface SyncProcessedSipsResult {
  /** decidedAt of the newest verdict seen: the next run asks for verdicts after it. */
  checkpoint: string;
  signalled: number;
  notWaiting: number;
  /** Verdicts seen again that the ledger says were already signalled or applied: not sent twice. */
  alreadyDelivered: number;
}

/** What one page of the poller's delivery did. */
export interface VerdictPageDelivery {
  signalled: number;
  /** The workflow had ended (its own poll found the verdict) or never ran here. */
  notWaiting: number;
  alreadyDelivered: number;
  /** decidedAt of the newest verdict on this page (delivered or not): the next page starts after it. */
  checkpoint: string;
  /** More verdicts were decided after the checkpoint. */
  more: boolean;
}
