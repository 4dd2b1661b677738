// Names and types of the fixity audit: the `audit-fixity` Schedule runs the auditFixity workflow,
// which re-reads a slice of the packages custody keeps and delivered and re-hashes them against
// the ledger. No Node imports: workflows import this module.

/** The schedule's id, also the id (before the schedule's time suffix) of the runs it starts. */
export const AUDIT_FIXITY_SCHEDULE = 'audit-fixity';

/** Ledger event kinds of a copy whose bytes are not the package's, or that is not there. */
export const FIXITY_MISMATCH = 'fixity-mismatch';
export const FIXITY_MISSING = 'fixity-missing';
/** A copy found whole again (restored by hand) after a mismatch or missing: resolves the earlier event. */
export const FIXITY_OK = 'fixity-ok';
export const FIXITY_PROBLEMS: readonly string[] = [FIXITY_MISMATCH, FIXITY_MISSING];

export interface AuditFixityInput {
  /** The fraction of the audited packages this run takes; default: config `fixity.share`. */
  share?: number;
  /** Take packages until their sizes would add up past this (one at least); default: config `fixity.maxBytesPerRun`. */
  maxBytesPerRun?: number;
  /** Start after this SIP id instead of the last run's cursor. */
  after?: string;
  /** Carried over continue-as-new: what is left of this run's slice and what was found so far. */
  carried?: { sipIds: string[]; progress: AuditFixityResult };
}

/** The packages one run checks: the next `share` of them after the cursor, wrapping at the end. */
export interface FixitySlice {
  sipIds: string[];
  /** Audited packages in the ledger (each object's accepted package). */
  total: number;
}

/** One copy of a package that is not as the ledger says. */
export interface FixityProblem {
  kind: typeof FIXITY_MISMATCH | typeof FIXITY_MISSING;
  objectId: string;
  sipId: string;
  /** The copy's URL: custody's kept package, or the file at a destination. */
  where: string;
  /** Set for a delivered copy. */
  destination?: string;
  expected: string;
  /** Null when the copy is missing. */
  found: string | null;
}

/** What checking one package found, over its kept copy and each delivered one. */
export interface PackageFixity {
  sipId: string;
  objectId: string;
  /** Copies compared with the ledger. */
  copies: number;
  ok: number;
  problems: FixityProblem[];
  /** Bytes custody read and hashed itself. */
  bytesRead: number;
  /** Destinations that could not be asked now (down, or no longer configured): checked on a later run. */
  unreachable: string[];
}

/** The run's result, which the Schedule hands the next run (`workflowInfo().lastResult`): its cursor. */
export interface AuditFixityResult {
  /** The last SIP id checked: the next run starts after it (and wraps at the end). */
  cursor?: string;
  /** Audited packages in the ledger when the run began. */
  total: number;
  /** Packages checked. */
  checked: number;
  /** Copies (kept and delivered) found as the ledger says. */
  ok: number;
  mismatched: number;
  missing: number;
  bytesRead: number;
  /** The first REPORTED_PROBLEMS problems (the counts are complete). */
  problems: FixityProblem[];
  unreachable: string[];
}

export const REPORTED_PROBLEMS = 100;
