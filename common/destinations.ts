// Delivery destinations as configured, and the records that pass between a delivery's steps
// (what custody holds, what a destination has, what was sent). No Node imports: config/ and
// workflows import this module; the clients live in destinations/.
import { z } from 'zod';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/**
 * Why `name` cannot be a file's name at a destination, or undefined when it can: a relative path
 * with '/' separators and no empty, "." or ".." segment, so no destination writes outside its root.
 */
export function destinationPathProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.includes('\0')) return 'it contains a NUL character';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'it is absolute';
  if (name.includes('\\')) return "it contains '\\' (names use '/' separators)";
  const segments = name.split('/');
  if (segments.includes('..')) return "it contains '..'";
  if (segments.some((s) => s === '' || s === '.')) return "it has an empty or '.' segment";
  return undefined;
}

/** A file custody delivers: the bytes it holds. */
export const destinationFileSchema = z.strictObject({
  /** Relative path at the destination, '/' separators. */
  name: z.string().superRefine((n, ctx) => {
    const problem = destinationPathProblem(n);
    if (problem) ctx.addIssue({ code: 'custom', message: `"${n}" cannot be a destination path: ${problem}` });
  }),
  size: z.number().int().min(0),
  /** Of the bytes custody holds (before any compression). */
  sha256: sha256Hex,
});
export type DestinationFile = z.infer<typeof destinationFileSchema>;

/**
 * What a destination holds for a file, described as the file custody holds: `size` and `sha256`
 * are of the uncompressed bytes also when the destination keeps them gzip-compressed, so
 * `present.size === file.size && present.sha256 === file.sha256` (isDelivered) decides "already
 * there" the same way whether or not the destination compresses. `name` is as stored (".gz").
 */
export const presentSchema = z.strictObject({ name: z.string(), size: z.number().int().min(0), sha256: sha256Hex });
export type Present = z.infer<typeof presentSchema>;

/** What one send stored: the bytes as they went over the wire and were kept (compressed ones when compressed). */
export const sendResultSchema = z.strictObject({
  /** As stored, e.g. with ".gz" when compressed. */
  name: z.string(),
  /** Bytes stored. */
  size: z.number().int().min(0),
  /** Of the bytes stored. */
  sha256: sha256Hex,
  compressed: z.boolean(),
});
export type SendResult = z.infer<typeof sendResultSchema>;

/** The name a file is stored under: compression adds ".gz". */
export const storedNameOf = (name: string, compressed: boolean): string => (compressed ? `${name}.gz` : name);

/** True when the destination's copy is the file custody holds (compressed or not): the delivery can be skipped. */
export const isDelivered = (file: DestinationFile, present: Present | undefined): boolean =>
  present !== undefined && present.size === file.size && present.sha256 === file.sha256;

/** A destination's name in config, logs and the ledger: "mirror-eu". */
export const destinationNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** The same rules as config/storage-location.ts's parseStorageUrl for s3://, without Node, for config. */
function s3LocationProblem(location: string): string | undefined {
  const m = /^s3:\/\/([^/?#]+)\/?([^?#]*)$/.exec(location);
  if (!m) return `"${location}" is not of the form s3://bucket/prefix`;
  const [, bucket, prefix] = m;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) return `"${bucket}" is not a valid bucket name (3-63 lower-case letters, digits, dots, hyphens)`;
  if (prefix.split('/').some((s, i, all) => (s === '' && i < all.length - 1) || s === '.' || s === '..'))
    return `"${location}": the prefix has an empty, "." or ".." segment`;
  return undefined;
}

const common = {
  name: destinationNameSchema,
  /** Gzip each file on its way; it is stored as "<name>.gz". */
  compress: z.boolean().default(false),
};

export const folderDestinationSchema = z.strictObject({
  kind: z.literal('folder'),
  ...common,
  /** A local or mounted folder; files are written under it. */
  path: z.string().min(1),
});

export const s3DestinationSchema = z.strictObject({
  kind: z.literal('s3'),
  ...common,
  /** s3://bucket/prefix. Credentials come from the AWS SDK's standard chain, never from here. */
  location: z.string().superRefine((v, ctx) => {
    const problem = s3LocationProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** An S3 API server other than AWS; else custody's storage.s3 settings, then the SDK's chain. */
  endpoint: z.url().optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  /** Larger uploads go in parts of this many bytes (at least 5 MiB). */
  partSize: z
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .optional(),
});

export const httpDestinationSchema = z.strictObject({
  kind: z.literal('http'),
  ...common,
  /** The receiver's base URL (upload_file, file_info), with no credentials in it: it is logged. */
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), {
    message: 'must not carry credentials: put the token in the environment variable named by tokenEnv',
  }),
  /** The environment variable holding the bearer token (never the token itself). */
  tokenEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
    .optional(),
  /** A request that makes no progress for this long fails as unavailable. 30 s unless given. */
  timeoutMs: z.number().int().positive().optional(),
});

export const destinationConfigSchema = z.discriminatedUnion('kind', [folderDestinationSchema, s3DestinationSchema, httpDestinationSchema]);
export type DestinationConfig = z.infer<typeof destinationConfigSchema>;
/** As written in a config file: `compress` may be left out. */
export type DestinationConfigInput = z.input<typeof destinationConfigSchema>;

/** Several destinations, each name once. */
export const destinationListSchema = z.array(destinationConfigSchema).superRefine((list, ctx) => {
  const seen = new Set<string>();
  list.forEach((d, i) => {
    if (seen.has(d.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `destination "${d.name}" is configured twice` });
    seen.add(d.name);
  });
});
