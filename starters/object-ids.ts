// One rule for object ids at every entry point of the CLI and the starters: the one the
// sources apply (objectIdSchema), so nothing reaches Temporal or the ledger that a source
// could never have produced (`preserve:../../etc`).
import { COPY_TYPES, parseCopyId, type CopyType } from '../common/copies';
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

// Articles (the publishing pipeline) are named where an object id may stand by their workflow
// id, `article:<articleId>`: an object id never contains ':', so the two cannot be mistaken for
// each other. Where only an article can be meant (approve, reject, silent-update) the bare
// article id is taken too. An article id follows the object id rule (its package name's rule is
// the same, without the length limit).
export const ARTICLE_PREFIX = 'article:';

export class InvalidArticleIdError extends UserError {}

export const isArticleRef = (id: string): boolean => id.startsWith(ARTICLE_PREFIX);

/** The article id that `article:<id>` (or, with `bare`, a plain `<id>`) names; throws naming the argument. */
export function articleIdOf(ref: string, opts: { bare?: boolean } = {}): string {
  if (!isArticleRef(ref) && !opts.bare) throw new InvalidArticleIdError(`"${printable(ref)}" is not an article: write article:<id>`);
  const id = isArticleRef(ref) ? ref.slice(ARTICLE_PREFIX.length) : ref;
  if (!id) throw new InvalidArticleIdError(`"${printable(ref)}" names no article: write article:<id>, e.g. article:00353`);
  const problem = objectIdProblem(id);
  if (problem) throw new InvalidArticleIdError(`invalid article id "${printable(id)}": ${problem}`);
  return id;
}

// Repository copies are named by their workflow id too, `copy:<dataset>:<type>`.
export const COPY_PREFIX = 'copy:';

export const isCopyRef = (id: string): boolean => id.startsWith(COPY_PREFIX);

/** The dataset and copy type that `copy:<dataset>:<type>` names; throws naming the argument. */
export function copyOf(ref: string): { datasetId: string; type: CopyType } {
  const parsed = parseCopyId(ref);
  if (!parsed)
    throw new UserError(
      `"${printable(ref)}" is not a copy: write copy:<dataset>:<type> with a dataset id of letters, digits, . _ - and a type of ${COPY_TYPES.join(', ')}`,
    );
  return parsed;
}

/** Object ids, `article:<id>` and `copy:<dataset>:<type>` names, each checked by its own rule. */
export function assertObjectOrArticleIds(ids: readonly string[]): void {
  for (const id of ids) {
    if (isArticleRef(id)) articleIdOf(id);
    else if (isCopyRef(id)) copyOf(id);
    else assertObjectId(id);
  }
}
