// One rule for object ids at every entry point of the CLI and the starters: the one the
// sources apply (objectIdSchema), so nothing reaches Temporal or the ledger that a source
// could never have produced (`preserve:../../etc`).
import { objectIdSchema } from '../common/object-metadata';
import { printable } from './printable';
import { UserError } from './user-error';

export class InvalidObjectIdError extends UserError {}

/** What is wrong with an id, or undefined when it is a valid object id. */
export function objectIdProblem(id: string): string | undefined {
  const parsed = objectIdSchema.safeParse(id);
  return parsed.success ? undefined : parsed.error.issues.map((i) => i.message).join('; ');
}

/** Throws InvalidObjectIdError, naming the id and what is wrong with it. */
export function assertObjectId(id: string): void {
  const problem = objectIdProblem(id);
  if (problem) throw new InvalidObjectIdError(`invalid object id "${printable(id)}": ${problem}`);
}

export function assertObjectIds(ids: readonly string[]): void {
  ids.forEach(assertObjectId);
}
