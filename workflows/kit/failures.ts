// How a workflow reads a failed step: the activity's own failure inside Temporal's wrapper, and
// one line for the operator (the type a library gave it, then its message).
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

export function unwrap(error: unknown): unknown {
  return error instanceof ActivityFailure && error.cause ? error.cause : error;
}

export function describe(failure: unknown): string {
  if (failure instanceof ApplicationFailure) return `${failure.type ?? 'Error'}: ${failure.message}`;
  return failure instanceof Error ? failure.message : String(failure);
}

/** The failure's type when it is one of `types` (an ApplicationFailure a library named), else undefined. */
export function failureTypeIn(failure: unknown, types: readonly string[]): string | undefined {
  return failure instanceof ApplicationFailure && types.includes(failure.type ?? '') ? (failure.type ?? undefined) : undefined;
}
