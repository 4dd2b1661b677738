// The demo's table of outcomes, from a real (SQLite) ledger: every object that did not end
// confirmed shows why, a frozen one included, and nothing in it can drive the terminal.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openLedger, type Ledger } from '../ledger';
import { printable } from '../starters/printable';
import { outcomeTable } from '../starters/outcome-table';

const UI = 'http://localhost:8233/namespaces/custody/workflows';

describe('the demo outcome table', () => {
  let dir: string;
  let ledger: Ledger;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-outcomes-'));
    ledger = openLedger(path.join(dir, 'ledger.sqlite'));
    await ledger.migrate();
  });
  after(async () => {
    await ledger.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints why each object is not confirmed: who froze it and why, else its last error; escaped', async () => {
    const at = '2026-01-01T00:00:00.000Z';
    await ledger.setState('obj-1', 'confirmed', { key: 'k1', at, sipId: 'obj-1.a1' });
    await ledger.setState('obj-2', 'frozen', { key: 'k2', at });
    await ledger.setFrozen('obj-2', { reason: 'file data/x.tif: \u001b[2Jformat\nunknown', by: 'ana' }, { key: 'k3', at });
    await ledger.setState('obj-3', 'rejected', {
      key: 'k4',
      at,
      sipId: 'obj-3.a1',
      error: 'rejected: file data/a.gif: format image/gif is not on the accepted list',
    });
    await ledger.setState('obj-4', 'no-verdict', { key: 'k5', at });
    const rows = await ledger.listObjects({ ids: ['obj-1', 'obj-2', 'obj-3', 'obj-4'] });
    const { lines, asExpected } = outcomeTable(rows, { 'obj-1': 'confirmed', 'obj-2': 'frozen', 'obj-3': 'confirmed' }, UI);
    assert.equal(asExpected, false);
    assert.deepEqual(lines, [
      'object     outcome    SIP                        workflow',
      `obj-1      confirmed  obj-1.a1                   ${UI}/preserve%3Aobj-1`,
      `obj-2      frozen     -                          ${UI}/preserve%3Aobj-2`,
      '           reason: frozen by ana: file data/x.tif: \\x1b[2Jformat\\nunknown',
      `obj-3      rejected   obj-3.a1                   ${UI}/preserve%3Aobj-3`,
      '           reason: rejected: file data/a.gif: format image/gif is not on the accepted list',
      '           UNEXPECTED: expected confirmed',
      `obj-4      no-verdict -                          ${UI}/preserve%3Aobj-4`,
      '           reason: (none recorded in the ledger)',
    ]);
  });

  it('escapes every control character a title or reason could carry, and leaves other text alone', () => {
    assert.equal(printable('caf\u00e9 \u2014 \u65e5\u672c'), 'caf\u00e9 \u2014 \u65e5\u672c');
    assert.equal(printable('a\tb\r\nc\u0000\u0007\u007f\u009b31m\u202eexe.txt'), 'a\\tb\\r\\nc\\x00\\x07\\x7f\\u009b31m\\u202eexe.txt');
  });
});
