// Names and types of the scheduled harvest: the `sync-source` Schedule runs the syncSource
// workflow, which, source after source, records and enqueues the objects new or changed since the
// source's cursor (kept in the ledger). No Node imports: workflows import this module.

/** The schedule's id, also the id (before the schedule's time suffix) of the runs it starts. */
export const SYNC_SOURCE_SCHEDULE = 'sync-source';

/** Who moves the cursors on a run (the ledger's `updated_by`). */
export const HARVEST_ACTOR = 'schedule sync-source';

/** A run reports at most this many object ids per source and kind (the counts are complete). */
export const REPORTED_IDS = 100;

/** What a run needs of the config, read by an activity (workflows read no config). */
export interface HarvestPlan {
  sources: string[];
  maxPerRun: number;
  timeBudgetMs: number;
}

/** What one source's harvest did in a run (the harvestSource activity). */
export interface SourceHarvest {
  source: string;
  location: string;
  /** Objects whose preservation was started, in change-time order (the first REPORTED_IDS). */
  enqueued: string[];
  enqueuedCount: number;
  /** Changed time but the same fingerprint (object.json and file sizes): a touch, not a change. */
  unchanged: number;
  /** Frozen, already preserved, or with a workflow still running: reasons by object id (the first REPORTED_IDS). */
  skipped: Array<{ id: string; reason: string }>;
  /** New or changed within the settle time: a later run takes them. */
  settling: number;
  /** Objects the source lists but cannot describe (a broken object.json): not enqueued; `custody enqueue --ids` sends one to be frozen with its reason. */
  unreadable: Array<{ id: string; error: string }>;
  /** Objects after the cursor left for the next run (maxPerRun or the time budget reached). */
  more: boolean;
  stoppedBy?: 'maxPerRun' | 'time budget';
  /** The cursor after the run: the last (change time, object id) handled. */
  cursor?: { at: string; key: string };
  /** The source could not be read (a missing folder, a bucket that refuses): recorded, and the other sources go on. */
  error?: string;
}

export interface SyncSourceInput {
  /** Carried across continue-as-new: when the run's time budget ends (ISO). */
  deadline?: string;
  /** Carried across continue-as-new: the sources still to harvest, and what the done ones did. */
  remaining?: string[];
  done?: SourceHarvest[];
}

export interface SyncSourceResult {
  sources: SourceHarvest[];
  /** Sources not reached because the time budget was spent: the next run starts with them. */
  notReached: string[];
}
