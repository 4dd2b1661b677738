// What a destination throws. Plain TypeScript, like the article store's client: `retryable` says
// whether asking again may help, and the activities map these to Temporal failures.
export class DestinationError extends Error {
  readonly retryable: boolean = false;
  constructor(
    message: string,
    /** The destination's config name. */
    readonly destination: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Could not be reached, timed out or failed on its side (5xx, 408, 429): a retry may succeed. */
export class DestinationUnavailable extends DestinationError {
  override readonly retryable = true;
}

/** Said no (4xx), or was asked for a name it must not hold: the same request will be refused again. */
export class DestinationRefused extends DestinationError {
  override readonly retryable = false;
  constructor(
    message: string,
    destination: string,
    /** The HTTP status when there was an answer. */
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, destination, options);
  }
}

export interface Described {
  name: string;
  size: number;
  sha256: string;
  /** `size` and `sha256` are of the bytes before gzip: what custody expects a compressed copy to hold. */
  beforeGzip?: boolean;
}

const describe = (d: Described | undefined) =>
  d ? `${d.name}, ${d.beforeGzip ? 'the gzip of ' : ''}${d.size} bytes${d.beforeGzip ? ' with' : ','} sha256 ${d.sha256}` : 'nothing';

/**
 * The bytes do not match after sending: custody's copy read otherwise than it should, or the
 * destination holds something else than what was sent. Not retryable: someone has to look.
 */
export class DeliveryMismatch extends DestinationError {
  override readonly retryable = false;
  constructor(
    destination: string,
    location: string,
    readonly expected: Described,
    readonly sent: Described | undefined,
    readonly received: Described | undefined,
    why: string,
  ) {
    super(
      `${destination} (${location}): ${expected.name} was not delivered intact: ${why}; expected ${describe(expected)}; sent ${describe(sent)}; received ${describe(received)}`,
      destination,
    );
  }
}
