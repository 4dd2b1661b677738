// The preservation pipeline end to end on a real Temporal dev server, a real reference
// preservation service, a real ledger and the sample collection.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { preserveWorkflowId } from '../common/preservation';
import type { ObjectMetadata } from '../common/object-metadata';
import { SA } from '../common/search-attributes';
import { createSchedules } from '../starters/schedules';
import { enqueue } from '../starters/enqueue';
import type { ActivityDeps } from '../activities';
import { interceptSubmit } from './support/intercept-submit';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { digest, parseManifest, readTar } from './support/sip-inspection';
import { recordHistory } from './support/record-history';
import { waitForStage } from './support/wait-for-stage';
import { freshPostgresDatabase } from './support/postgres';

const HAPPY = ['mus-0001', 'mus-0002', 'mus-0003'];

/** Observes (does not change) what is submitted: keeps a copy of every SIP tar handed to the service. */
function keepSubmittedCopies(dir: string) {
  fs.mkdirSync(dir, { recursive: true });
  return (parts: ActivityDeps) =>
    interceptSubmit(parts, async (sip) => {
      await pipeline(await sip.open(), fs.createWriteStream(path.join(dir, `${sip.sipId}.tar`)));
    });
}

async function startAll(sys: CustodySystem, ids: string[]) {
  const outcomes = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids });
  assert.deepEqual(
    outcomes.map((o) => o.action),
    ids.map(() => 'started'),
  );
  return ids.map((id) => sys.client.workflow.getHandle(preserveWorkflowId(id)));
}

/** The sipProcessed signals a workflow received, from its history. */
async function signalsReceived(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) =>
    e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName ?? ''] : [],
  );
}

describe('preservation pipeline, end to end', function () {
  this.timeout(180_000);

  describe('happy path with the scheduled poller', () => {
    let sys: CustodySystem;
    const submittedDir = () => path.join(sys.root, 'submitted');
    before(async () => {
      sys = await startCustodySystem({
        objects: HAPPY,
        // The workflow's own poll is far away: verdicts must arrive by the schedule's signal.
        config: { verdict: { pollAfter: '1h', deadline: '14d' }, schedules: { syncProcessedSips: { every: '2s', catchupWindow: '1m' } } },
      });
      await sys.stopWorkers();
      await sys.startWorkers(keepSubmittedCopies(path.join(sys.root, 'submitted')));
    });
    after(async () => sys?.close());

    it('preserves every object: confirmed, signalled by the poller, ledger and reports written, working files gone', async () => {
      await createSchedules(sys.client, sys.config);
      const handles = await startAll(sys, HAPPY);
      const results = await Promise.all(handles.map((h) => h.result()));
      for (const r of results) assert.equal(r.stage, 'confirmed', JSON.stringify(r));
      await recordHistory('preserve-happy-path-signalled', handles[0]);

      for (const [i, id] of HAPPY.entries()) {
        assert.ok((await signalsReceived(handles[i])).includes('sipProcessed'), `${id}: the verdict came by the sipProcessed signal`);
        const attributes = (await handles[i].describe()).typedSearchAttributes;
        assert.equal(attributes.get(SA.stage), 'confirmed');
        assert.equal(attributes.get(SA.state), 'confirmed');
        assert.equal(attributes.get(SA.objectId), id);
        assert.equal(attributes.get(SA.pipeline), 'preservation');
        assert.equal(attributes.get(SA.frozen), false);
        assert.match(attributes.get(SA.buildId) ?? '', /^\d+\.\d+\.\d+\+/, 'the build id of the worker that made the SIP');
        const row = await sys.ledger.getObject(id);
        const meta = JSON.parse(fs.readFileSync(path.join(sys.sourceDir, id, 'object.json'), 'utf8')) as ObjectMetadata;
        assert.equal(row?.state, 'confirmed');
        assert.equal(row?.preservedModifiedAt, meta.modifiedAt);
        assert.equal(row?.title, meta.title);
        const [pkg, ...more] = await sys.ledger.packagesOf(id);
        assert.equal(more.length, 0, 'one SIP per object');
        assert.equal(pkg.verdict, 'accepted');
        assert.equal(pkg.sipId, results[i].sipId);
        assert.ok(pkg.reportPath && fs.readFileSync(pkg.reportPath, 'utf8').includes(pkg.sipId), 'the report is archived');
        const stages = (await sys.ledger.timeline(id)).filter((e) => e.kind === 'stage').map((e) => e.stage);
        assert.deepEqual(stages, ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'confirmed']);
        assert.equal(fs.existsSync(path.join(sys.config.dataDir, 'work', id)), false, 'working files deleted');
      }
    });

    it('submitted bags whose every member matches its manifests and whose METS carries the metadata', async () => {
      const tars = fs.readdirSync(submittedDir());
      assert.equal(tars.length, HAPPY.length);
      for (const tar of tars) {
        const members = await readTar(path.join(submittedDir(), tar));
        const sipId = tar.replace(/\.tar$/, '');
        const top = new Set(members.map((m) => m.name.split('/')[0]));
        assert.deepEqual([...top], [sipId], 'one top-level folder named after the SIP');
        const byName = new Map(members.map((m) => [m.name.slice(sipId.length + 1), m.data]));
        for (const alg of ['sha256', 'sha512']) {
          for (const kind of ['manifest', 'tagmanifest']) {
            const manifest = parseManifest(byName.get(`${kind}-${alg}.txt`)!.toString());
            assert.ok(manifest.size > 0);
            for (const [file, sum] of manifest) assert.equal(digest(alg, byName.get(file)!), sum, `${tar}: ${kind}-${alg} ${file}`);
          }
          const payload = [...byName.keys()].filter((n) => n.startsWith('data/'));
          assert.deepEqual(
            [...parseManifest(byName.get(`manifest-${alg}.txt`)!.toString()).keys()].sort(),
            payload.sort(),
            'the manifest lists exactly the payload',
          );
        }
        const objectId = sipId.split('.a')[0];
        const meta = JSON.parse(fs.readFileSync(path.join(sys.sourceDir, objectId, 'object.json'), 'utf8')) as ObjectMetadata;
        const metsName = [...byName.keys()].find((n) => n.endsWith('mets.xml'))!;
        const mets = byName.get(metsName)!.toString();
        assert.ok(mets.includes(meta.title), 'dc:title in METS');
        // The METS cannot hold its own checksum; every other payload file has PREMIS fixity in it.
        for (const [file, sum] of parseManifest(byName.get('manifest-sha512.txt')!.toString())) {
          if (file !== metsName) assert.ok(mets.includes(sum), `PREMIS fixity of ${file} in METS`);
        }
        assert.match(mets, /premis:eventType>[^<]*creation/i);
        assert.match(mets, /custody/);
      }
    });

    it('enqueue skips what is already preserved and takes what was modified since', async () => {
      const again = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, {});
      assert.deepEqual(
        again.map((o) => o.action),
        HAPPY.map(() => 'skipped'),
      );
      const file = path.join(sys.sourceDir, 'mus-0002', 'object.json');
      const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as ObjectMetadata;
      fs.writeFileSync(file, JSON.stringify({ ...meta, modifiedAt: new Date().toISOString() }, null, 2));
      const third = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, {});
      assert.deepEqual(
        third.map((o) => [o.objectId, o.action]),
        [
          ['mus-0001', 'skipped'],
          ['mus-0002', 'started'],
          ['mus-0003', 'skipped'],
        ],
      );
      const result = await sys.client.workflow.getHandle(preserveWorkflowId('mus-0002')).result();
      assert.equal(result.stage, 'confirmed');
      assert.equal((await sys.ledger.packagesOf('mus-0002')).length, 2, 'a second SIP for the modified object');
    });
  });

  describe('with the ledger on PostgreSQL', () => {
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({
        objects: ['mus-0005'],
        config: { databaseUrl: await freshPostgresDatabase(), verdict: { pollAfter: '1s', deadline: '14d' } },
      });
    });
    after(async () => sys?.close());

    it('preserves an object with its timeline, package and verdict in PostgreSQL', async () => {
      const [handle] = await startAll(sys, ['mus-0005']);
      assert.equal((await handle.result()).stage, 'confirmed');
      assert.match(sys.config.databaseUrl, /^postgres:/);
      assert.equal((await sys.ledger.getObject('mus-0005'))?.state, 'confirmed');
      const [pkg] = await sys.ledger.packagesOf('mus-0005');
      assert.equal(pkg.verdict, 'accepted');
      const stages = (await sys.ledger.timeline('mus-0005')).filter((e) => e.kind === 'stage').map((e) => e.stage);
      assert.deepEqual(stages, ['queued', 'downloading', 'packaging', 'submitting', 'awaiting-verdict', 'confirming', 'confirmed']);
    });
  });

  describe('without the poller', () => {
    let sys: CustodySystem;
    before(async () => {
      sys = await startCustodySystem({ objects: ['mus-0004'], config: { verdict: { pollAfter: '1s', deadline: '14d' } } });
    });
    after(async () => sys?.close());

    it('recovers a missed sipProcessed signal by its own poll; enqueue while running starts nothing', async () => {
      const [handle] = await startAll(sys, ['mus-0004']);
      const twice = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, { ids: ['mus-0004'] });
      assert.deepEqual(
        twice.map((o) => o.action),
        ['already-running'],
      );
      const result = await handle.result();
      assert.equal(result.stage, 'confirmed');
      await recordHistory('preserve-happy-path-own-poll', handle);
      assert.deepEqual(await signalsReceived(handle), [], 'no signal was sent');
      const history = JSON.stringify(await handle.fetchHistory());
      assert.ok(history.includes('checkVerdict'), "the verdict came from the workflow's own poll");
    });
  });

  describe('rejections', () => {
    let sys: CustodySystem;
    const CORRUPT = 'mus-0001';
    const GIF = 'mus-0007';
    before(async () => {
      sys = await startCustodySystem({
        objects: [CORRUPT, GIF],
        config: { verdict: { pollAfter: '1s', deadline: '14d' } },
        // A fault no real part produces on demand: one payload byte flipped in transit.
        decorate: (parts) =>
          interceptSubmit(parts, async (sip) => {
            if (!sip.sipId.startsWith(CORRUPT)) return;
            const bytes = await buffer(await sip.open());
            const members = await readTar(bytes);
            const victim = members.find((m) => m.name.includes('/data/') && !m.name.endsWith('mets.xml'))!;
            bytes[bytes.indexOf(victim.data.subarray(0, 64)) + 10] ^= 0xff;
            return { ...sip, sha256: digest('sha256', bytes), open: async () => Readable.from([bytes]) };
          }),
      });
    });
    after(async () => sys?.close());

    it('a broken checksum and an unaccepted format are rejected, with the reasons in the workflow and the ledger', async () => {
      const handles = await startAll(sys, [CORRUPT, GIF]);
      const cases: Array<[string, RegExp]> = [
        [CORRUPT, /checksum/i],
        [GIF, /image\/gif/],
      ];
      for (const [i, [id, reason]] of cases.entries()) {
        const state = await waitForStage(handles[i], ['rejected']);
        await recordHistory(`preserve-rejected-${id}`, handles[i]);
        assert.match(state.lastError ?? '', reason);
        assert.match(state.verdict?.reasons.join('\n') ?? '', reason);
        const row = await sys.ledger.getObject(id);
        assert.equal(row?.state, 'rejected');
        assert.match(row?.lastError ?? '', reason);
        const [pkg] = await sys.ledger.packagesOf(id);
        assert.equal(pkg.verdict, 'rejected');
        assert.match(pkg.reasons.join('\n'), reason);
      }
    });
  });
});
