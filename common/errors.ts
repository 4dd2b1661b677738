// The one error the libraries throw for a problem no retry can fix (an unsafe path, invalid
// metadata, an unknown SIP, a request the service refuses): plain TypeScript, so the libraries
// need no Temporal. The activities turn it into a non-retryable ApplicationFailure of the same
// type (activities/shared.ts); the workflow freezes the object on the types in AUTO_FREEZE_TYPES.
// Every other error is left as it is and retried.

export class PermanentError extends Error {
  override readonly name = 'PermanentError';
  /** No retry fixes it. */
  readonly nonRetryable = true;

  /** `type` names the kind of problem, e.g. 'UnsafePath'; the workflow and the operator see it. */
  constructor(
    message: string,
    readonly type: string,
  ) {
    super(message);
  }
}
