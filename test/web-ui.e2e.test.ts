// The Temporal Web UI as an operator reads it: the dev server's own UI in headless Chromium
// (Debian's chromium, driven by playwright-core), after a real run of the sample rejected object.
// Screenshots land in test-output/web-ui/ for a person to look at.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { WorkflowHandle } from '@temporalio/client';
import { REPO_ROOT } from '../config/config';
import { preserveWorkflowId, type PreserveObjectState } from '../common/preservation';
import { SA } from '../common/search-attributes';
import { enqueue } from '../starters/enqueue';
import { WEB_UI_FILTERS, workflowListUrl, workflowsUrl } from '../starters/web-ui';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { testTemporal } from './support/temporal-server';
import { waitForStage } from './support/wait-for-stage';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(REPO_ROOT, 'test-output', 'web-ui');

/** In the page or one of its frames (the UI renders summaries and details as Markdown in iframes). */
async function onPage(page: Page, text: string | RegExp): Promise<boolean> {
  for (const frame of page.frames()) {
    const found = frame.getByText(text).first();
    if ((await found.count()) > 0 && (await found.isVisible())) return true;
  }
  return false;
}

/** Waits until the page shows `text` (the UI loads its data after the page itself). */
async function shows(page: Page, text: string | RegExp, what: string): Promise<void> {
  const until = Date.now() + 30_000;
  while (!(await onPage(page, text))) {
    if (Date.now() > until) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `missing-${what.replace(/\W+/g, '-')}.png`), fullPage: true });
      assert.fail(`the Web UI page ${page.url()} does not show ${what} (${String(text)})`);
    }
    await page.waitForTimeout(250);
  }
}

describe('Temporal Web UI, in headless Chromium', function () {
  this.timeout(240_000);
  let sys: CustodySystem;
  let browser: Browser;
  let rejected: WorkflowHandle;
  let state: PreserveObjectState;

  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/install-test-tools.sh installs Debian's chromium`);
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    sys = await startCustodySystem({
      objects: ['mus-0007', 'mus-0003'],
      // The workflow asks the service itself soon: no schedule is needed for the verdicts.
      config: { verdict: { pollAfter: '1s', deadline: '1h' }, temporal: { webUiUrl: testTemporal.webUiUrl } },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, {});
    assert.deepEqual(
      outcomes.map((o) => o.action),
      ['started', 'started'],
    );
    rejected = sys.client.workflow.getHandle(preserveWorkflowId('mus-0007'));
    const confirmed = sys.client.workflow.getHandle(preserveWorkflowId('mus-0003'));
    assert.equal((await confirmed.result()).stage, 'confirmed');
    state = await waitForStage(rejected, ['rejected']);
  });
  after(async () => {
    await browser?.close();
    await sys?.close();
  });

  it('lists the rejected sample object under CustodyState="rejected" and shows its summary, five stages and the reason', async () => {
    const reason = state.lastError ?? '';
    assert.ok(reason, 'the rejected object has a reason');
    assert.equal((await rejected.describe()).typedSearchAttributes.get(SA.state), 'rejected');
    const title = (await sys.ledger.getObject('mus-0007'))?.title ?? '';

    const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } });
    // The list filtered to rejected objects: mus-0007 is there, the confirmed mus-0003 is not.
    const listUrl = workflowListUrl(sys.config, WEB_UI_FILTERS.rejected);
    assert.ok(listUrl.startsWith(`${testTemporal.webUiUrl}/namespaces/custody/workflows?query=`), listUrl);
    await page.goto(listUrl);
    // By run id: a server shared with other tests may list other runs of the same object.
    const runLink = async (handle: WorkflowHandle) => page.locator(`a[href*="/${(await handle.describe()).runId}/"]`);
    const row = (await runLink(rejected)).filter({ hasText: 'preserve:mus-0007' });
    await row.waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'rejected-list.png'), fullPage: true });
    assert.equal(
      await (await runLink(sys.client.workflow.getHandle(preserveWorkflowId('mus-0003')))).count(),
      0,
      'the confirmed object is not in the list of rejected ones',
    );

    await row.click();
    await page.waitForURL(`${workflowsUrl(sys.config)}/${encodeURIComponent(preserveWorkflowId('mus-0007'))}/**`);
    // The timeline: each step named by its activity and its summary.
    for (const [stage, text] of [
      ['check', 'check mus-0007'],
      ['download', 'download mus-0007'],
      ['create SIP', `create SIP ${state.sipId}`],
      ['submit', `submit SIP ${state.sipId}`],
      ['confirm', `confirm rejected verdict on SIP ${state.sipId}`],
    ] as const) {
      await shows(page, text, `the ${stage} stage`);
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'rejected-timeline.png'), fullPage: true });

    // The user metadata: what the object is, and why it waits.
    await page
      .getByRole('tab', { name: 'User Metadata' })
      .or(page.getByRole('link', { name: 'User Metadata' }))
      .first()
      .click();
    await shows(page, `preserve mus-0007: ${title}`, 'the static summary');
    await shows(page, 'object id: mus-0007', 'the static details');
    await shows(page, `rejected: ${reason} — waiting for reenqueue or freeze`, 'the current details with the rejection reason');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'rejected-metadata.png'), fullPage: true });
  });

  it('gives every step a JSON result the UI shows as text, and the ledger every stage', async () => {
    const events = (await rejected.fetchHistory()).events ?? [];
    const results = events.flatMap((e) => (e.activityTaskCompletedEventAttributes ? [e.activityTaskCompletedEventAttributes.result?.payloads?.[0]] : []));
    assert.ok(results.length >= 5, `${results.length} completed steps`);
    const encodings = results.map((p) => Buffer.from(p?.metadata?.encoding ?? new Uint8Array()).toString());
    assert.deepEqual([...new Set(encodings)], ['json/plain']);
    // The steps recorded each stage they started or ended in: the ledger has the whole timeline.
    const stages = (await sys.ledger.timeline('mus-0007')).flatMap((e) => (e.kind === 'stage' && e.sipId === state.sipId ? [e.stage] : []));
    assert.deepEqual(stages, ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'rejected']);
  });
});
