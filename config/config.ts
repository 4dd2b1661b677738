// custody's configuration: defaults for one machine, overridden by a JSON file
// (CUSTODY_CONFIG) and by environment variables. Validated with zod at start-up; a bad
// value stops the process with a message that names it.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import ms from 'ms';
import { destinationListSchema } from '../common/destinations';
import { NOTIFICATION_KINDS } from '../common/notifications';
import { storageLocation as location } from './storage-location';
import { windowProblem } from '../common/windows';

/** The checkout (or installed package): the nearest folder above this file with a package.json,
 * whether this runs from config/ under tsx or from dist/config/ compiled. */
export const REPO_ROOT = ((dir: string): string => {
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})(path.resolve(__dirname, '..'));

const duration = z.string().refine(
  (s) => {
    try {
      return ms(s) > 0;
    } catch {
      return false;
    }
  },
  { message: 'must be a duration such as "30s", "5m", "1h" or "14d"' },
);

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}

const retrySchema = z.strictObject({
  initialInterval: duration,
  backoffCoefficient: z.number().min(1),
  maximumInterval: duration,
  maximumAttempts: z.number().int().min(0),
  nonRetryableErrorTypes: z.array(z.string().min(1)),
});

/** A stage's daily hours; a bad time or zone is named in the error. */
const stageWindow = z.strictObject({ from: z.string(), to: z.string(), timeZone: z.string().min(1) }).superRefine((w, ctx) => {
  const problem = windowProblem(w);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
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
      partSize: z
        .number()
        .int()
        .min(5 * 1024 * 1024),
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
    /**
     * The article watch: every `every`, packages that arrived in `articles.source` go to their
     * article's workflow. Objects changed within `settleTime` may still be being written: the next
     * run takes them.
     */
    watchArticles: z.strictObject({ every: duration, catchupWindow: duration, settleTime: duration }),
    /** The fixity audit: every `every`, the next `fixity.share` of the kept and delivered packages is re-hashed. */
    auditFixity: z.strictObject({ every: duration, catchupWindow: duration }),
    /** The scheduled harvest of the sources (`harvest`): one run at a time, every `every`. */
    syncSource: z.strictObject({ every: duration, catchupWindow: duration }),
  }),
  fixity: z.strictObject({
    /** The fraction of packages each audit run re-reads, so a large archive is covered over 1/share runs. */
    share: z.number().gt(0).max(1),
    /** A run takes packages until their sizes would add up past this (always one at least); the next run goes on. */
    maxBytesPerRun: z.number().int().positive().optional(),
  }),
  /** The scheduled harvest: objects new or changed in each source since its cursor are recorded and enqueued. */
  harvest: z.strictObject({
    /** Named sources (a folder or s3://bucket/prefix); null: one source `main` at storage.source. */
    sources: z
      .array(z.strictObject({ name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lower-case letters, digits, - and _'), location }))
      .min(1)
      .nullable()
      .refine((l) => !l || new Set(l.map((s) => s.name)).size === l.length, { message: 'names a source twice' }),
    /** Objects changed more recently than this may still be being written: a later run takes them. */
    settleTime: duration,
    /** Objects enqueued per source per run, at most. */
    maxPerRun: z.number().int().min(1),
    /** A run stops at its cursors once it has run this long; the next run goes on. */
    timeBudget: duration,
    /** How far back a new cursor starts, and how far `custody cursors set` may rewind without --disaster-recovery. */
    maxBackfill: duration,
    /** Objects recorded between two moves of the cursor: a crash re-reads at most this many. */
    batchSize: z.number().int().min(1),
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
  /** The publishing pipeline: where article outputs go, the article store, how packages are named and published. */
  articles: z.strictObject({
    /** Where article packages arrive (a folder or s3://bucket/prefix): the watch schedule sends each new one to its article. */
    source: location,
    /** The site's storage: `preview/<article>/v<version>/run<run>/` and `published/<article>/v<version>/`. */
    site: location,
    /** The public address of that storage, for the links in the article store's records. */
    siteUrl: z.string().url(),
    /** The article store's API; its token comes from ARTICLE_STORE_TOKEN, never from here. */
    store: z.strictObject({ url: z.string().url() }),
    /** Told of every publication (POST, JSON); null: nobody. */
    webhookUrl: z.string().url().nullable(),
    /** A regex with the named groups journal, articleId, status, version and (optional) timestamp; null: the default name form. */
    namePattern: z.string().min(1).nullable(),
    defaultMode: z.enum(['automatic', 'preview']),
    /** First match wins: by article id, by status, or a regex on the package key. */
    modeRules: z.array(
      z.strictObject({
        articleId: z.string().min(1).optional(),
        status: z.enum(['poa', 'vor']).optional(),
        keyPattern: z.string().min(1).optional(),
        mode: z.enum(['automatic', 'preview']),
      }),
    ),
    /** Zip bombs and oversized packages are refused before anything is written. */
    limits: z.strictObject({
      maxFiles: z.number().int().positive(),
      maxTotalBytes: z.number().int().positive(),
      maxCompressionRatio: z.number().positive(),
    }),
    continueAsNewAfter: z.number().int().min(1),
  }),
  /** Repository copies: each version of a dataset deposited, in order, with a deposit API (Zenodo's). */
  copies: z.strictObject({
    /** Datasets: `<dataset>/v<version>/<type>/` holds the files, `<dataset>/v<version>/dataset.json` the deposit metadata. */
    source: location,
    /** The deposit API's base URL; its token comes from DEPOSIT_TOKEN, never from here. */
    depositUrl: z.string().url(),
    defaultMode: z.enum(['automatic', 'preview']),
    /** Checked before anything is deposited: a version outside them is frozen with the reason. */
    guards: z.strictObject({
      maxTotalBytes: z.number().int().positive(),
      /** The API's limit on files per deposition. */
      maxFiles: z.number().int().positive(),
      allowZeroLengthFiles: z.boolean(),
    }),
    /** Retries of one request inside a step (5xx, 429, connection errors), before the step's own retries. */
    requestRetries: z.strictObject({ attempts: z.number().int().min(1).max(20), initialDelay: duration, maxDelay: duration }),
    continueAsNewAfter: z.number().int().min(1),
  }),
  /** Delivery: each preserved package and published article copied to the destinations its rules select. */
  delivery: z
    .strictObject({
      /** Preserved packages are kept here when a rule delivers them (the working copy is removed at confirm). */
      packages: location,
      /** Each with its name (also the name of its task queue, custody-deliver-<name>). */
      destinations: destinationListSchema,
      /** Every matching rule adds its destinations. `match` is a regular expression on the object id or article:<id>. */
      rules: z.array(
        z.strictObject({
          pipeline: z.enum(['preservation', 'publishing']),
          match: z.string().min(1).refine(compiles, { message: 'must be a regular expression' }).optional(),
          to: z.array(z.string().min(1)).min(1),
        }),
      ),
      /** A destination that fails is tried again with this backoff, without limit, until it answers. */
      retry: z.strictObject({ initialInterval: duration, backoffCoefficient: z.number().min(1), maximumInterval: duration }),
      /** Deliveries at once per destination, per worker. */
      slots: z.number().int().min(1),
    })
    .superRefine((d, ctx) => {
      d.rules.forEach((r, i) =>
        r.to.forEach((name, j) => {
          if (!d.destinations.some((x) => x.name === name))
            ctx.addIssue({
              code: 'custom',
              path: ['rules', i, 'to', j],
              message: `names no destination (delivery.destinations has ${d.destinations.map((x) => x.name).join(', ') || 'none'})`,
            });
        }),
      );
    }),
  /**
   * Webhook notifications (POST, JSON) of final failures, rejections, automatic freezes, fixity
   * problems and work held longer than `heldLongerThan`; the `notify` Schedule sends them every
   * `every`, each retried with backoff until it is delivered. No URL: nothing is sent.
   */
  notifications: z
    .strictObject({
      /** Where every kind goes, unless `urls` names another for it; null: only the kinds in `urls` are sent. */
      url: z.string().url().nullable(),
      urls: z.record(z.string(), z.string().url()).superRefine((urls, ctx) => {
        for (const kind of Object.keys(urls))
          if (!(NOTIFICATION_KINDS as readonly string[]).includes(kind))
            ctx.addIssue({ code: 'custom', path: [kind], message: `names no kind of notification: expected one of ${NOTIFICATION_KINDS.join(', ')}` });
      }),
      /** The kinds to send; the others are recorded and set aside. */
      events: z.array(z.enum(NOTIFICATION_KINDS)).refine((l) => new Set(l).size === l.length, { message: 'names a kind twice' }),
      /** The environment variable holding a bearer token for the POSTs (never the token itself); null: none. */
      tokenEnv: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be the name of an environment variable, such as NOTIFY_TOKEN')
        .nullable(),
      heldLongerThan: duration,
      every: duration,
      /** A failed POST is tried again after initialInterval, doubling up to maximumInterval, without limit. */
      retry: z.strictObject({ initialInterval: duration, maximumInterval: duration }),
    })
    .superRefine((n, ctx) => {
      if (ms(n.retry.maximumInterval) < ms(n.retry.initialInterval))
        ctx.addIssue({ code: 'custom', path: ['retry', 'maximumInterval'], message: `must be at least retry.initialInterval (${n.retry.initialInterval})` });
    }),
  /** Daily hours of a stage's queue, such as { download: { from: '20:00', to: '04:00', timeZone: 'Europe/Berlin' } }: its steps wait outside them. */
  windows: z.strictObject({ download: stageWindow.optional(), package: stageWindow.optional(), submit: stageWindow.optional() }),
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

/** The harvest's sources as configured, or the one default: `main` at storage.source. */
export function harvestSources(config: Config): Array<{ name: string; location: string }> {
  return config.harvest.sources ?? [{ name: 'main', location: config.storage.source }];
}

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
    schedules: {
      syncProcessedSips: { every: '1h', catchupWindow: '1d' },
      watchArticles: { every: '5m', catchupWindow: '1h', settleTime: '30s' },
      auditFixity: { every: '7d', catchupWindow: '1d' },
      syncSource: { every: '1d', catchupWindow: '1d' },
    },
    fixity: { share: 0.1 },
    harvest: { sources: null, settleTime: '1h', maxPerRun: 1000, timeBudget: '1h', maxBackfill: '30d', batchSize: 50 },
    temporal: { namespace: 'custody', retention: '30d', webUiUrl: 'http://localhost:8233' },
    worker: {
      queues: ['io', 'download', 'package', 'submit'],
      slots: { io: 20, download: 4, package: 2, submit: 4 },
      shutdownGrace: '30s',
    },
    articles: {
      source: path.join(dataDir, 'incoming'),
      site: path.join(dataDir, 'site'),
      siteUrl: 'http://localhost:8392/site',
      store: { url: 'http://127.0.0.1:8391' },
      webhookUrl: null,
      namePattern: null,
      defaultMode: 'automatic',
      modeRules: [],
      limits: { maxFiles: 2000, maxTotalBytes: 20 * 1024 ** 3, maxCompressionRatio: 100 },
      continueAsNewAfter: 50,
    },
    copies: {
      source: path.join(dataDir, 'datasets'),
      depositUrl: 'http://127.0.0.1:8393',
      defaultMode: 'automatic',
      guards: { maxTotalBytes: 50 * 1000 ** 3, maxFiles: 100, allowZeroLengthFiles: false },
      requestRetries: { attempts: 4, initialDelay: '500ms', maxDelay: '10s' },
      continueAsNewAfter: 50,
    },
    delivery: {
      packages: path.join(dataDir, 'packages'),
      destinations: [],
      rules: [],
      retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '5m' },
      slots: 4,
    },
    notifications: {
      url: null,
      urls: {},
      events: [...NOTIFICATION_KINDS],
      tokenEnv: null,
      heldLongerThan: '1d',
      every: '1m',
      retry: { initialInterval: '30s', maximumInterval: '1h' },
    },
    windows: {},
    heartbeatTimeout: '1m',
    retry: { download: defaultRetry, package: defaultRetry, submit: defaultRetry, io: defaultRetry },
  };
}

export class ConfigError extends Error {}

type Json = { [k: string]: unknown };

const isSettings = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Later settings win, objects merge key by key. With keepMistakes (layers the user gave), an
 * object does not replace what an earlier layer set to null, a list or a plain value: that
 * mistake stays in place to be reported, rather than vanish behind a later override.
 */
function deepMerge(base: Json, over: Json, keepMistakes = false): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    const value = isSettings(v) && isSettings(b) ? deepMerge(b, v, keepMistakes) : keepMistakes && isSettings(v) && b !== undefined ? b : v;
    // defineProperty: a "__proto__" key in the file is a (mistyped) setting, not the object's prototype.
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
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
  CUSTODY_ARTICLE_STORE_URL: (v) => ({ articles: { store: { url: v } } }),
  CUSTODY_ARTICLE_SOURCE: (v) => ({ articles: { source: v } }),
  CUSTODY_DATASET_SOURCE: (v) => ({ copies: { source: v } }),
  CUSTODY_DEPOSIT_URL: (v) => ({ copies: { depositUrl: v } }),
  CUSTODY_TRANSFER: (v) => ({ service: { transfer: v } }),
  CUSTODY_VERDICT_POLL_AFTER: (v) => ({ verdict: { pollAfter: v } }),
  CUSTODY_VERDICT_DEADLINE: (v) => ({ verdict: { deadline: v } }),
  // The dev server's UI port (temporal-config/dev-server.env) moves the printed links with it;
  // a full address (another host, https) wins over the port: later layers win.
  CUSTODY_TEMPORAL_UI_PORT: (v) => ({ temporal: { webUiUrl: `http://localhost:${v}` } }),
  CUSTODY_TEMPORAL_UI_URL: (v) => ({ temporal: { webUiUrl: v } }),
};

/** One layer of settings and where it came from (a file, an environment variable, the caller). */
interface Layer {
  source: string;
  settings: Json;
}

function valueAt(settings: unknown, at: readonly PropertyKey[]): unknown {
  let v = settings;
  for (const key of at) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/** The layer that gave the value at a path: the last one holding that very value, else the last to set the key. */
function sourceOf(at: readonly PropertyKey[], merged: Json, layers: Layer[]): string {
  const latestFirst = [...layers].reverse();
  const value = valueAt(merged, at);
  const layer = latestFirst.find((l) => valueAt(l.settings, at) === value) ?? latestFirst.find((l) => valueAt(l.settings, at) !== undefined);
  return layer?.source ?? 'defaults';
}

function keyName(at: readonly PropertyKey[]): string {
  return at.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('') || '(top level)';
}

function shown(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** zod's "Invalid input: expected number, received null" without what the line already shows. */
function expectation(message: string): string {
  return message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '').replace(/, received \w+$/, '');
}

/** Settings at the level of a path, for a misspelt key: what could have been meant. */
function settingsAt(at: readonly PropertyKey[]): string {
  const here = valueAt(defaultConfig(), at);
  return isSettings(here) ? Object.keys(here).join(', ') : '';
}

/**
 * One line per problem: the key, the value given, where it came from (the file or environment
 * variable that set it) and what is expected.
 */
export function formatConfigError(error: z.ZodError, merged: Json, layers: Layer[]): string {
  return error.issues
    .flatMap((i) => {
      if (i.code === 'unrecognized_keys')
        return i.keys.map((k) => {
          const at = [...i.path, k];
          return `unknown config key ${keyName(at)} = ${shown(valueAt(merged, at))} (from ${sourceOf(at, merged, layers)}): expected one of ${settingsAt(i.path)}`;
        });
      return [
        `invalid config value ${keyName(i.path)} = ${shown(valueAt(merged, i.path))} (from ${sourceOf(i.path, merged, layers)}): ${expectation(i.message)}`,
      ];
    })
    .join('\n');
}

function readConfigFile(file: string): Json {
  let settings: unknown;
  try {
    settings = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file} (CUSTODY_CONFIG): ${(e as Error).message}`);
  }
  if (!isSettings(settings))
    throw new ConfigError(
      `invalid config file ${file} (CUSTODY_CONFIG): ${shown(settings)} given, expected a JSON object of settings such as {"dataDir": "/srv/custody"}`,
    );
  return settings;
}

/**
 * Loads the configuration: defaults, then the JSON file named by CUSTODY_CONFIG, single-value
 * environment overrides and the caller's layers of overrides, in that order, each deep-merged.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, ...overrides: Json[]): Config {
  const layers: Layer[] = [];
  if (env.CUSTODY_CONFIG) layers.push({ source: env.CUSTODY_CONFIG, settings: readConfigFile(env.CUSTODY_CONFIG) });
  for (const [name, toJson] of Object.entries(ENV_OVERRIDES)) {
    const v = env[name];
    if (v !== undefined && v !== '') layers.push({ source: name, settings: toJson(v) });
  }
  for (const settings of overrides) layers.push({ source: 'the settings of the command', settings });
  // The settings given (file, environment, overrides) first: the defaults of the folders inside
  // the data folder (work, reports, transfer, ledger) follow the data folder they name.
  const given = layers.reduce<Json>((merged, l) => deepMerge(merged, l.settings, true), {});
  const dataDir = typeof given.dataDir === 'string' && given.dataDir ? path.resolve(given.dataDir) : undefined;
  const merged = deepMerge(defaultConfig(dataDir) as unknown as Json, given);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatConfigError(parsed.error, merged, layers));
  return parsed.data;
}
