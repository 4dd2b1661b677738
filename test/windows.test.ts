// Stage time windows: a queue's daily hours from config. The preservation workflow, outside its
// download window, waits on one timer (no polling) with "waiting for window" in the ledger and
// the Web UI, and downloads when the window opens — run for real in skipped time on Temporal's
// time-skipping test server. Also the window arithmetic and config's refusals of a bad window.
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConfigError, loadConfig } from '../config/config';
import { msUntilOpen, type StageWindow } from '../common/windows';
import { stateQuery } from '../common/preservation';
import { drainSignal, resumeSignal } from '../common/drain';
import { historyFacts, startSkippedTimeSystem, startTimeSkippingEnvironment, type SkippedTimeSystem } from './support/time-skipping';
import { currentDetails, waitForStage } from './support/wait-for-stage';

const HOUR = 3_600_000;
/** India has no daylight saving time: local hours are UTC+5:30 all year. */
const ZONE = 'Asia/Kolkata';
const hhmm = (h: number) => `${String(((h % 24) + 24) % 24).padStart(2, '0')}:00`;
const localHour = (at: number, timeZone: string) => Number(new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit' }).format(at));

describe('stage time windows', function () {
  describe('when a window next opens', () => {
    const night: StageWindow = { from: '20:00', to: '04:00', timeZone: 'UTC' };
    it('is now inside a window over midnight, on both sides of midnight', () => {
      assert.equal(msUntilOpen(Date.parse('2026-03-02T23:30:00Z'), night), 0);
      assert.equal(msUntilOpen(Date.parse('2026-03-02T03:59:59Z'), night), 0);
    });
    it('is the time until the window opens outside it', () => {
      assert.equal(msUntilOpen(Date.parse('2026-03-02T04:00:00Z'), night), 16 * HOUR);
      assert.equal(msUntilOpen(Date.parse('2026-03-02T19:30:00Z'), night), HOUR / 2);
    });
    it('is counted in the window’s own time zone', () => {
      // 18:00 UTC is 19:00 in Berlin in winter: the 20:00 Berlin window opens an hour later.
      assert.equal(msUntilOpen(Date.parse('2026-01-15T18:00:00Z'), { ...night, timeZone: 'Europe/Berlin' }), HOUR);
      // In summer Berlin is UTC+2: 18:00 UTC is 20:00 there, inside.
      assert.equal(msUntilOpen(Date.parse('2026-07-15T18:00:00Z'), { ...night, timeZone: 'Europe/Berlin' }), 0);
    });
  });

  describe('config', () => {
    const windowsOf = (download: unknown) => () => loadConfig({}, { windows: { download } });
    it('takes a window per data-moving queue', () => {
      const config = loadConfig({}, { windows: { download: { from: '20:00', to: '04:00', timeZone: 'Europe/Berlin' } } });
      assert.deepEqual(config.windows, { download: { from: '20:00', to: '04:00', timeZone: 'Europe/Berlin' } });
    });
    it('refuses a time that is not HH:MM, naming the key', () => {
      assert.throws(windowsOf({ from: '25:00', to: '04:00', timeZone: 'UTC' }), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, /windows\.download = .*from "25:00" is not a time of day HH:MM/);
        return true;
      });
    });
    it('refuses an unknown time zone', () => {
      assert.throws(windowsOf({ from: '20:00', to: '04:00', timeZone: 'Mars/Olympus' }), /timeZone "Mars\/Olympus" is not a time zone/);
    });
    it('refuses an empty window and a queue without windows', () => {
      assert.throws(windowsOf({ from: '20:00', to: '20:00', timeZone: 'UTC' }), /from and to are both 20:00/);
      assert.throws(() => loadConfig({}, { windows: { io: { from: '20:00', to: '04:00', timeZone: 'UTC' } } }), /unknown config key windows\.io/);
    });
  });

  describe('in skipped time (time-skipping test server)', function () {
    this.timeout(120_000);
    let env: TestWorkflowEnvironment;
    let sys: SkippedTimeSystem | undefined;

    before(async function () {
      this.timeout(180_000);
      env = await startTimeSkippingEnvironment();
    });
    afterEach(async () => {
      await sys?.close();
      sys = undefined;
    });
    after(async () => env?.teardown());

    it('waits for the download window on one timer, then downloads and is confirmed', async () => {
      sys = await startSkippedTimeSystem(env, { objects: ['mus-0001'], servicePollMs: 200, verdict: { pollAfter: '1h', deadline: '14d' } });
      // A two-hour window that opens three to four hours from now, local time.
      const opens = localHour(await env.currentTimeMs(), ZONE) + 4;
      const window = { from: hhmm(opens), to: hhmm(opens + 2), timeZone: ZONE };
      sys.settings = { ...sys.settings, windows: { download: window } };
      const handle = await sys.start('mus-0001');

      const waiting = await waitForStage(handle, ['waiting-for-window']);
      assert.ok(waiting.windowOpensAt, 'the state says when the window opens');
      assert.equal(localHour(Date.parse(waiting.windowOpensAt), ZONE), opens % 24);
      assert.equal(await currentDetails(handle), `waiting for window: download runs ${window.from}–${window.to} ${ZONE}, opens at ${waiting.windowOpensAt}`);
      assert.equal((await sys.ledger.getObject('mus-0001'))?.state, 'waiting-for-window');

      const result = await handle.result();
      assert.equal(result.stage, 'confirmed');
      const stages = (await sys.ledger.timeline('mus-0001')).filter((e) => e.kind === 'stage');
      const downloading = stages.find((e) => e.stage === 'downloading')!;
      assert.equal(localHour(Date.parse(downloading.at), ZONE), opens % 24, 'the download started in the window');
      const late = Date.parse(downloading.at) - Date.parse(waiting.windowOpensAt);
      assert.ok(late >= 0 && late < 60_000, `the download started ${late} ms after the window opened`);
      assert.deepEqual(stages.map((e) => e.stage).slice(0, 4), ['queued', 'waiting-for-window', 'downloading', 'packaging']);

      // One timer until the window opened: no polling.
      const events = (await handle.fetchHistory()).events ?? [];
      const firstDownload = events.findIndex((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'downloadObject');
      assert.equal(events.slice(0, firstDownload).filter((e) => e.timerStartedEventAttributes).length, 1);
      assert.equal((await handle.query(stateQuery)).stage, 'confirmed');
    });

    it('a drain while waiting for the window holds the object past its opening; after resume it waits for the next one', async () => {
      sys = await startSkippedTimeSystem(env, { objects: ['mus-0003'], servicePollMs: 200, verdict: { pollAfter: '1h', deadline: '14d' } });
      const opens = localHour(await env.currentTimeMs(), ZONE) + 2;
      const window = { from: hhmm(opens), to: hhmm(opens + 2), timeZone: ZONE };
      sys.settings = { ...sys.settings, windows: { download: window } };
      const handle = await sys.start('mus-0003');
      await waitForStage(handle, ['waiting-for-window']);

      await handle.signal(drainSignal, { by: 'operator@test', reason: 'maintenance' });
      for (let i = 0; !(await currentDetails(handle))?.startsWith('drained: waiting for resume (then downloading)'); i++) {
        assert.ok(i < 300, `the drain is not shown: ${await currentDetails(handle)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await env.sleep('6h'); // the whole window passes while drained
      assert.equal((await handle.query(stateQuery)).stage, 'waiting-for-window');
      assert.ok(!(await historyFacts(handle)).scheduledActivities.includes('downloadObject'), 'no download while drained');

      const resumedAt = await env.currentTimeMs();
      await handle.signal(resumeSignal, { by: 'operator@test' });
      assert.equal((await handle.result()).stage, 'confirmed');
      const downloading = (await sys.ledger.timeline('mus-0003')).find((e) => e.kind === 'stage' && e.stage === 'downloading')!;
      const at = Date.parse(downloading.at);
      assert.ok(at > resumedAt + 12 * HOUR, 'not in the window that passed while drained, but the next day’s');
      assert.equal(localHour(at, ZONE), opens % 24, 'at the opening of the next window');
    });

    it('starts at once inside the window', async () => {
      sys = await startSkippedTimeSystem(env, { objects: ['mus-0002'], servicePollMs: 200, verdict: { pollAfter: '1h', deadline: '14d' } });
      // The test server's clock, which the earlier tests moved on.
      const now = localHour(await env.currentTimeMs(), ZONE);
      sys.settings = { ...sys.settings, windows: { download: { from: hhmm(now), to: hhmm(now + 3), timeZone: ZONE } } };
      const handle = await sys.start('mus-0002');
      assert.equal((await handle.result()).stage, 'confirmed');
      const stages = (await sys.ledger.timeline('mus-0002')).filter((e) => e.kind === 'stage').map((e) => e.stage);
      assert.ok(!stages.includes('waiting-for-window'), `no wait inside the window: ${stages.join(', ')}`);
    });
  });
});
