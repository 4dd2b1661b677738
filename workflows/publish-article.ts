// publishArticle: one entity workflow per article, id `article:<articleId>`, fed packages by
// signal-with-start. Versions are handled strictly in order: a package waits for its
// predecessor's publication, a version at or below the published one is recorded and skipped.
// Each package: fetch → expand → validate → build → deposit preview → (approval) → publish.
// A silent update (an Update) replaces the published version's files and record in place.
import { ApplicationFailure, ContinueAsNew, condition, isCancellation, proxyActivities, setHandler, type ActivityOptions } from '@temporalio/workflow';
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
import { describe, unwrap } from './kit/failures';
import { continueAsNewUnlessWorkArrives } from './kit/continue-as-new';
import { retryPolicy } from './kit/retry';
import { Reenqueued, VersionLane, ignoreReenqueue } from './kit/version-lane';
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
  /** The package the article is working on (state.current shows its summary). */
  let currentPackage: ArticlePackage | undefined;
  const lane = new VersionLane<ArticleStage>({
    id: articleId,
    state,
    stateOf: articleCustodyState,
    idle: () => !currentPackage,
    waitingMessage,
    record: async (e, summary) => {
      const recorded = await recordArticleEvent.executeWithOptions({ summary }, [{ articleId, ...e }]);
      state.lastEvent = { at: e.at, kind: e.kind, version: e.version, message: e.message };
      return recorded;
    },
  });
  const { operator } = lane;

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
    if (state.stage === 'waiting' && !currentPackage) lane.describeNow(waitingMessage());
  });
  lane.installDecisions({
    approve: approveUpdate,
    reject: rejectUpdate,
    approvable: ['awaiting-approval', 'scheduled'],
    rejectable: ['awaiting-approval', 'scheduled', 'rejected', 'failed'],
    checkApproval: (request) => {
      if (request.at !== undefined && Number.isNaN(Date.parse(request.at))) throw new Error(`"${request.at}" is not a date-time`);
    },
    approvedAck: (version, request) => ({ articleId, version, publishAt: request.at }),
    rejectedAck: (version) => ({ articleId, version }),
  });
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
  lane.installOperator({
    freeze: articleFreezeUpdate,
    unfreeze: articleUnfreezeUpdate,
    reenqueue: articleReenqueueUpdate,
    waiting: 'a package',
    frozenAck: (stoppedBefore, frozenAt) => ({ articleId, stoppedBefore, frozenAt }),
    unfrozenAck: (resumes) => ({ articleId, resumes }),
    reenqueuedAck: () => ({ articleId, version: state.current?.version ?? 0 }),
  });
  await lane.start('publishing');

  for (;;) {
    await condition(() => silentUpdates.length > 0 || nextPackage() !== undefined || packagesThisRun >= settings.continueAsNewAfter || operator.freezeAsked);
    if (operator.freezeAsked) {
      await lane.checkpoint('waiting').catch(ignoreReenqueue);
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
      await lane.enterStage('waiting', waitingMessage());
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
      await lane.event('skipped', `skipped ${pkg.key}: ${reason}`, { version: pkg.version, detail: { key: pkg.key, reason } });
      return;
    }
    for (;;) {
      runs[pkg.version] = (runs[pkg.version] ?? 0) + 1;
      const run = runs[pkg.version];
      const mode = modeFor(pkg, settings);
      currentPackage = pkg;
      state.current = { version: pkg.version, status: pkg.status, run, mode, key: pkg.key };
      lane.startRun();
      state.scheduledFor = undefined;
      try {
        await publishOne(pkg, run, mode);
        return;
      } catch (error) {
        if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
        if (error instanceof Reenqueued) continue;
        if (error instanceof PackageRejected) {
          await lane.recordRejection(pkg.version);
          return;
        }
        const failure = unwrap(error);
        const message = describe(failure);
        if (failure instanceof ApplicationFailure && failure.type === 'FreezeArticle') {
          operator.freezeFor(message, AUTOMATIC_FREEZER);
          try {
            await lane.checkpoint('fetching');
          } catch (e) {
            if (e instanceof Reenqueued) continue;
            throw e;
          }
          continue;
        }
        const rejecting = failure instanceof ApplicationFailure && REJECTING_TYPES.includes(failure.type ?? '');
        const next = await lane.waitForOperator(rejecting ? 'rejected' : 'failed', message);
        if (next === 'skip') {
          await lane.recordRejection(pkg.version);
          return;
        }
        await lane.event('reenqueued', `v${pkg.version} reenqueued by ${operator.reenqueueBy}`, { version: pkg.version });
      }
    }
  }

  /** One package through every stage; throws to the caller's operator wait on failure. */
  async function publishOne(pkg: ArticlePackage, run: number, mode: 'automatic' | 'preview'): Promise<void> {
    const job = { articleId, version: pkg.version, status: pkg.status, run, key: pkg.key };
    await lane.checkpoint('fetching');
    await lane.enterStage('fetching', `fetching ${pkg.key} (v${pkg.version}, run ${run})`);
    const fetched = await fetchPackage.executeWithOptions({ summary: `fetch ${pkg.key}` }, [{ ...job, location: pkg.location, etag: pkg.etag }]);

    await lane.checkpoint('expanding');
    await lane.enterStage('expanding', `expanding ${pkg.key}`);
    await expandPackage.executeWithOptions({ summary: `expand ${articleId} v${pkg.version}` }, [{ ...job, zipKey: fetched.zipKey }]);

    await lane.checkpoint('validating');
    await lane.enterStage('validating', `validating the article XML of ${articleId} v${pkg.version}`);
    const valid = await validatePackage.executeWithOptions({ summary: `validate ${articleId} v${pkg.version}` }, [job]);

    await lane.checkpoint('building');
    await lane.enterStage('building', `building the web outputs of ${articleId} v${pkg.version}: ${valid.title}`);
    await buildOutputs.executeWithOptions({ summary: `build ${articleId} v${pkg.version}` }, [job]);

    await lane.checkpoint('depositing');
    await lane.enterStage('depositing', `depositing the preview of ${articleId} v${pkg.version}`);
    const preview = await depositPreview.executeWithOptions({ summary: `preview ${articleId} v${pkg.version}` }, [job]);

    if (mode === 'preview') await awaitApproval(pkg.version, preview.previewUrl);
    else lane.approval = { version: pkg.version, by: 'custody (automatic mode)' };

    await lane.checkpoint('publishing');
    await lane.enterStage('publishing', `publishing ${articleId} v${pkg.version}`);
    const published = await publishVersion.executeWithOptions({ summary: `publish ${articleId} v${pkg.version}` }, [{ ...job, approvedBy: lane.approval!.by }]);
    state.published = { version: pkg.version, status: pkg.status, at: published.at, url: published.url };
    await lane.enterStage('published', `published ${articleId} v${pkg.version}: ${published.url}`, { url: published.url, approvedBy: lane.approval!.by });
    const item = {
      itemId: `article:${articleId}`,
      storage: 'site' as const,
      prefix: `published/${articleId}/v${pkg.version}`,
      as: `${articleId}/v${pkg.version}`,
    };
    await operator.drainGate('delivery', true);
    await startDelivery(settings.delivery, 'publishing', item, lane.approval!.by);
    // The publication stands whatever the webhook does: a receiver that stays down past the
    // retries is on record (and in lastError), and the article goes on to its next version.
    try {
      await notifyPublished.executeWithOptions({ summary: `notify ${articleId} v${pkg.version}` }, [{ ...job, at: published.at, url: published.url }]);
    } catch (error) {
      if (isCancellation(error)) throw error;
      state.lastError = `published v${pkg.version}, but the webhook was not told: ${describe(unwrap(error))}`;
      await lane.event('notify-failed', state.lastError, { version: pkg.version });
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
    await lane.enterStage('awaiting-approval', `v${version} waits for approval: preview at ${previewUrl}`, { previewUrl });
    for (;;) {
      await condition(() => lane.approval !== undefined || lane.rejection !== undefined || operator.freezeAsked);
      if (lane.rejection) throw new PackageRejected();
      if (operator.freezeAsked) {
        await lane.checkpoint('awaiting-approval');
        await lane.enterStage('awaiting-approval', `v${version} waits for approval: preview at ${previewUrl}`, { previewUrl });
        continue;
      }
      const { at } = lane.approval!;
      if (!at || Date.parse(at) <= Date.now()) return;
      // A durable timer: a later approve (another time), a reject or a freeze wakes it.
      state.scheduledFor = at;
      const scheduled = lane.approval;
      await lane.enterStage('scheduled', `v${version} approved by ${scheduled!.by}, to be published at ${at}`, { at });
      const woken = await condition(() => lane.approval !== scheduled || lane.rejection !== undefined || operator.freezeAsked, Date.parse(at) - Date.now());
      if (!woken) return;
    }
  }

  async function silentUpdate(pkg: ArticlePackage, by: string): Promise<void> {
    runs[pkg.version] = (runs[pkg.version] ?? 0) + 1;
    const run = runs[pkg.version];
    const job = { articleId, version: pkg.version, status: pkg.status, run, key: pkg.key };
    state.current = { version: pkg.version, status: pkg.status, run, mode: 'automatic', key: pkg.key };
    try {
      await lane.enterStage('silent-updating', `silent update of ${articleId} v${pkg.version} from ${pkg.key} (by ${by})`);
      const fetched = await fetchPackage.executeWithOptions({ summary: `fetch ${pkg.key}` }, [{ ...job, location: pkg.location, etag: pkg.etag }]);
      await expandPackage.executeWithOptions({ summary: `expand ${articleId} v${pkg.version}` }, [{ ...job, zipKey: fetched.zipKey }]);
      await validatePackage.executeWithOptions({ summary: `validate ${articleId} v${pkg.version}` }, [job]);
      await buildOutputs.executeWithOptions({ summary: `build ${articleId} v${pkg.version}` }, [job]);
      const diff = await replacePublished.executeWithOptions({ summary: `silent update ${articleId} v${pkg.version}` }, [{ ...job, by }]);
      await lane.event('silent-update', `silent update of v${pkg.version} by ${by}: ${diff.summary}`, {
        version: pkg.version,
        detail: { by, key: pkg.key, ...diff },
      });
    } catch (error) {
      if (error instanceof ContinueAsNew || isCancellation(error)) throw error;
      // The published version stays as it was; the refusal is on record with its reason.
      await lane.event('silent-update-refused', `silent update of v${pkg.version} from ${pkg.key} refused: ${describe(unwrap(error))}`, {
        version: pkg.version,
      });
    }
    remember(pkg);
    state.current = undefined;
    await lane.enterStage('waiting', waitingMessage());
  }
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
