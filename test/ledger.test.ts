import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { LedgerNotFoundError, openExistingLedger, openLedger, sqlitePathOf, type Ledger } from '../ledger';
import { freshPostgresDatabase } from './support/postgres';

const run = promisify(execFile);

// The same ledger contract on both databases: the same queries and the same migrations.
const BACKENDS: Array<{ name: string; database: (dir: string, label: string) => Promise<string> }> = [
  // A nested path: openLedger creates the parent folder.
  { name: 'SQLite', database: async (dir, label) => path.join(dir, label, 'ledger.sqlite') },
  { name: 'PostgreSQL', database: () => freshPostgresDatabase() },
];

for (const backend of BACKENDS)
  describe(`ledger (${backend.name})`, function () {
    this.timeout(30_000);
    let dir: string;
    let file: string;
    let ledger: Ledger;
    const sqlite = backend.name === 'SQLite';

    beforeEach(async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-ledger-'));
      file = await backend.database(dir, 'state');
      ledger = openLedger(file);
      await ledger.migrate();
    });

    afterEach(async () => {
      await ledger.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps one notification per notifiable event in the outbox: retries, re-entries and operators add none; held ones once per wait', async () => {
      const at = '2026-03-01T10:00:00.000Z';
      const auto = { by: 'custody (automatic)' };
      await ledger.setState('obj-1', 'failed', { key: 'run1:3:failed', at, sipId: 'obj-1.a1.x', error: 'disk full' });
      await ledger.setState('obj-1', 'failed', { key: 'run1:3:failed', at, sipId: 'obj-1.a1.x', error: 'disk full' });
      await ledger.setState('obj-1', 'failed', { key: 'run1:5:failed', at, sipId: 'obj-1.a1.x', error: 'disk full' });
      await ledger.setFrozen('obj-2', { reason: 'EmptyObject: no files', ...auto }, { key: 'run2:1:freeze', at });
      await ledger.setFrozen('obj-3', { reason: 'asked by curator', by: 'ana@host' }, { key: 'run3:1:freeze', at });
      const articleEvent = (key: string, kind: string, detail: unknown) =>
        ledger.recordEvent({ key, objectId: 'article:00042', kind, detail: { message: kind, version: 2, detail }, at });
      await articleEvent('art:1:stage', 'article-failed', { error: 'JATS invalid' });
      await articleEvent('art:1:stage', 'article-failed', { error: 'JATS invalid' });
      // An operator's reject of another article's version: not news to the operators, and nothing waits after it.
      await ledger.recordEvent({
        key: 'art:2:rejected',
        objectId: 'article:00041',
        kind: 'article-rejected',
        detail: { message: 'rejected', version: 1, detail: { by: 'ana@host', reason: 'wrong file' } },
        at,
      });
      await ledger.recordEvent({
        key: 'cp:1:stage',
        objectId: 'copy:ds-7:zenodo',
        kind: 'copy-frozen',
        detail: { message: 'frozen', detail: { reason: 'too many files', ...auto } },
        at,
      });
      const fixity = {
        key: 'fixity:a:s1:kept',
        objectId: 'obj-4',
        sipId: 's1',
        kind: 'fixity-missing',
        detail: { where: 'file:///p/s1.tar', expected: 'ab', found: null },
        at,
      };
      await ledger.recordEvent(fixity);
      // A later audit finding the same copy missing is the same problem.
      await ledger.recordEvent({ ...fixity, key: 'fixity:b:s1:kept' });
      const rows = await ledger.notifications.list();
      const sorted = (l: unknown[][]) => l.map((x) => JSON.stringify(x)).sort();
      assert.deepEqual(
        sorted(rows.map((n) => [n.what, n.subject, n.workflowId, n.stage, n.reason])),
        sorted([
          ['failed', 'obj-1', 'preserve:obj-1', 'failed', 'disk full'],
          ['frozen', 'obj-2', 'preserve:obj-2', 'frozen', 'EmptyObject: no files'],
          ['failed', 'article:00042', 'article:00042', 'failed', 'JATS invalid'],
          ['frozen', 'copy:ds-7:zenodo', 'copy:ds-7:zenodo', 'frozen', 'too many files'],
          ['fixity', 'obj-4', 'preserve:obj-4', 'fixity-missing', 'file:///p/s1.tar: expected sha256 ab, found nothing'],
        ]),
      );
      assert.equal(rows.length, 5);

      // Held: the failed and both frozen objects, the article after its failure and the copy after its freeze.
      await ledger.recordEvent({ key: 'art:3:stage', objectId: 'article:00043', kind: 'article-awaiting-approval', detail: { message: 'preview ready' }, at });
      await ledger.recordEvent({ key: 'art:4:stage', objectId: 'article:00044', kind: 'article-awaiting-approval', detail: { message: 'preview ready' }, at });
      await ledger.recordEvent({
        key: 'art:5:stage',
        objectId: 'article:00044',
        kind: 'article-publishing',
        detail: { message: 'publishing' },
        at: '2026-03-01T10:00:01.000Z',
      });
      assert.equal(await ledger.notifications.addHeld('2026-03-01T09:00:00.000Z'), 0, 'nothing waited since before the cutoff');
      assert.equal(await ledger.notifications.addHeld('2026-03-02T00:00:00.000Z'), 6);
      assert.equal(await ledger.notifications.addHeld('2026-03-02T00:00:00.000Z'), 0, 'once per wait');
      const held = (await ledger.notifications.list()).filter((n) => n.what === 'held');
      assert.deepEqual(held.map((n) => `${n.subject} ${n.stage}`).sort(), [
        'article:00042 failed',
        'article:00043 awaiting-approval',
        'copy:ds-7:zenodo frozen',
        'obj-1 failed',
        'obj-2 frozen',
        'obj-3 frozen',
      ]);
      assert.equal(held.find((n) => n.subject === 'obj-2')?.reason, `frozen since ${at}: EmptyObject: no files`);

      // Drained: the drain itself and each item held meanwhile, once each.
      await ledger.drain.set({ since: '2026-03-01T11:00:00.000Z', by: 'ops', reason: 'filer maintenance' });
      await ledger.drain.hold({ kind: 'preserve', itemId: 'obj-9', args: { objectId: 'obj-9' }, heldBy: 'enqueue', at: '2026-03-01T11:05:00.000Z' });
      await ledger.drain.hold({ kind: 'copy', itemId: 'copy:ds-8:zenodo v2', args: {}, heldBy: 'copy', at: '2026-03-01T11:06:00.000Z' });
      assert.equal(await ledger.notifications.addHeld('2026-03-02T00:00:00.000Z'), 3);
      assert.equal(await ledger.notifications.addHeld('2026-03-02T00:00:00.000Z'), 0, 'once per drain and held item');
      const drained = (await ledger.notifications.list()).filter((n) => n.stage === 'drained');
      assert.deepEqual(drained.map((n) => `${n.subject} ${n.workflowId}`).sort(), ['copy:ds-8:zenodo v2 copy:ds-8:zenodo', 'custody ', 'obj-9 preserve:obj-9']);
      assert.match(drained.find((n) => n.subject === 'custody')?.reason ?? '', /drained since 2026-03-01T11:00:00.000Z by ops: filer maintenance/);
      await ledger.drain.clear();
      await ledger.drain.release('preserve', 'obj-9');
      await ledger.drain.release('copy', 'copy:ds-8:zenodo v2');

      const now = new Date().toISOString();
      const later = new Date(Date.now() + 60_000).toISOString();
      const due = await ledger.notifications.due(now, 100);
      assert.equal(due.length, 14);
      await ledger.notifications.markFailed(due[0]!.key, 'http://hooks answered 503', later);
      for (const n of due.slice(1)) await ledger.notifications.markSent(n.key, now);
      assert.deepEqual(await ledger.notifications.summary(), { waiting: 1, oldest: due[0]!.createdAt, lastError: 'http://hooks answered 503' });
      assert.deepEqual(await ledger.notifications.due(now, 100), [], 'not due before its next attempt');
      assert.equal((await ledger.notifications.due(later, 100))[0]?.attempts, 1);
    });

    it("keeps a copy version's deposition, its file digests and its request log; a later change keeps what it does not set", async () => {
      await ledger.copies.setVersion('copy:ds-1:data', 1, { state: 'prepared', depositionId: 5_000_000_001, updatedAt: '2026-01-01T00:00:00Z' });
      await ledger.copies.setVersion('copy:ds-1:data', 1, { state: 'published', doi: '10.5072/zenodo.1', recordId: 7, updatedAt: '2026-01-01T00:01:00Z' });
      assert.deepEqual(await ledger.copies.version('copy:ds-1:data', 1), {
        copyId: 'copy:ds-1:data',
        version: 1,
        depositionId: 5_000_000_001,
        recordId: 7,
        doi: '10.5072/zenodo.1',
        state: 'published',
        updatedAt: '2026-01-01T00:01:00Z',
      });
      const files = [
        { name: 'b.csv', size: 5_000_000_000, sha256: 'b'.repeat(64), md5: 'b'.repeat(32) },
        { name: 'a.csv', size: 1, sha256: 'a'.repeat(64), md5: 'a'.repeat(32) },
      ];
      await ledger.copies.recordFiles('copy:ds-1:data', 1, files);
      // A re-check replaces the digests: the source may have been fixed.
      await ledger.copies.recordFiles('copy:ds-1:data', 1, files.slice(1));
      assert.deepEqual(await ledger.copies.files('copy:ds-1:data', 1), [files[1]]);
      await ledger.copies.log('copy:ds-1:data', {
        at: '2026-01-01T00:00:00Z',
        method: 'POST',
        url: 'http://x/api/deposit/depositions',
        status: 201,
        ms: 12.6,
        attempt: 1,
        error: null,
        detail: { ok: true },
      });
      assert.deepEqual(await ledger.copies.requests('copy:ds-1:data'), [
        {
          at: '2026-01-01T00:00:00Z',
          method: 'POST',
          url: 'http://x/api/deposit/depositions',
          status: 201,
          ms: 13,
          attempt: 1,
          error: null,
          detail: { ok: true },
        },
      ]);
    });

    it('keeps one delivery row per item and destination, and sums them up per destination', async () => {
      await ledger.deliveries.set('mus-0001', 'mirror', { state: 'pending', at: '2026-01-01T00:00:00Z', attempts: 0 });
      await ledger.deliveries.set('mus-0001', 'mirror', {
        state: 'delayed',
        at: '2026-01-01T00:00:05Z',
        attempts: 2,
        lastError: 'connect ECONNREFUSED',
        delayedUntil: '2026-01-01T00:00:10Z',
      });
      await ledger.deliveries.set('mus-0002', 'mirror', {
        state: 'delivered',
        at: '2026-01-01T00:00:06Z',
        attempts: 1,
        size: 6_000_000_000,
        sha256: 'c'.repeat(64),
        name: 'mus-0002',
      });
      await ledger.deliveries.set('mus-0001', 'archive', { state: 'failed', at: '2026-01-01T00:00:07Z', attempts: 1, lastError: 'DeliveryMismatch: …' });
      const rows = await ledger.deliveries.of('mus-0001');
      assert.deepEqual(
        rows.map((r) => [r.destination, r.state, r.attempts, r.delayedUntil]),
        [
          ['archive', 'failed', 1, null],
          ['mirror', 'delayed', 2, '2026-01-01T00:00:10Z'],
        ],
      );
      assert.equal((await ledger.deliveries.of('mus-0002'))[0]!.size, 6_000_000_000);
      const summary = await ledger.deliveries.summary();
      assert.deepEqual(
        summary.map((s) => [s.destination, s.counts.delivered, s.counts.delayed, s.counts.failed, s.nextRetry]),
        [
          ['archive', 0, 0, 1, null],
          ['mirror', 1, 1, 0, '2026-01-01T00:00:10Z'],
        ],
      );
    });

    it("stamps each row a worker's ledger writes with its build id; footprint lists exactly that build's objects, packages, articles, copies and deliveries", async () => {
      const a = openLedger(file, { buildId: '1.0.0+aaaa' });
      const b = openLedger(file, { buildId: '1.0.1+bbbb' });
      try {
        const at = '2026-01-01T00:00:00.000Z';
        const pkg = (sipId: string, objectId: string) => ({
          sipId,
          objectId,
          attempt: 1,
          sha256: 's'.repeat(64),
          size: 10,
          payloadBytes: 5,
          payloadFiles: 1,
          createdAt: at,
        });
        await a.setState('obj-a', 'downloading', { key: 'k1', at });
        await a.recordPackage(pkg('obj-a.a1.00000001', 'obj-a'));
        await a.deliveries.set('obj-a', 'mirror', { state: 'delivered', at });
        await a.recordEvent({ key: 'k2', objectId: 'article:00353', kind: 'article-published', at });
        await a.copies.setVersion('copy:ds-1:data', 2, { state: 'checked', updatedAt: at });
        await b.setState('obj-b', 'downloading', { key: 'k3', at });
        await b.recordPackage(pkg('obj-b.a1.00000002', 'obj-b'));
        // B's poller and fixity audit write about A's object: that is not work on it.
        await b.recordVerdictSignalled({ objectId: 'obj-a', sipId: 'obj-a.a1.00000001', at });
        await b.recordEvent({ key: 'k4', objectId: 'obj-a', kind: 'fixity-ok', at });
        // The CLI's ledger stamps nothing and keeps the stamp a worker wrote.
        await ledger.deliveries.set('obj-a', 'mirror', { state: 'delivered', at: '2026-01-02T00:00:00.000Z' });

        const found = await ledger.builds.footprint('1.0.0+aaaa');
        assert.deepEqual(
          found.objects.map((o) => [o.id, o.events]),
          [['obj-a', 2]],
        );
        assert.deepEqual(
          found.articles.map((o) => o.id),
          ['article:00353'],
        );
        assert.deepEqual(
          found.copies.map((c) => [c.id, c.versions]),
          [['copy:ds-1:data', [2]]],
        );
        assert.deepEqual(
          found.packages.map((p) => p.sipId),
          ['obj-a.a1.00000001'],
        );
        assert.deepEqual(
          found.deliveries.map((d) => [d.itemId, d.destination]),
          [['obj-a', 'mirror']],
        );
        const other = await ledger.builds.footprint('1.0.1+bbbb');
        assert.deepEqual(
          [other.objects.map((o) => o.id), other.packages.map((p) => p.sipId), other.deliveries, other.articles, other.copies],
          [['obj-b'], ['obj-b.a1.00000002'], [], [], []],
        );
        assert.deepEqual(await ledger.builds.known(), ['1.0.0+aaaa', '1.0.1+bbbb']);
        const none = await ledger.builds.footprint('1.0.0');
        assert.equal(none.objects.length + none.packages.length + none.deliveries.length, 0, 'a prefix of a build id is not that build');
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('migrates twice without error and keeps the data', async () => {
      await ledger.upsertObject({ id: 'mus-0001', title: 'Harbour at dawn', sourceModifiedAt: '2024-03-01T10:00:00Z' });
      await ledger.migrate();
      const again = openLedger(sqlite ? `sqlite://${file}` : file);
      try {
        await again.migrate();
        assert.equal((await again.getObject('mus-0001'))?.title, 'Harbour at dawn');
      } finally {
        await again.close();
      }
      if (!sqlite) return;
      const db = new Database(file, { readonly: true });
      try {
        const migrations = db.prepare('select name from kysely_migration').all() as { name: string }[];
        assert.deepEqual(
          migrations.map((m) => m.name),
          ['0001-initial', '0002-copies-and-deliveries', '0003-source-cursors', '0004-build-ids', '0005-notifications', '0006-drain', '0007-scale-indexes'],
        );
        assert.equal((db.pragma('journal_mode', { simple: true }) as string).toLowerCase(), 'wal');
      } finally {
        db.close();
      }
    });

    it('migrates a fresh database from three processes at once', async () => {
      const fresh = await backend.database(dir, 'fresh');
      const ledgerModule = path.resolve(__dirname, '../ledger');
      // The children load first and then start migrating at one agreed moment, so that
      // their migrations really overlap.
      const startAt = Date.now() + 2500;
      const code = `const l = require(${JSON.stringify(ledgerModule)}).openLedger(${JSON.stringify(fresh)});
      setTimeout(() => l.migrate().then(() => console.log('ok')).catch((e) => { console.error(e); process.exit(1); }),
        ${startAt} - Date.now());`;
      const child = () => run(process.execPath, ['-r', 'tsx/cjs', '-e', code], { cwd: path.resolve(__dirname, '..') });
      const results = await Promise.all([child(), child(), child()]);
      for (const r of results) assert.equal(r.stdout.trim(), 'ok');
      const check = openLedger(fresh);
      try {
        await check.upsertObject({ id: 'x', title: 'X', sourceModifiedAt: '2024-01-01T00:00:00Z' });
        assert.equal((await check.listObjects()).length, 1);
      } finally {
        await check.close();
      }
    });

    it('records the timeline of an object going queued → … → confirmed', async () => {
      const id = 'mus-0002';
      await ledger.upsertObject({ id, title: 'Survey map', sourceModifiedAt: '2024-05-02T08:00:00Z' });
      const t = (s: number) => new Date(Date.UTC(2024, 5, 1, 12, 0, s)).toISOString();
      await ledger.setState(id, 'queued', { key: 'k-queued', at: t(0) });
      await ledger.setState(id, 'downloading', { key: 'k-dl', at: t(1) });
      await ledger.setState(id, 'packaging', { key: 'k-pkg', at: t(2) });
      await ledger.recordPackage({
        sipId: 'sip-1',
        objectId: id,
        attempt: 1,
        sha256: 'a'.repeat(64),
        size: 40960,
        payloadBytes: 30000,
        payloadFiles: 3,
        createdAt: t(3),
      });
      await ledger.setState(id, 'submitting', { key: 'k-sub', at: t(4), sipId: 'sip-1' });
      await ledger.recordEvent({ key: 'k-submitted', objectId: id, sipId: 'sip-1', kind: 'submitted', detail: { transfer: 'sip-1.tar' }, at: t(5) });
      await ledger.setState(id, 'awaiting-verdict', { key: 'k-await', at: t(6), sipId: 'sip-1' });
      await ledger.recordVerdict({ sipId: 'sip-1', status: 'accepted', decidedAt: t(7), reasons: [], reportPath: '/reports/sip-1.xml' });
      await ledger.setState(id, 'confirming', { key: 'k-confirming', at: t(8), sipId: 'sip-1' });
      await ledger.markPreserved(id, 'sip-1', t(9));

      const events = await ledger.timeline(id);
      assert.deepEqual(
        events.map((e) => [e.kind, e.stage]),
        [
          ['stage', 'queued'],
          ['stage', 'downloading'],
          ['stage', 'packaging'],
          ['packaged', null],
          ['stage', 'submitting'],
          ['submitted', null],
          ['stage', 'awaiting-verdict'],
          ['verdict', null],
          ['stage', 'confirming'],
          ['confirmed', 'confirmed'],
        ],
      );
      assert.deepEqual(events[5].detail, { transfer: 'sip-1.tar' });
      assert.deepEqual(events[7].detail, { status: 'accepted', reasons: [], reportPath: '/reports/sip-1.xml' });
      assert.equal(events[4].sipId, 'sip-1');

      const obj = await ledger.getObject(id);
      assert.equal(obj?.state, 'confirmed');
      assert.equal(obj?.lastSipId, 'sip-1');
      assert.equal(obj?.updatedAt, t(9));
    });

    it('orders the timeline by time, not by insertion, whatever the ISO spelling', async () => {
      await ledger.recordEvent({ key: 'late', objectId: 'o', kind: 'error', at: '2024-01-01T00:00:00.500Z' });
      await ledger.recordEvent({ key: 'early', objectId: 'o', kind: 'stage', stage: 'queued', at: '2024-01-01T00:00:00Z' });
      await ledger.recordEvent({ key: 'mid', objectId: 'o', kind: 'stage', at: '2024-01-01T01:00:00.200+01:00' });
      assert.deepEqual(
        (await ledger.timeline('o')).map((e) => [e.key, e.at]),
        [
          ['early', '2024-01-01T00:00:00.000Z'],
          ['mid', '2024-01-01T00:00:00.200Z'],
          ['late', '2024-01-01T00:00:00.500Z'],
        ],
      );
      await assert.rejects(ledger.recordEvent({ key: 'bad', objectId: 'o', kind: 'x', at: 'tuesday' }), /"tuesday"/);
    });

    it('records one event when an activity retries with the same key', async () => {
      const id = 'mus-0003';
      await ledger.setState(id, 'downloading', { key: 'wf:run1:downloading', at: '2024-06-01T00:00:00.000Z' });
      await ledger.setState(id, 'downloading', { key: 'wf:run1:downloading', at: '2024-06-01T00:00:05.000Z' });
      await ledger.recordEvent({ key: 'wf:run1:err', objectId: id, kind: 'error', detail: { message: 'timeout' }, at: '2024-06-01T00:00:06.000Z' });
      await ledger.recordEvent({ key: 'wf:run1:err', objectId: id, kind: 'error', detail: { message: 'timeout' }, at: '2024-06-01T00:00:07.000Z' });
      const events = await ledger.timeline(id);
      assert.equal(events.length, 2);
      assert.equal(events[0].at, '2024-06-01T00:00:00.000Z');
      // setState created the row, although the object's metadata was never read.
      const obj = await ledger.getObject(id);
      assert.equal(obj?.state, 'downloading');
      assert.equal(obj?.title, null);
    });

    it('keeps one package row when recordPackage and recordVerdict run twice, with the latest values', async () => {
      const base = { sipId: 'sip-9', objectId: 'mus-0009', attempt: 1, sha256: 'b'.repeat(64), size: 100, payloadBytes: 80, payloadFiles: 2 };
      await ledger.recordPackage({ ...base, createdAt: '2024-01-01T00:00:00.000Z' });
      await ledger.recordPackage({ ...base, size: 120, createdAt: '2024-01-01T00:00:01.000Z' });
      await ledger.recordVerdict({ sipId: 'sip-9', status: 'rejected', decidedAt: '2024-01-02T00:00:00.000Z', reasons: ['a'], reportPath: 'r1' });
      await ledger.recordVerdict({
        sipId: 'sip-9',
        status: 'rejected',
        decidedAt: '2024-01-02T00:00:00.000Z',
        reasons: ['image/gif is not accepted'],
        reportPath: 'r2',
      });
      const pkgs = await ledger.packagesOf('mus-0009');
      assert.equal(pkgs.length, 1);
      assert.equal(pkgs[0].size, 120);
      assert.equal(pkgs[0].verdict, 'rejected');
      assert.deepEqual(pkgs[0].reasons, ['image/gif is not accepted']);
      assert.equal(pkgs[0].reportPath, 'r2');
      const kinds = (await ledger.timeline('mus-0009')).map((e) => e.kind);
      assert.deepEqual(kinds, ['packaged', 'verdict']);
    });

    it("audits each delivered object's latest accepted package in SIP id order; a problem stands until a confirmation or a fixity-ok", async () => {
      const pkg = { attempt: 1, sha256: 'd'.repeat(64), size: 10, payloadBytes: 5, payloadFiles: 1 };
      const accepted = async (objectId: string, sipId: string, createdAt: string) => {
        await ledger.recordPackage({ ...pkg, objectId, sipId, createdAt });
        await ledger.recordVerdict({ sipId, status: 'accepted', decidedAt: createdAt, reasons: [], reportPath: 'r' });
      };
      await accepted('obj-b', 'b.a1', '2024-01-01T00:00:00.000Z');
      await accepted('obj-b', 'b.a2', '2024-01-02T00:00:00.000Z'); // the later one is audited
      await accepted('obj-a', 'a.a1', '2024-01-01T00:00:00.000Z');
      await accepted('obj-c', 'c.a1', '2024-01-01T00:00:00.000Z'); // never delivered: custody keeps no copy
      await ledger.recordPackage({ ...pkg, objectId: 'obj-a', sipId: 'a.a2', createdAt: '2024-01-03T00:00:00.000Z' }); // no verdict yet
      for (const id of ['obj-a', 'obj-b']) await ledger.deliveries.set(id, 'mirror', { state: 'delivered', at: '2024-01-04T00:00:00.000Z' });
      assert.equal(await ledger.fixity.count(), 2);
      assert.deepEqual(
        (await ledger.fixity.after(undefined, 10)).map((p) => p.sipId),
        ['a.a1', 'b.a2'],
      );
      assert.deepEqual(
        (await ledger.fixity.after('a.a1', 10)).map((p) => p.sipId),
        ['b.a2'],
      );
      assert.deepEqual(await ledger.fixity.after('b.a2', 10), []);

      const event = (objectId: string, kind: string, where: string, at: string) =>
        ledger.recordEvent({ key: `${kind}:${objectId}:${where}:${at}`, objectId, kind, detail: { where }, at });
      await event('obj-a', 'fixity-mismatch', 'kept', '2024-02-01T00:00:00.000Z');
      await event('obj-a', 'fixity-missing', 'mirror', '2024-02-01T00:00:00.000Z');
      await event('obj-b', 'fixity-mismatch', 'kept', '2024-02-01T00:00:00.000Z');
      assert.deepEqual(await ledger.fixity.unresolved(), ['obj-a', 'obj-b']);
      await event('obj-a', 'fixity-ok', 'kept', '2024-02-02T00:00:00.000Z');
      assert.deepEqual([...(await ledger.fixity.openProblems('obj-a'))], ['mirror']);
      await ledger.recordEvent({ key: 'confirmed:b.a3', objectId: 'obj-b', kind: 'confirmed', at: '2024-02-03T00:00:00.000Z' });
      assert.deepEqual(await ledger.fixity.unresolved(), ['obj-a']);
    });

    it('packagesById finds the packages it has among many SIP ids, more than one IN list holds', async () => {
      const base = {
        objectId: 'mus-0009',
        attempt: 1,
        sha256: 'c'.repeat(64),
        size: 100,
        payloadBytes: 80,
        payloadFiles: 2,
        createdAt: '2024-01-01T00:00:00.000Z',
      };
      await ledger.recordPackage({ ...base, sipId: 'sip-a' });
      await ledger.recordPackage({ ...base, sipId: 'sip-b', objectId: 'mus-0010' });
      const asked = [...Array.from({ length: 1200 }, (_, i) => `unknown-${i}`), 'sip-b', 'sip-a'];
      const found = await ledger.packagesById(asked);
      assert.deepEqual(found.map((p) => [p.sipId, p.objectId, p.size]).sort(), [
        ['sip-a', 'mus-0009', 100],
        ['sip-b', 'mus-0010', 100],
      ]);
      assert.deepEqual(await ledger.packagesById([]), []);
    });

    it('refuses a verdict for a SIP it never recorded', async () => {
      await assert.rejects(
        ledger.recordVerdict({ sipId: 'nope', status: 'accepted', decidedAt: '2024-01-01T00:00:00Z', reasons: [], reportPath: 'r' }),
        (e: Error & { type?: string }) => e.type === 'UnknownSip' && /nope/.test(e.message),
      );
    });

    it('markPreserved copies the source modifiedAt current at the time, and only for an accepted SIP', async () => {
      const id = 'mus-0004';
      await ledger.upsertObject({ id, title: 'Letter', sourceModifiedAt: '2024-02-01T00:00:00.000Z' });
      const pkg = { objectId: id, attempt: 1, sha256: 'c'.repeat(64), size: 1, payloadBytes: 1, payloadFiles: 1, createdAt: '2024-02-02T00:00:00.000Z' };
      await ledger.recordPackage({ ...pkg, sipId: 'sip-r' });
      await ledger.recordVerdict({ sipId: 'sip-r', status: 'rejected', decidedAt: '2024-02-03T00:00:00.000Z', reasons: ['x'], reportPath: 'r' });
      await assert.rejects(ledger.markPreserved(id, 'sip-r', '2024-02-04T00:00:00.000Z'), (e: Error & { type?: string }) => e.type === 'VerdictNotAccepted');
      assert.equal((await ledger.getObject(id))?.preservedModifiedAt, null);

      await ledger.recordPackage({ ...pkg, sipId: 'sip-a', attempt: 2 });
      await ledger.recordVerdict({ sipId: 'sip-a', status: 'accepted', decidedAt: '2024-02-05T00:00:00.000Z', reasons: [], reportPath: 'r' });
      await ledger.markPreserved(id, 'sip-a', '2024-02-06T00:00:00.000Z');
      await ledger.upsertObject({ id, title: 'Letter', sourceModifiedAt: '2024-03-01T00:00:00.000Z' });
      const obj = await ledger.getObject(id);
      assert.equal(obj?.state, 'confirmed');
      assert.equal(obj?.preservedModifiedAt, '2024-02-01T00:00:00.000Z');
      assert.equal(obj?.sourceModifiedAt, '2024-03-01T00:00:00.000Z');
      assert.deepEqual(
        (await ledger.packagesOf(id)).map((p) => [p.sipId, p.verdict]),
        [
          ['sip-a', 'accepted'],
          ['sip-r', 'rejected'],
        ],
      );
    });

    it('listObjects filters by state and by id', async () => {
      const at = '2024-01-01T00:00:00.000Z';
      await ledger.setState('c', 'failed', { key: 'c1', at, error: 'disk full' });
      await ledger.setState('a', 'rejected', { key: 'a1', at });
      await ledger.setState('b', 'downloading', { key: 'b1', at });
      await ledger.setState('d', 'rejected', { key: 'd1', at });
      assert.deepEqual(
        (await ledger.listObjects()).map((o) => o.id),
        ['a', 'b', 'c', 'd'],
      );
      assert.deepEqual(
        (await ledger.listObjects({ states: ['rejected', 'failed'] })).map((o) => o.id),
        ['a', 'c', 'd'],
      );
      assert.deepEqual(
        (await ledger.listObjects({ states: ['rejected'], ids: ['d', 'b', 'zz'] })).map((o) => o.id),
        ['d'],
      );
      assert.deepEqual(await ledger.listObjects({ states: [] }), []);
      assert.equal((await ledger.getObject('c'))?.lastError, 'disk full');
      await ledger.setState('c', 'queued', { key: 'c2', at });
      assert.equal((await ledger.getObject('c'))?.lastError, null);
    });

    it('opens an existing ledger for reading, and refuses a place that holds none, naming it', async () => {
      await ledger.upsertObject({ id: 'mus-0001', title: 'Harbour at dawn', sourceModifiedAt: '2024-03-01T10:00:00Z' });
      const existing = await openExistingLedger(file);
      try {
        assert.equal((await existing.getObject('mus-0001'))?.title, 'Harbour at dawn');
      } finally {
        await existing.close();
      }
      // A database or file without custody's tables: refused, and left without them.
      const empty = sqlite ? path.join(dir, 'other.sqlite') : await backend.database(dir, 'other');
      if (sqlite) new Database(empty).close();
      await assert.rejects(
        openExistingLedger(empty),
        (e: Error) =>
          e instanceof LedgerNotFoundError && /holds no custody ledger/.test(e.message) && e.message.includes(sqlite ? empty : 'PostgreSQL database'),
      );
      const check = openLedger(empty);
      try {
        await assert.rejects(check.listObjects(), 'no tables were created');
      } finally {
        await check.close();
      }
      if (sqlite) {
        const missing = path.join(dir, 'typo', 'ledger.sqlite');
        await assert.rejects(openExistingLedger(missing), (e: Error) => e instanceof LedgerNotFoundError && e.message.startsWith(`no ledger at ${missing}`));
        assert.equal(fs.existsSync(path.join(dir, 'typo')), false, 'nothing created');
      }
    });

    it('freezes and unfreezes an object', async () => {
      const at = '2024-01-01T00:00:00.000Z';
      await ledger.setFrozen('mus-0005', { reason: 'rights unclear', by: 'alice' }, { key: 'f1', at });
      let obj = await ledger.getObject('mus-0005');
      assert.deepEqual([obj?.frozen, obj?.frozenReason, obj?.frozenBy], [true, 'rights unclear', 'alice']);
      await ledger.setFrozen('mus-0005', null, { key: 'f2', at: '2024-01-02T00:00:00.000Z' });
      obj = await ledger.getObject('mus-0005');
      assert.deepEqual([obj?.frozen, obj?.frozenReason], [false, null]);
      assert.deepEqual(
        (await ledger.timeline('mus-0005')).map((e) => e.kind),
        ['frozen', 'unfrozen'],
      );
    });

    it('keeps the first drain, the schedules it paused and the held work until resume takes them', async () => {
      assert.equal(await ledger.drain.state(), undefined);
      await ledger.drain.set({ since: '2024-01-01T00:00:00.000Z', by: 'alice', reason: 'upgrade' });
      await ledger.drain.setPausedSchedules(['sync-source']);
      const again = await ledger.drain.set({ since: '2024-01-02T00:00:00.000Z', by: 'bob', reason: 'again' });
      assert.deepEqual(again, { since: '2024-01-01T00:00:00.000Z', by: 'alice', reason: 'upgrade', pausedSchedules: ['sync-source'] });
      await ledger.drain.hold({
        kind: 'preserve',
        itemId: 'mus-0001',
        args: { objectId: 'mus-0001', reason: 'enqueue' },
        heldBy: 'enqueue',
        at: '2024-01-01T01:00:00.000Z',
      });
      await ledger.drain.hold({ kind: 'copy', itemId: 'copy:ds:data v1', args: { version: 1 }, heldBy: 'alice', at: '2024-01-01T00:30:00.000Z' });
      // Held twice: one row, the latest arguments, the first time.
      await ledger.drain.hold({
        kind: 'preserve',
        itemId: 'mus-0001',
        args: { objectId: 'mus-0001', reason: 'harvest' },
        heldBy: 'harvest',
        at: '2024-01-01T02:00:00.000Z',
      });
      assert.deepEqual(await ledger.drain.heldSummary(), { counts: { copy: 1, preserve: 1 }, total: 2, oldest: '2024-01-01T00:30:00.000Z' });
      assert.deepEqual(
        (await ledger.drain.held()).map((w) => [w.kind, w.itemId, w.args, w.heldAt]),
        [
          ['copy', 'copy:ds:data v1', { version: 1 }, '2024-01-01T00:30:00.000Z'],
          ['preserve', 'mus-0001', { objectId: 'mus-0001', reason: 'harvest' }, '2024-01-01T01:00:00.000Z'],
        ],
      );
      await ledger.drain.clear();
      await ledger.drain.release('copy', 'copy:ds:data v1');
      assert.equal(await ledger.drain.state(), undefined);
      assert.deepEqual(
        (await ledger.drain.held()).map((w) => w.itemId),
        ['mus-0001'],
      );
    });
  });

describe('ledger database URLs', () => {
  it('accepts paths, sqlite: and file: URLs', () => {
    assert.equal(sqlitePathOf('/var/lib/custody/l.sqlite'), '/var/lib/custody/l.sqlite');
    assert.equal(sqlitePathOf('sqlite:///var/l.sqlite'), '/var/l.sqlite');
    assert.equal(sqlitePathOf('file:///var/l.sqlite'), '/var/l.sqlite');
    assert.equal(sqlitePathOf('sqlite:rel/l.sqlite'), path.resolve('rel/l.sqlite'));
  });

  it('names a URL it cannot open without echoing the password', () => {
    assert.throws(
      () => openLedger('mysql://custody:s3cret@db/x'),
      (e: Error) => /unsupported scheme/.test(e.message) && !e.message.includes('s3cret'),
    );
    assert.throws(
      () => sqlitePathOf('postgres://custody:s3cret@db/custody'),
      (e: Error) => /PostgreSQL/.test(e.message) && !e.message.includes('s3cret'),
    );
  });
});
