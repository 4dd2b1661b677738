// Article package names: the S3 key (or file name) is the first thing the publishing pipeline
// trusts, since it decides the entity workflow (`article:<articleId>`) and the order of versions.
// A name that does not parse is refused with the key in the message, so an operator can find
// the upload that caused it.

export type ArticleStatus = 'poa' | 'vor';

export interface PackageName {
  /** The key as given, prefix included. */
  key: string;
  /** The last segment of the key: the name the pattern was matched against. */
  fileName: string;
  journal: string;
  articleId: string;
  status: ArticleStatus;
  version: number;
  /** `yyyymmddHHMMSS` as written in the name (it sorts as a string); absent when the name has none. */
  timestamp?: string;
}

export type PackageNameRefusalKind = 'empty-key' | 'unsafe-key' | 'no-match' | 'bad-status' | 'bad-version' | 'bad-timestamp' | 'bad-id';

export class PackageNameRefused extends Error {
  override readonly name = 'PackageNameRefused';
  constructor(
    readonly kind: PackageNameRefusalKind,
    readonly key: string,
    detail: string,
  ) {
    super(`Package key ${JSON.stringify(key)}: ${detail}`);
  }
}

/** A configured pattern that cannot work (a start-up error, not a bad package). */
export class PackageNamePatternInvalid extends Error {
  override readonly name = 'PackageNamePatternInvalid';
  constructor(
    readonly pattern: string,
    detail: string,
  ) {
    super(`Package name pattern /${pattern}/: ${detail}`);
  }
}

/**
 * `<journal>-<articleId>-<poa|vor>-v<version>[-<yyyymmddHHMMSS>].zip`, matched against the last
 * segment of the key. The version group takes any digits so that `v0`, `v01` and huge numbers get
 * a message of their own instead of "does not match". `.ZIP` is accepted (some upload tools
 * upper-case extensions); mixed case is not.
 */
export const DEFAULT_PACKAGE_NAME_PATTERN =
  /^(?<journal>[a-z][a-z0-9]*)-(?<articleId>[0-9]+)-(?<status>poa|vor)-v(?<version>[0-9]+)(?:-(?<timestamp>[0-9]{14}))?\.(?:zip|ZIP)$/;

export const DEFAULT_PACKAGE_NAME_DESCRIPTION = '<journal>-<articleId>-<poa|vor>-v<version>[-<yyyymmddHHMMSS>].zip, e.g. elife-00353-vor-v1-20121213000000.zip';

const REQUIRED_GROUPS = ['journal', 'articleId', 'status', 'version'] as const;
const KNOWN_GROUPS = new Set<string>([...REQUIRED_GROUPS, 'timestamp']);

export interface PackageNameOptions {
  /** A regex with the named groups journal, articleId, status, version and optionally timestamp. */
  pattern?: RegExp;
  /** What a valid name looks like, for the refusal message; defaults to the default pattern's description. */
  description?: string;
}

/**
 * Checks a configured pattern once, at start-up: the named groups it must have, and no `g`/`y`
 * flag (those make `exec` stateful, so the same key would match on one call and not the next).
 */
export function compilePackageNamePattern(source: string, flags = ''): RegExp {
  let pattern: RegExp;
  try {
    pattern = new RegExp(source, flags);
  } catch (err) {
    throw new PackageNamePatternInvalid(source, `not a regular expression (${(err as Error).message})`);
  }
  checkPattern(pattern);
  return pattern;
}

function checkPattern(pattern: RegExp): void {
  if (pattern.global || pattern.sticky) throw new PackageNamePatternInvalid(pattern.source, 'the g and y flags make matching stateful; drop them');
  // Every named group is a key of `groups` even when it does not take part in the match, so an
  // alternative that matches the empty string lists the pattern's groups.
  const groups = new RegExp(`(?:${pattern.source})|`, pattern.flags).exec('')?.groups ?? {};
  const names = Object.keys(groups);
  const missing = REQUIRED_GROUPS.filter((group) => !names.includes(group));
  if (missing.length > 0) throw new PackageNamePatternInvalid(pattern.source, `missing named group(s) ${missing.join(', ')}`);
  const unknown = names.filter((name) => !KNOWN_GROUPS.has(name));
  if (unknown.length > 0)
    throw new PackageNamePatternInvalid(pattern.source, `unknown named group(s) ${unknown.join(', ')} (known: ${[...KNOWN_GROUPS].join(', ')})`);
}

// S3 keys are at most 1024 bytes; anything longer did not come from a bucket.
const MAX_KEY_BYTES = 1024;
// Ids end up in workflow ids, ledger rows and folder names.
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function parsePackageName(key: string, options: PackageNameOptions = {}): PackageName {
  const pattern = options.pattern ?? DEFAULT_PACKAGE_NAME_PATTERN;
  if (options.pattern) checkPattern(pattern);
  const expected = options.description ?? (options.pattern ? `a name matching /${pattern.source}/` : DEFAULT_PACKAGE_NAME_DESCRIPTION);

  if (key.trim() === '') throw new PackageNameRefused('empty-key', key, `empty key; expected ${expected}`);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new PackageNameRefused('unsafe-key', key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new PackageNameRefused('unsafe-key', key, 'contains control characters');
  // A later stage may join the key to a local folder; a backslash is a separator on Windows.
  if (key.includes('\\')) throw new PackageNameRefused('unsafe-key', key, 'contains a backslash');
  const segments = key.split('/');
  if (segments.some((segment) => segment === '..' || segment === '.')) throw new PackageNameRefused('unsafe-key', key, "contains a '.' or '..' segment");
  const fileName = segments[segments.length - 1];
  if (fileName === '') throw new PackageNameRefused('no-match', key, `ends with '/' (a folder, not a package); expected ${expected}`);

  const groups = pattern.exec(fileName)?.groups;
  if (!groups) throw new PackageNameRefused('no-match', key, `file name ${JSON.stringify(fileName)} does not match; expected ${expected}`);

  const { journal, articleId } = groups;
  for (const [part, value] of [
    ['journal', journal],
    ['articleId', articleId],
  ] as const) {
    if (value === undefined || !SAFE_ID.test(value)) {
      throw new PackageNameRefused('bad-id', key, `${part} ${JSON.stringify(value ?? '')} is not a plain identifier (letters, digits, '.', '_', '-')`);
    }
  }

  const status = (groups.status ?? '').toLowerCase();
  if (status !== 'poa' && status !== 'vor')
    throw new PackageNameRefused('bad-status', key, `status ${JSON.stringify(groups.status ?? '')} is neither poa nor vor`);

  const version = parseVersion(key, groups.version ?? '');
  const timestamp = groups.timestamp;
  if (timestamp !== undefined) checkTimestamp(key, timestamp);

  return { key, fileName, journal, articleId, status, version, ...(timestamp !== undefined ? { timestamp } : {}) };
}

function parseVersion(key: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new PackageNameRefused('bad-version', key, `version ${JSON.stringify(text)} is not a whole number`);
  // v01 and v1 would be two names for one version, and the version is written back into file names.
  if (text.length > 1 && text.startsWith('0')) throw new PackageNameRefused('bad-version', key, `version ${text} has a leading zero`);
  const version = Number(text);
  if (version < 1) throw new PackageNameRefused('bad-version', key, 'version 0: versions start at 1');
  if (!Number.isSafeInteger(version)) throw new PackageNameRefused('bad-version', key, `version ${text} is too large`);
  return version;
}

function checkTimestamp(key: string, text: string): void {
  const match = /^([0-9]{4})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})$/.exec(text);
  if (!match) throw new PackageNameRefused('bad-timestamp', key, `timestamp ${JSON.stringify(text)} is not yyyymmddHHMMSS`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const problem =
    year < 1900
      ? `year ${year} is before 1900`
      : month < 1 || month > 12
        ? `month ${month} does not exist`
        : day < 1 || day > daysInMonth
          ? `day ${day} does not exist in ${year}-${String(month).padStart(2, '0')}`
          : hour > 23 || minute > 59 || second > 59
            ? `time ${match[4]}:${match[5]}:${match[6]} does not exist`
            : undefined;
  if (problem) throw new PackageNameRefused('bad-timestamp', key, `timestamp ${text} is not a real date-time: ${problem}`);
}

/** The default layout's name for a package, e.g. to write test and demo packages. */
export function formatPackageName(name: Pick<PackageName, 'journal' | 'articleId' | 'status' | 'version' | 'timestamp'>): string {
  return `${name.journal}-${name.articleId}-${name.status}-v${name.version}${name.timestamp !== undefined ? `-${name.timestamp}` : ''}.zip`;
}
