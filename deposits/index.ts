// The deposits library: custody's client of a deposit API (Zenodo's REST deposit API, or the
// reference deposit service). Plain TypeScript that throws typed errors; the activities map
// DepositRefused to a non-retryable failure and let DepositUnavailable retry.
export * from './deposit-client';
export * from './errors';
