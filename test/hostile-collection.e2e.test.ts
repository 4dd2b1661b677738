// The hostile collection (examples/generate-hostile.ts) through the whole system on the real
// Temporal dev server and reference service: every object ends confirmed, or frozen with a
// reason naming the file or field, as examples/hostile-expected-outcomes.json says — none
// failed, none left queued or running — and nothing is written outside the data folders.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../config/config';
import { AUTOMATIC_FREEZER, SETTLED_STAGES, preserveWorkflowId } from '../common/preservation';
import { enqueue } from '../starters/enqueue';
import { generateHostile } from '../examples/generate-hostile';
import { startCustodySystem, type CustodySystem } from './support/custody-system';
import { waitForStage } from './support/wait-for-stage';

type Expected = Record<string, { outcome: 'confirmed' | 'frozen' | 'rejected' | 'refused'; reason?: string }>;
const expected = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'examples', 'hostile-expected-outcomes.json'), 'utf8')) as Expected;

/** Every path under `dir` with its size (symlinks as their target text), not following symlinks. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  // Paths as bytes: one name in the collection is not valid UTF-8.
  const walk = (abs: Buffer, rel: string) => {
    for (const name of fs.readdirSync(abs, { encoding: 'buffer' })) {
      const child = Buffer.concat([abs, Buffer.from('/'), name]);
      const shown = `${rel}/${name.toString('latin1')}`;
      const st = fs.lstatSync(child);
      if (st.isDirectory()) walk(child, shown);
      else out.push(`${shown} ${st.isSymbolicLink() ? `-> ${fs.readlinkSync(child, 'latin1')}` : st.size}`);
    }
  };
  walk(Buffer.from(dir), '');
  return out.sort();
}

describe('the hostile collection, end to end', function () {
  this.timeout(300_000);
  let sys: CustodySystem;
  let tmp: string;
  let collection: string;
  let untouched: string[];

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-hostile-'));
    collection = path.join(tmp, 'collection');
    generateHostile(collection);
    untouched = snapshot(tmp);
    sys = await startCustodySystem({ config: { storage: { source: collection }, verdict: { pollAfter: '1s', deadline: '14d' } } });
  });
  after(async () => {
    await sys?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('ends every object confirmed or frozen with a reason naming the file or field, none failed, nothing written elsewhere', async () => {
    const started = await enqueue({ client: sys.client, config: sys.config, ledger: sys.ledger, source: sys.source }, {});
    assert.deepEqual(started.map((o) => o.objectId).sort(), Object.keys(expected).sort(), 'every object is taken, none dropped');
    // An entry whose name cannot be an object id is refused at enqueue, with its reason, every time.
    const refused = started.filter((o) => o.action === 'refused');
    assert.deepEqual(
      refused.map((o) => o.objectId).sort(),
      Object.keys(expected)
        .filter((id) => expected[id].outcome === 'refused')
        .sort(),
    );
    for (const o of refused)
      assert.match(o.action === 'refused' ? o.reason : '', new RegExp(expected[o.objectId].reason!), `${o.objectId}: the reason names the folder`);
    const outcomes: Record<string, string> = {};
    for (const id of Object.keys(expected).filter((k) => expected[k].outcome !== 'refused')) {
      const state = await waitForStage(sys.client.workflow.getHandle(preserveWorkflowId(id)), [...SETTLED_STAGES], 240_000);
      outcomes[id] = `${state.stage}${state.frozenReason ? `: ${state.frozenReason}` : state.lastError ? `: ${state.lastError}` : ''}`;
    }
    for (const [id, want] of Object.entries(expected).filter(([, w]) => w.outcome !== 'refused')) {
      const got = outcomes[id];
      assert.ok(got.startsWith(want.outcome), `${id} ended ${got}, not ${want.outcome}`);
      if (want.outcome === 'frozen') {
        const row = await sys.ledger.getObject(id);
        assert.equal(row?.frozen, true, `${id} is frozen in the ledger`);
        assert.equal(row?.frozenBy, AUTOMATIC_FREEZER);
        assert.match(row?.frozenReason ?? '', new RegExp(want.reason!), `${id}: the reason names the file or field`);
      }
    }

    // The source is read, never written; custody's own files are only in its data and service folders.
    assert.deepEqual(snapshot(tmp), untouched, 'nothing changed beside the collection');
    assert.deepEqual(fs.readdirSync(sys.root).sort(), ['data', 'service', 'source']);
    assert.deepEqual(fs.readdirSync(sys.sourceDir), []);
    assert.ok(!fs.existsSync(path.join(collection, '..', 'x')));
  });
});
