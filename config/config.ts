// custody's configuration: defaults for one machine, overridden by a JSON file
// (CUSTODY_CONFIG) and by environment variables. Validated with zod at start-up; a bad
// value stops the process with a message that names it.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { msToNumber } from '@temporalio/common/lib/time';
import { storageLocation as location } from '../activities/storage/location';

export const REPO_ROOT = path.resolve(__dirname, '..');

const duration = z.string().refine(
  (s) => {
    try {
      return msToNumber(s as never) > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be a duration such as "30s", "5m", "1h" or "14d"' },
);

const retrySchema = z.strictObject({
  initialInterval: duration,
  backoffCoefficient: z.number().min(1),
  maximumInterval: duration,
  maximumAttempts: z.number().int().min(0),
  nonRetryableErrorTypes: z.array(z.string().min(1)),
});

export const configSchema = z.strictObject({
  /** Where custody keeps its state on this machine: working folders, ledger, reports. */
  dataDir: z.string().min(1),
  /**
   * Where bytes live, each a folder path, file:// URL or s3://bucket/prefix. Credentials for S3
   * come from the AWS SDK's standard chain (environment, profile, instance role), never from here.
   */
  storage: z.strictObject({
    /** The collection: one folder (or S3 prefix) per object, object.json beside its files. */
    source: location,
    /** Working files and SIPs between stages; S3 lets download, package and submit run on different machines. */
    work: location,
    /** The service's ingest reports, kept for good. */
    reports: location,
    s3: z.strictObject({
      /** An S3 API server other than AWS; else AWS_ENDPOINT_URL_S3 or the profile. */
      endpoint: z.string().url().optional(),
      /** Else AWS_REGION or the profile. */
      region: z.string().min(1).optional(),
      /** Bucket in the path rather than the host name, as most S3-compatible servers need. */
      forcePathStyle: z.boolean(),
      /** Larger uploads go in parts of this many bytes (at least 5 MiB, S3's smallest part). */
      partSize: z.number().int().min(5 * 1024 * 1024),
    }),
  }),
  /** Ledger database: a postgres:// URL, else a SQLite file path. */
  databaseUrl: z.string().min(1),
  /** Organisation named in bag-info.txt and as the METS agent. */
  organization: z.string().min(1),
  sip: z.strictObject({
    algorithms: z.array(z.enum(['md5', 'sha256', 'sha512'])).min(1),
    /** Formats custody packages; others freeze the object before packaging. Null: the service alone decides. */
    acceptedFormats: z.array(z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type such as image/png')).nullable(),
  }),
  /** Checked before any work starts, so one odd object cannot clog the shared workers. */
  guards: z.strictObject({
    maxObjectBytes: z.number().int().positive(),
    maxFiles: z.number().int().positive(),
    allowZeroLengthFiles: z.boolean(),
    /** Files changed more recently than this are still being written: the object is deferred. */
    settleTime: duration,
  }),
  service: z.strictObject({
    /** Base URL of the preservation service's report API. */
    url: z.string().url(),
    /** Where the service takes transfers from: a folder path, file:// URL or s3://bucket/prefix. */
    transfer: location,
  }),
  verdict: z.strictObject({
    /** The workflow asks the service itself after this long without a signal. */
    pollAfter: duration,
    /** …and then every pollAfter until the deadline, when it ends in "no verdict". */
    deadline: duration,
  }),
  schedules: z.strictObject({
    syncProcessedSips: z.strictObject({ every: duration, catchupWindow: duration }),
  }),
  temporal: z.strictObject({
    /** Used when neither TEMPORAL_NAMESPACE nor a profile names one. */
    namespace: z.string().min(1),
    /** Namespace retention of closed histories set by the dev-server script. */
    retention: duration,
    webUiUrl: z.string().url(),
  }),
  worker: z.strictObject({
    queues: z.array(z.enum(['io', 'download', 'package', 'submit'])).min(1),
    slots: z.strictObject({
      io: z.number().int().min(1),
      download: z.number().int().min(1),
      package: z.number().int().min(1),
      submit: z.number().int().min(1),
    }),
    /** Running activities get this long to finish on SIGTERM/SIGINT. */
    shutdownGrace: duration,
  }),
  /** How soon a dead worker's data-moving step is retried elsewhere. */
  heartbeatTimeout: duration,
  retry: z.strictObject({
    download: retrySchema,
    package: retrySchema,
    submit: retrySchema,
    io: retrySchema,
  }),
});

export type Config = z.infer<typeof configSchema>;

const defaultRetry = { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '5m', maximumAttempts: 10, nonRetryableErrorTypes: [] };

export function defaultConfig(dataDir = path.join(REPO_ROOT, '.data')): Config {
  return {
    dataDir,
    storage: {
      source: path.join(REPO_ROOT, 'examples', 'collection'),
      work: path.join(dataDir, 'work'),
      reports: path.join(dataDir, 'reports'),
      s3: { forcePathStyle: false, partSize: 16 * 1024 * 1024 },
    },
    databaseUrl: path.join(dataDir, 'ledger.sqlite'),
    organization: 'custody demo archive',
    sip: { algorithms: ['sha256', 'sha512'], acceptedFormats: null },
    guards: { maxObjectBytes: 50 * 1024 ** 3, maxFiles: 100_000, allowZeroLengthFiles: false, settleTime: '60s' },
    service: { url: 'http://127.0.0.1:8390', transfer: path.join(dataDir, 'service', 'transfer') },
    verdict: { pollAfter: '2h', deadline: '14d' },
    schedules: { syncProcessedSips: { every: '1h', catchupWindow: '1d' } },
    temporal: { namespace: 'custody', retention: '30d', webUiUrl: 'http://localhost:8233' },
    worker: {
      queues: ['io', 'download', 'package', 'submit'],
      slots: { io: 20, download: 4, package: 2, submit: 4 },
      shutdownGrace: '30s',
    },
    heartbeatTimeout: '1m',
    retry: { download: defaultRetry, package: defaultRetry, submit: defaultRetry, io: defaultRetry },
  };
}

export class ConfigError extends Error {}

type Json = { [k: string]: unknown };

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)
        ? deepMerge(b as Json, v as Json)
        : v;
  }
  return out;
}

/** Environment variables that override single settings, for scripts and tests. */
const ENV_OVERRIDES: Record<string, (v: string) => Json> = {
  CUSTODY_DATA_DIR: (v) => ({ dataDir: v }),
  CUSTODY_SOURCE: (v) => ({ storage: { source: v } }),
  CUSTODY_WORK: (v) => ({ storage: { work: v } }),
  DATABASE_URL: (v) => ({ databaseUrl: v }),
  CUSTODY_SERVICE_URL: (v) => ({ service: { url: v } }),
  CUSTODY_TRANSFER: (v) => ({ service: { transfer: v } }),
  CUSTODY_VERDICT_POLL_AFTER: (v) => ({ verdict: { pollAfter: v } }),
  CUSTODY_VERDICT_DEADLINE: (v) => ({ verdict: { deadline: v } }),
};

export function formatConfigError(error: z.ZodError, source: string): string {
  return error.issues
    .map((i) => `invalid config value ${i.path.join('.') || '(root)'} (from ${source}): ${i.message}`)
    .join('\n');
}

/**
 * Loads the configuration: defaults, then the JSON file named by CUSTODY_CONFIG, single-value
 * environment overrides and the caller's layers of overrides, in that order, each deep-merged.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, ...overrides: Json[]): Config {
  // The settings given (file, environment, overrides) first: the defaults of the folders inside
  // the data folder (work, reports, transfer, ledger) follow the data folder they name.
  let given: Json = {};
  const sources: string[] = ['defaults'];
  if (env.CUSTODY_CONFIG) {
    let fileJson: Json;
    try {
      fileJson = JSON.parse(fs.readFileSync(env.CUSTODY_CONFIG, 'utf8')) as Json;
    } catch (e) {
      throw new ConfigError(`cannot read config file ${env.CUSTODY_CONFIG} (CUSTODY_CONFIG): ${(e as Error).message}`);
    }
    given = deepMerge(given, fileJson);
    sources.push(env.CUSTODY_CONFIG);
  }
  for (const [name, toJson] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      given = deepMerge(given, toJson(v));
      sources.push(name);
    }
  }
  for (const layer of overrides) given = deepMerge(given, layer);
  const dataDir = typeof given.dataDir === 'string' && given.dataDir ? path.resolve(given.dataDir) : undefined;
  const merged = deepMerge(defaultConfig(dataDir) as unknown as Json, given);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatConfigError(parsed.error, sources.join(' + ')));
  return parsed.data;
}
