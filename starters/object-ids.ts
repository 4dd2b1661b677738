// One rule for object ids at every entry point of the CLI and the starters: the one the
// sources apply (objectIdSchema), so nothing reaches Temporal or the ledger that a source
// could never have produced (`preserve:../../etc`).
import { objectIdSchema } from '../common/object-metadata';
import { printable } from './printable';
import { UserError } from './user-error';

export class InvalidObjectIdError extends UserError {}

/** Throws InvalidObjectIdError, naming the id and what is wrong with it. */
export function assertObjectId(id: string): void {
  const parsed = objectIdSchema.safeParse(id);
  if (!parsed.success) {
    throw new InvalidObjectIdError(`invalid object id "${printable(id)}": ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  }
}

export function assertObjectIds(ids: readonly string[]): void {
  ids.forEach(assertObjectId);
}
