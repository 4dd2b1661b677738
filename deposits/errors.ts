// What the deposit client throws. `retryable` says whether asking again may help, so the
// activities can map a DepositRefused to a non-retryable failure and let the rest retry.

/** Anything the deposit client throws. */
export class DepositError extends Error {
  readonly retryable: boolean = false;
  constructor(
    message: string,
    /** "POST /api/deposit/depositions": the method and path, never the query (it may carry a token). */
    readonly request: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A field error as the API reports it: `{ field: "metadata.title", message: "Missing data for required field." }`. */
export interface DepositFieldError {
  field?: string;
  message: string;
}

/** The API answered 4xx (not 429): the same request will be refused again, so it was not retried. */
export class DepositRefused extends DepositError {
  override readonly retryable = false;
  constructor(
    message: string,
    request: string,
    override readonly status: number,
    /** The API's own message, e.g. "Validation error.". */
    readonly apiMessage: string,
    readonly errors: DepositFieldError[] = [],
  ) {
    super(message, request, status);
  }
}

/**
 * The API could not be reached, did not answer in time, failed (5xx) or limited the rate (429)
 * on every one of the in-call attempts, or answered something that is not the API.
 */
export class DepositUnavailable extends DepositError {
  override readonly retryable = true;
  constructor(
    message: string,
    request: string,
    status?: number,
    options?: ErrorOptions & {
      /** How many times the request was sent. */
      attempts?: number;
      /** The wait the API asked for (Retry-After) when it was too long to wait within the call. */
      retryAfterMs?: number;
    },
  ) {
    super(message, request, status, options);
    this.attempts = options?.attempts ?? 1;
    this.retryAfterMs = options?.retryAfterMs;
  }
  readonly attempts: number;
  readonly retryAfterMs?: number;
}

/** What open() yielded is not the size the caller gave: the source changed, and sending it again will not help. */
export class DepositSourceChanged extends DepositError {
  override readonly retryable = false;
}
