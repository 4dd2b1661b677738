// Names and types of webhook notifications: the ledger keeps an outbox row for each notifiable
// event, and the `notify` Schedule's workflow POSTs the due rows. No Node imports: workflows
// import this module.

/** The schedule's id, also the id (before the schedule's time suffix) of the runs it starts. */
export const NOTIFY_SCHEDULE = 'notify';

/**
 * What a notification tells of: a final failure (retries spent, or no verdict by the deadline),
 * a rejection, an automatic freeze, a fixity problem, or work held longer than configured.
 */
export const NOTIFICATION_KINDS = ['failed', 'rejected', 'frozen', 'fixity', 'held'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

/** The JSON body of a POST. */
export interface NotificationBody {
  /** The outbox key: the same for every attempt, also sent as the Idempotency-Key header. */
  key: string;
  what: NotificationKind;
  /** The object id, `article:<id>` or `copy:<dataset>:<type>`. */
  id: string;
  /** The stage it stopped in (for fixity: fixity-mismatch or fixity-missing). */
  stage: string | null;
  reason: string | null;
  /** The workflow's page in the Temporal Web UI. */
  link: string;
  /** When it happened (for held: since when it waits). */
  at: string;
  detail?: unknown;
}

export interface NotifyResult {
  /** Held-too-long notifications this run added to the outbox. */
  held: number;
  sent: number;
  /** POSTs that failed; their rows are tried again later. */
  failed: number;
  /** Rows of kinds not configured to be sent, set aside. */
  skipped: number;
  /** Rows still waiting after this run. */
  waiting: number;
}
