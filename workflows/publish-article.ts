// publishArticle: one entity workflow per article, id `article:<articleId>`, fed packages by
// signal-with-start. Versions are handled strictly in order: a package waits for its
// predecessor's publication, a version at or below the published one is recorded and skipped.
// Each package: fetch → expand → validate → build → deposit preview → (approval) → publish.
// A silent update (an Update) replaces the published version's files and record in place.
import {
  ApplicationFailure,
  ContinueAsNew,
  condition,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { createActivities } from '../activities';
import {
  ARTICLE_TASK_QUEUES,
  approveUpdate,
  articleFreezeUpdate,
  articlePackageSignal,
  articleReenqueueUpdate,
  articleUnfreezeUpdate,
  articleStateQuery,
  modeFor,
  packageIdentity,
  rejectUpdate,
  silentUpdateUpdate,
  type ArticlePackage,
  type ArticleQueueRole,
  type ArticleStage,
  type ArticleState,
  type PublishArticleInput,
} from '../common/articles';
import { AUTOMATIC_FREEZER } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { describe, unwrap } from './kit/failures';
import { continueAsNewUnlessWorkArrives } from './kit/continue-as-new';
import { OperatorState } from './kit/operator-state';
import { retryPolicy } from './kit/retry';
import { StageBook } from './kit/stage-book';
import { startDelivery } from './kit/delivery';

type Activities = ReturnType<typeof createActivities>;

/** Failures no retry of the same package can fix: the package is rejected with the reason. */
const REJECTING_TYPES = ['PackageRefused', 'InvalidArticle', 'InvalidPackageName'];
/** How many handled package identities a run carries over (duplicates older than that are rare). */
const HANDLED_KEPT = 500;

function queueActivities(input: PublishArticleInput, role: ArticleQueueRole, timeouts: Partial<ActivityOptions>) {
  const r = input.settings.retry[role];
  return proxyActivities<Activities>({
    taskQueue: ARTICLE_TASK_QUEUES[role],
    retry: retryPolicy(r),
    ...timeouts,
  });
}

class PackageRejected extends Error {}

export async function publishArticle(input: PublishArticleInput): Promise<ArticleState> {
  const { articleId, settings } = input;
  const moving = { heartbeatTimeout: settings.heartbeatTimeout };
  const { fetchPackage, expandPackage } = queueActivities(input, 'fetch', { startToCloseTimeout: '1h', ...moving });
  const { validatePackage, buildOutputs } = queueActivities(input, 'build', { startToCloseTimeout: '1h', ...moving });
  const { depositPreview, publishVersion, notifyPublished, replacePublished } = queueActivities(input, 'io', { startToCloseTimeout: '10m', ...moving });
  // One ledger write (milliseconds) and no heartbeat: a worker killed during it is noticed only when
  // this runs out, so it is short; a ledger that is down is waited for by the retry policy instead.
  const { recordArticleEvent } = queueActivities(input, 'io', { startToCloseTimeout: '30s' });

  const carried = input.carried ?? { pending: [], handled: [], runs: {} };
  const pending: ArticlePackage[] = [...carried.pending];
  const handled = new Set(carried.handled);
  const runs: Record<number, number> = { ...carried.runs };
  const silentUpdates: Array<{ pkg: ArticlePackage; by: string }> = [];
  const state: ArticleState = { articleId, stage: 'waiting', published: carried.published, pending: [], updatedAt: new Date().toISOString() };
  let packagesThisRun = 0;
  let approval: { version: number; at?: string; by: string } | undefined;
  let rejection: { version: number; reason: string; by: string } | undefined;
  const book = new StageBook<ArticleStage>(articleCustodyState);
  const operator = new OperatorState<ArticleStage>('waiting', {
    async frozen({ reason, by }, stoppedBefore) {
      Object.assign(state, { frozenReason: reason, frozenBy: by });
      await enterStage('frozen', `frozen: ${reason} (by ${by}) — waiting for unfreeze or reenqueue`, { reason, by, stoppedBefore });
    },
    async unfrozen(resumes) {
      Object.assign(state, { frozenReason: undefined, frozenBy: undefined });
      await event('unfrozen', `unfrozen, continuing at ${resumes}`, { version: state.current?.version });
    },
  });
  /** The package the article is working on (state.current shows its summary). */
  let currentPackage: ArticlePackage | undefined;

  const refreshPending = () => {
    pending.sort((a, b) => a.version - b.version);
    state.pending = pending.map((p) => ({ version: p.version, status: p.status, key: p.key }));
  };
  refreshPending();

  setHandler(articleStateQuery, () => state);
  setHandler(articlePackageSignal, (pkg) => {
    // The same bytes fed twice (a feed run again, the watch schedule and a feed) count once.
    const id = packageIdentity(pkg);
    if (handled.has(id) || pending.some((p) => packageIdentity(p) === id) || (currentPackage && packageIdentity(currentPackage) === id)) return;
    pending.push(pkg);
    refreshPending();
    // Idle: say what the article now waits for (e.g. v1 before the v2 that just arrived).
    if (state.stage === 'waiting' && !currentPackage) describeNow(waitingMessage());
  });
  setHandler(
    approveUpdate,
    (request) => {
      const version = request.version ?? state.current!.version;
      approval = { version, at: request.at, by: request.by };
      return { articleId, version, publishAt: request.at };
    },
    {
      validator: (request) => {
        const waiting = state.stage === 'awaiting-approval' || state.stage === 'scheduled';
        if (!waiting || !state.current) throw new Error(`${articleId} has no version waiting for approval (it is ${state.stage})`);
        if (request.version !== undefined && request.version !== state.current.version)
          throw new Error(`${articleId} v${request.version} is not waiting for approval; v${state.current.version} is`);
        if (request.at !== undefined && Number.isNaN(Date.parse(request.at))) throw new Error(`"${request.at}" is not a date-time`);
      },
    },
  );
  setHandler(
    rejectUpdate,
    (request) => {
      const version = request.version ?? state.current!.version;
      rejection = { version, reason: request.reason, by: request.by };
      return { articleId, version };
    },
    {
      validator: (request) => {
        if (!request.reason.trim()) throw new Error('a rejection needs a reason');
        const waiting = state.stage === 'awaiting-approval' || state.stage === 'scheduled' || state.stage === 'rejected' || state.stage === 'failed';
        if (!waiting || !state.current) throw new Error(`${articleId} has no version waiting for a decision (it is ${state.stage})`);
        if (request.version !== undefined && request.version !== state.current.version)
          throw new Error(`${articleId} v${request.version} is not waiting for a decision; v${state.current.version} is`);
      },
    },
  );
  setHandler(
    silentUpdateUpdate,
    (request) => {
      silentUpdates.push({ pkg: request.package, by: request.by });
      return { articleId, version: request.package.version, accepted: true as const };
    },
    {
      validator: ({ package: pkg }) => {
        if (pkg.articleId !== articleId) throw new Error(`the package ${pkg.key} is for article ${pkg.articleId}, not ${articleId}`);
        if (!state.published) throw new Error(`${articleId} has nothing published: a silent update replaces a published version`);
        if (pkg.version !== state.published.version)
          throw new Error(`the package ${pkg.key} is v${pkg.version}; a silent update replaces the published version, v${state.published.version}`);
      },
    },
  );
  operator.install({
    id: articleId,
    stage: () => state.stage,
    since: () => state.updatedAt,
    freeze: articleFreezeUpdate,
    unfreeze: articleUnfreezeUpdate,
    reenqueue: articleReenqueueUpdate,
    frozenAck: (stoppedBefore, frozenAt) => ({ articleId, stoppedBefore, frozenAt }),
    unfrozenAck: (resumes) => ({ articleId, resumes }),
    reenqueuedAck: () => ({ articleId, version: state.current?.version ?? 0 }),
    refuseReenqueue: (stage) =>
      ['rejected', 'failed', 'frozen'].includes(stage) && state.current ? undefined : `${articleId} is ${stage}, not a package waiting for an operator`,
  });

  async function event(kind: string, message: string, extra: { version?: number; stage?: ArticleStage; detail?: unknown } = {}): Promise<string | undefined> {
    const at = new Date().toISOString();
    const key = book.nextKey(kind);
    const recorded = await recordArticleEvent.executeWithOptions({ summary: `${kind}: ${articleId}${extra.version ? ` v${extra.version}` : ''}` }, [
      { articleId, kind, message, version: extra.version, stage: extra.stage, detail: extra.detail, at, key },
    ]);
    state.lastEvent = { at, kind, version: extra.version, message };
    state.updatedAt = at;
    // Histories from before the result carried the build replay it as undefined.
    return (recorded as Partial<typeof recorded> | undefined)?.buildId;
  }

  async function enterStage(stage: ArticleStage, message: string, detail?: unknown): Promise<void> {
    const buildId = await event('stage', message, { version: state.current?.version, stage, detail });
    state.stage = stage;
    // Packages that arrived while the event was being recorded change what an idle article waits for.
    state.details = stage === 'waiting' && !currentPackage ? waitingMessage() : message;
    book.show(stage, state.details, buildId);
  }

  /** The words an operator sees: the state's details and the Web UI's current details. */
  function describeNow(message: string): void {
    state.details = message;
    setCurrentDetails(message);
  }

  /** Before `next`: a freeze holds the article here until unfreeze (or reenqueue of the package). */
  async function checkpoint(next: ArticleStage): Promise<void> {
    if ((await operator.checkpoint(next)) === 'reenqueued') throw new Reenqueued();
  }

  /** Rejected or failed: wait for reenqueue (a new run of the same package) or reject (skip it). */
  async function waitForOperator(stage: 'rejected' | 'failed', error: string): Promise<'again' | 'skip'> {
    state.lastError = error;
    await enterStage(stage, `${stage}: ${error} — waiting for reenqueue, reject or freeze`, { error });
    for (;;) {
      await condition(() => operator.reenqueueBy !== undefined || rejection !== undefined || operator.freezeAsked);
      if (operator.reenqueueBy) return 'again';
      if (rejection) return 'skip';
      try {
        await checkpoint(stage);
      } catch (e) {
        if (e instanceof Reenqueued) return 'again';
        throw e;
      }
      await enterStage(stage, `${stage}: ${error} — waiting for reenqueue, reject or freeze`, { error });
    }
  }

  upsertSearchAttributes([
    { key: SA.pipeline, value: 'publishing' },
    { key: SA.objectId, value: articleId },
    { key: SA.frozen, value: false },
  ]);
  await enterStage('waiting', waitingMessage());

  for (;;) {
    await condition(() => silentUpdates.length > 0 || nextPackage() !== undefined || packagesThisRun >= settings.continueAsNewAfter || operator.freezeAsked);
    if (operator.freezeAsked) {
      await checkpoint('waiting').catch(ignoreReenqueue);
      continue;
    }
    const silent = silentUpdates.shift();
    if (silent) {
      await silentUpdate(silent.pkg, silent.by);
      packagesThisRun++;
      continue;
    }
    const pkg = nextPackage();
    if (pkg) {
      pending.splice(pending.indexOf(pkg), 1);
      refreshPending();
      await handlePackage(pkg);
      remember(pkg);
      packagesThisRun++;
      state.current = undefined;
      currentPackage = undefined;
      await enterStage('waiting', waitingMessage());
      continue;
    }
    // Enough packages in this run: carry the state into a fresh history. A freeze waits in its
    // handler until the loop takes it, and a silent update or package accepted meanwhile is work
    // of this run: either goes round the loop first.
    await continueAsNewUnlessWorkArrives<typeof publishArticle>(
      () => operator.freezeAsked || silentUpdates.length > 0 || nextPackage() !== undefined,
      () => [{ articleId, settings, carried: { published: state.published, pending, handled: [...handled].slice(-HANDLED_KEPT), runs } }],
    );
  }

  /** The next package to handle: a stale one (to record and skip) or the published version's successor. */
  function nextPackage(): ArticlePackage | undefined {
    const publishedVersion = state.published?.version ?? 0;
    return pending.find((p) => p.version <= publishedVersion) ?? pending.find((p) => p.version === publishedVersion + 1);
  }

  function waitingMessage(): string {
    const first = pending[0];
    const expected = (state.published?.version ?? 0) + 1;
    if (first) return `waiting for v${expected} of ${articleId} before v${first.version} (${first.key})`;
    return state.published ? `published v${state.published.version}; waiting for the next package` : `waiting for a package of ${articleId}`;
  }

  function remember(pkg: ArticlePackage): void {
    handled.add(packageIdentity(pkg));
  }

  async function handlePackage(pkg: ArticlePackage): Promise<void> {
    const publishedVersion = state.published?.version ?? 0;
    if (pkg.version <= publishedVersion) {
      const reason =
        pkg.version === publishedVersion
          ? `v${pkg.version} is already published (a change to it is a silent update)`
          : `v${pkg.version} is older than the published v${publishedVersion}`;
      await event('skipped', `skipped ${pkg.key}: ${reason}`, { version: pkg.version, detail: { key: pkg.key, reason } });
      return;
    }
    for (;;) {
      runs[pkg.version] = (runs[pkg.version] ?? 0) + 1;
      const run = runs[pkg.version];
      const mode = modeFor(pkg, settings);
      currentPackage = pkg;
      state.current = { version: pkg.version, status: pkg.status, run, mode, key: pkg.key };
      approval = undefined;
      rejection = undefined;
      operator.reenqueueBy = undefined;
      state.lastError = undefined;
      state.scheduledFor = undefined;
      try {
        await publishOne(pkg, run, mode);
        return;
      } catch (error) {
        if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
        if (error instanceof Reenqueued) continue;
        if (error instanceof PackageRejected) {
          await recordRejection(pkg.version);
          return;
        }
        const failure = unwrap(error);
        const message = describe(failure);
        if (failure instanceof ApplicationFailure && failure.type === 'FreezeArticle') {
          operator.freezeFor(message, AUTOMATIC_FREEZER);
          try {
            await checkpoint('fetching');
          } catch (e) {
            if (e instanceof Reenqueued) continue;
            throw e;
          }
          continue;
        }
        const rejecting = failure instanceof ApplicationFailure && REJECTING_TYPES.includes(failure.type ?? '');
        const next = await waitForOperator(rejecting ? 'rejected' : 'failed', message);
        if (next === 'skip') {
          await recordRejection(pkg.version);
          return;
        }
        await event('reenqueued', `v${pkg.version} reenqueued by ${operator.reenqueueBy}`, { version: pkg.version });
      }
    }
  }

  /** An operator's reject of the version, on record with who and why. */
  async function recordRejection(version: number): Promise<void> {
    // Set by the reject update's handler, which the type checker cannot see from here.
    const r = rejection as { reason: string; by: string } | undefined;
    await event('rejected', `v${version} rejected by ${r?.by}: ${r?.reason}`, { version, detail: r });
  }

  /** One package through every stage; throws to the caller's operator wait on failure. */
  async function publishOne(pkg: ArticlePackage, run: number, mode: 'automatic' | 'preview'): Promise<void> {
    const job = { articleId, version: pkg.version, status: pkg.status, run, key: pkg.key };
    await checkpoint('fetching');
    await enterStage('fetching', `fetching ${pkg.key} (v${pkg.version}, run ${run})`);
    const fetched = await fetchPackage.executeWithOptions({ summary: `fetch ${pkg.key}` }, [{ ...job, location: pkg.location, etag: pkg.etag }]);

    await checkpoint('expanding');
    await enterStage('expanding', `expanding ${pkg.key}`);
    await expandPackage.executeWithOptions({ summary: `expand ${articleId} v${pkg.version}` }, [{ ...job, zipKey: fetched.zipKey }]);

    await checkpoint('validating');
    await enterStage('validating', `validating the article XML of ${articleId} v${pkg.version}`);
    const valid = await validatePackage.executeWithOptions({ summary: `validate ${articleId} v${pkg.version}` }, [job]);

    await checkpoint('building');
    await enterStage('building', `building the web outputs of ${articleId} v${pkg.version}: ${valid.title}`);
    await buildOutputs.executeWithOptions({ summary: `build ${articleId} v${pkg.version}` }, [job]);

    await checkpoint('depositing');
    await enterStage('depositing', `depositing the preview of ${articleId} v${pkg.version}`);
    const preview = await depositPreview.executeWithOptions({ summary: `preview ${articleId} v${pkg.version}` }, [job]);

    if (mode === 'preview') await awaitApproval(pkg.version, preview.previewUrl);
    else approval = { version: pkg.version, by: 'custody (automatic mode)' };

    await checkpoint('publishing');
    await enterStage('publishing', `publishing ${articleId} v${pkg.version}`);
    const published = await publishVersion.executeWithOptions({ summary: `publish ${articleId} v${pkg.version}` }, [{ ...job, approvedBy: approval!.by }]);
    state.published = { version: pkg.version, status: pkg.status, at: published.at, url: published.url };
    await enterStage('published', `published ${articleId} v${pkg.version}: ${published.url}`, { url: published.url, approvedBy: approval!.by });
    const item = {
      itemId: `article:${articleId}`,
      storage: 'site' as const,
      prefix: `published/${articleId}/v${pkg.version}`,
      as: `${articleId}/v${pkg.version}`,
    };
    await operator.drainGate('delivery', true);
    await startDelivery(settings.delivery, 'publishing', item, approval!.by);
    // The publication stands whatever the webhook does: a receiver that stays down past the
    // retries is on record (and in lastError), and the article goes on to its next version.
    try {
      await notifyPublished.executeWithOptions({ summary: `notify ${articleId} v${pkg.version}` }, [{ ...job, at: published.at, url: published.url }]);
    } catch (error) {
      if (isCancellation(error)) throw error;
      state.lastError = `published v${pkg.version}, but the webhook was not told: ${describe(unwrap(error))}`;
      await event('notify-failed', state.lastError, { version: pkg.version });
    }
  }

  /** Preview mode: wait for approve (now or at a time, which a later approve may move) or reject. */
  async function awaitApproval(version: number, previewUrl: string): Promise<void> {
    try {
      await approvalOrRejection(version, previewUrl);
    } finally {
      state.scheduledFor = undefined;
    }
  }

  async function approvalOrRejection(version: number, previewUrl: string): Promise<void> {
    await enterStage('awaiting-approval', `v${version} waits for approval: preview at ${previewUrl}`, { previewUrl });
    for (;;) {
      await condition(() => approval !== undefined || rejection !== undefined || operator.freezeAsked);
      if (rejection) throw new PackageRejected();
      if (operator.freezeAsked) {
        await checkpoint('awaiting-approval');
        await enterStage('awaiting-approval', `v${version} waits for approval: preview at ${previewUrl}`, { previewUrl });
        continue;
      }
      const { at } = approval!;
      if (!at || Date.parse(at) <= Date.now()) return;
      // A durable timer: a later approve (another time), a reject or a freeze wakes it.
      state.scheduledFor = at;
      const scheduled = approval;
      await enterStage('scheduled', `v${version} approved by ${scheduled!.by}, to be published at ${at}`, { at });
      const woken = await condition(() => approval !== scheduled || rejection !== undefined || operator.freezeAsked, Date.parse(at) - Date.now());
      if (!woken) return;
    }
  }

  async function silentUpdate(pkg: ArticlePackage, by: string): Promise<void> {
    runs[pkg.version] = (runs[pkg.version] ?? 0) + 1;
    const run = runs[pkg.version];
    const job = { articleId, version: pkg.version, status: pkg.status, run, key: pkg.key };
    state.current = { version: pkg.version, status: pkg.status, run, mode: 'automatic', key: pkg.key };
    try {
      await enterStage('silent-updating', `silent update of ${articleId} v${pkg.version} from ${pkg.key} (by ${by})`);
      const fetched = await fetchPackage.executeWithOptions({ summary: `fetch ${pkg.key}` }, [{ ...job, location: pkg.location, etag: pkg.etag }]);
      await expandPackage.executeWithOptions({ summary: `expand ${articleId} v${pkg.version}` }, [{ ...job, zipKey: fetched.zipKey }]);
      await validatePackage.executeWithOptions({ summary: `validate ${articleId} v${pkg.version}` }, [job]);
      await buildOutputs.executeWithOptions({ summary: `build ${articleId} v${pkg.version}` }, [job]);
      const diff = await replacePublished.executeWithOptions({ summary: `silent update ${articleId} v${pkg.version}` }, [{ ...job, by }]);
      await event('silent-update', `silent update of v${pkg.version} by ${by}: ${diff.summary}`, {
        version: pkg.version,
        detail: { by, key: pkg.key, ...diff },
      });
    } catch (error) {
      if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
      // The published version stays as it was; the refusal is on record with its reason.
      await event('silent-update-refused', `silent update of v${pkg.version} from ${pkg.key} refused: ${describe(unwrap(error))}`, { version: pkg.version });
    }
    remember(pkg);
    state.current = undefined;
    await enterStage('waiting', waitingMessage());
  }
}

/** Thrown inside a package's run when an operator reenqueued it while it was frozen. */
class Reenqueued extends Error {}

function ignoreReenqueue(e: unknown): void {
  if (!(e instanceof Reenqueued)) throw e;
}

function articleCustodyState(stage: ArticleStage): string {
  switch (stage) {
    case 'waiting':
      return 'queued';
    case 'awaiting-approval':
    case 'scheduled':
      return 'waiting-approval';
    case 'published':
      return 'published';
    case 'rejected':
    case 'frozen':
    case 'failed':
      return stage;
    default:
      return 'running';
  }
}
