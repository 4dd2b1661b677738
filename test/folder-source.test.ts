import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { folderSource, isInvalidSourceObject } from '../sources';
import { readHead } from '../sources/folder-source';

type Failure = Error & { type?: string; nonRetryable?: boolean };

/** metadata null: no object.json at all. */
function writeObject(root: string, id: string, files: Record<string, string | Buffer>, metadata: unknown = defaultMetadata(id)): string {
  const dir = path.join(root, id);
  fs.mkdirSync(dir, { recursive: true });
  if (metadata !== null) {
    fs.writeFileSync(path.join(dir, 'object.json'), typeof metadata === 'string' ? metadata : JSON.stringify(metadata));
  }
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

function defaultMetadata(id: string) {
  return { id, title: `Object ${id}`, modifiedAt: '2024-04-01T09:30:00Z', creators: ['A. Maker'], type: 'Text' };
}

const sha = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** Asserts a non-retryable failure of the given type whose message contains every fragment. */
async function rejectsWith(p: Promise<unknown>, type: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (e: Failure) => {
    assert.equal(e.type, type, `expected ${type}, got ${e.type}: ${e.message}`);
    assert.equal(e.nonRetryable, true);
    for (const f of fragments) assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
    return true;
  });
}

describe('folder source', () => {
  let tmp: string;
  let root: string;
  // 300 KB, so the copy takes several stream chunks and reports progress in between.
  const big = Buffer.alloc(300 * 1024, 0);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-source-'));
    root = path.join(tmp, 'collection');
    writeObject(root, 'mus-0002', {
      'letter.txt': 'Dear Sir,\n',
      'scans/page-1.bin': big,
      'scans/detail/margin.txt': 'note',
      // A nested object.json is payload: only the top-level one is the metadata.
      'scans/object.json': '{"not":"metadata"}',
    });
    writeObject(root, 'mus-0001', { 'a.txt': 'a' }, { ...defaultMetadata('mus-0001'), title: 'First' });
  });

  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('lists objects sorted by id, keeping invalid ones with their error', async () => {
    writeObject(root, 'mus-0003', { 'x.txt': 'x' }, { id: 'mus-0003', modifiedAt: 'yesterday' });
    writeObject(root, 'mus-0000', { 'x.txt': 'x' }, null);
    fs.writeFileSync(path.join(root, 'README.txt'), 'not an object');
    fs.mkdirSync(path.join(root, '.git'));
    const listed = await folderSource(root).list();
    assert.deepEqual(
      listed.map((o) => o.id),
      ['mus-0000', 'mus-0001', 'mus-0002', 'mus-0003'],
    );
    assert.deepEqual(listed[1], { id: 'mus-0001', title: 'First', modifiedAt: '2024-04-01T09:30:00Z' });
    const bad = listed.filter(isInvalidSourceObject);
    assert.deepEqual(
      bad.map((o) => o.id),
      ['mus-0000', 'mus-0003'],
    );
    assert.match(bad[0].error, /object\.json is missing/);
    assert.match(bad[1].error, /title/);
    assert.match(bad[1].error, /modifiedAt/);
  });

  it('describes a nested object: validated metadata and payload files with / paths', async () => {
    const { metadata, files } = await folderSource(root).describe('mus-0002');
    assert.equal(metadata.title, 'Object mus-0002');
    assert.deepEqual(metadata.subjects, []);
    assert.deepEqual(files, [
      { path: 'letter.txt', size: 10 },
      { path: 'scans/detail/margin.txt', size: 4 },
      { path: 'scans/object.json', size: 18 },
      { path: 'scans/page-1.bin', size: big.length },
    ]);
  });

  it('downloads every file with its relative path and object.json, reporting progress', async () => {
    const dest = path.join(tmp, 'work', 'mus-0002', '1');
    const progress: Array<[number, number]> = [];
    const result = await folderSource(root).download('mus-0002', dest, (d, t) => progress.push([d, t]));
    const total = 10 + 4 + 18 + big.length;
    for (const f of result.files) {
      assert.equal(sha(path.join(dest, f.path)), sha(path.join(root, 'mus-0002', f.path)), f.path);
      assert.equal(f.sha256, sha(path.join(root, 'mus-0002', f.path)), `${f.path}: the SHA-256 computed while copying`);
    }
    const written = JSON.parse(fs.readFileSync(path.join(dest, 'object.json'), 'utf8'));
    assert.equal(written.id, 'mus-0002');
    assert.ok(progress.length > 4, `only ${progress.length} progress reports`);
    assert.ok(progress.every(([, t]) => t === total));
    assert.deepEqual(progress.at(-1), [total, total]);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i][0] >= progress[i - 1][0], 'progress went backwards');
    assert.deepEqual(
      fs.readdirSync(dest, { recursive: true }).filter((f) => String(f).includes('.custody-partial')),
      [],
    );
  });

  it('copies nothing when downloading again, but replaces a file that differs', async () => {
    const dest = path.join(tmp, 'work');
    const source = folderSource(root);
    await source.download('mus-0002', dest);
    const stamp = (rel: string) => {
      const st = fs.statSync(path.join(dest, rel));
      return `${st.ino}:${st.mtimeMs}`;
    };
    const rels = ['letter.txt', 'scans/page-1.bin', 'scans/detail/margin.txt', 'object.json'];
    const before = rels.map(stamp);
    await new Promise((r) => setTimeout(r, 20));
    // Same size, different bytes: must be copied again.
    fs.writeFileSync(path.join(dest, 'scans/detail/margin.txt'), 'XXXX');
    const touched = stamp('scans/detail/margin.txt');
    const again = await source.download('mus-0002', dest);
    const after = rels.map(stamp);
    // Kept and copied files alike come back with the source's SHA-256.
    for (const f of again.files) assert.equal(f.sha256, sha(path.join(root, 'mus-0002', f.path)), f.path);
    assert.equal(after[0], before[0]);
    assert.equal(after[1], before[1]);
    assert.equal(after[3], before[3]);
    assert.notEqual(after[2], touched);
    assert.equal(fs.readFileSync(path.join(dest, 'scans/detail/margin.txt'), 'utf8'), 'note');
  });

  it('follows a symlink that stays inside the object', async () => {
    fs.symlinkSync('letter.txt', path.join(root, 'mus-0002', 'letter-link.txt'));
    const { files } = await folderSource(root).describe('mus-0002');
    assert.ok(files.some((f) => f.path === 'letter-link.txt' && f.size === 10));
  });

  it('fails with ObjectNotFound for a missing folder', async () => {
    await rejectsWith(folderSource(root).describe('mus-9999'), 'ObjectNotFound', 'mus-9999');
  });

  it('fails with InvalidObjectMetadata naming zod issue paths, bad JSON, a missing file or a wrong id', async () => {
    writeObject(root, 'bad-1', { 'x.txt': 'x' }, { id: 'bad-1', title: '', modifiedAt: 'soon', creators: [3] });
    await rejectsWith(folderSource(root).describe('bad-1'), 'InvalidObjectMetadata', 'bad-1', 'title', 'modifiedAt', 'creators.0');
    writeObject(root, 'bad-2', { 'x.txt': 'x' }, '{ "id": ');
    await rejectsWith(folderSource(root).describe('bad-2'), 'InvalidObjectMetadata', 'bad-2', 'not valid JSON');
    writeObject(root, 'bad-3', { 'x.txt': 'x' }, null);
    await rejectsWith(folderSource(root).download('bad-3', path.join(tmp, 'w')), 'InvalidObjectMetadata', 'bad-3', 'missing');
    writeObject(root, 'bad-4', { 'x.txt': 'x' }, defaultMetadata('other'));
    await rejectsWith(folderSource(root).describe('bad-4'), 'InvalidObjectMetadata', '"other"', '"bad-4"');
  });

  it('fails with InvalidObjectMetadata naming each field that holds a character XML cannot carry (item 12)', async () => {
    writeObject(root, 'ctrl', { 'x.txt': 'x' }, { ...defaultMetadata('ctrl'), title: 'Bell \u0001 title', subjects: ['fine', 'bad \uFFFE'] });
    await rejectsWith(folderSource(root).describe('ctrl'), 'InvalidObjectMetadata', 'title: contains U+0001', 'subjects.1: contains U+FFFE');
  });

  it('fails with EmptyObject when there are no payload files', async () => {
    writeObject(root, 'empty', {});
    fs.mkdirSync(path.join(root, 'empty', 'sub', 'dir'), { recursive: true });
    await rejectsWith(folderSource(root).describe('empty'), 'EmptyObject', 'empty');
  });

  it('fails with UnsafePath for a symlink leaving the object, and for ids that are paths', async () => {
    const outside = path.join(tmp, 'secret.txt');
    fs.writeFileSync(outside, 'secret');
    fs.symlinkSync(outside, path.join(root, 'mus-0002', 'scans', 'escape.txt'));
    await rejectsWith(folderSource(root).download('mus-0002', path.join(tmp, 'w')), 'UnsafePath', 'mus-0002', 'scans/escape.txt');
    assert.equal(fs.existsSync(path.join(tmp, 'w', 'scans', 'escape.txt')), false);

    fs.symlinkSync(root, path.join(root, 'mus-0001', 'up'));
    await rejectsWith(folderSource(root).describe('mus-0001'), 'UnsafePath', '"up"');

    await rejectsWith(folderSource(root).describe('../collection/mus-0001'), 'UnsafePath');
    await rejectsWith(folderSource(root).describe('..'), 'UnsafePath');
  });

  it('fails with UnsafePath for a symlinked folder that loops', async () => {
    fs.symlinkSync('..', path.join(root, 'mus-0002', 'scans', 'loop'));
    await rejectsWith(folderSource(root).describe('mus-0002'), 'UnsafePath', 'scans/loop');
  });

  it('downloads a file whose name is 250 bytes: temporary names stay short (item 9)', async () => {
    const name = `${'é'.repeat(120)}-long.txt`; // 240 + 9 = 249 bytes of UTF-8
    assert.ok(Buffer.byteLength(name) >= 249);
    writeObject(root, 'long-name', { [name]: 'a long name' });
    const dest = path.join(tmp, 'w-long');
    const { files } = await folderSource(root).download('long-name', dest);
    assert.deepEqual(
      files.map((f) => f.path),
      [name],
    );
    assert.equal(fs.readFileSync(path.join(dest, name), 'utf8'), 'a long name');
  });

  it('fails with InvalidFileName showing the bytes of a name that is not valid UTF-8 (item 10)', async () => {
    writeObject(root, 'latin1', { 'ok.txt': 'fine' });
    fs.writeFileSync(Buffer.concat([Buffer.from(path.join(root, 'latin1', 'caf')), Buffer.from([0xe9]), Buffer.from('.txt')]), 'café in Latin-1');
    await rejectsWith(folderSource(root).inspect('latin1', 64), 'InvalidFileName', 'object "latin1"', 'file name is not valid UTF-8: caf\\xe9.txt');
    const listed = await folderSource(root).list();
    assert.ok(
      listed.some((o) => o.id === 'latin1'),
      'the object is still listed',
    );
  });

  it('freezes a file that grows while being copied, reading at most one byte past its size (item 16)', async () => {
    writeObject(root, 'growing', { 'log.txt': 'line 1\n' });
    const file = path.join(root, 'growing', 'log.txt');
    let grown = false;
    // The first progress report comes after the listing and before the copy: the file grows in between.
    const p = folderSource(root).download('growing', path.join(tmp, 'w-grow'), () => {
      if (!grown) fs.appendFileSync(file, 'line 2\n'.repeat(10_000));
      grown = true;
    });
    await rejectsWith(p, 'SourceFileChanged', 'object "growing"', '"log.txt" changed size while being read', 'listed as 7');
    assert.deepEqual(fs.readdirSync(path.join(tmp, 'w-grow')), [], 'nothing is left of the copy');
  });

  it('sees that a pseudo file (/proc) lists 0 bytes but yields some (item 16)', async function () {
    if (!fs.existsSync('/proc/self/status')) this.skip();
    assert.equal(fs.statSync('/proc/self/status').size, 0);
    const { yieldsMore, head } = await readHead('/proc/self/status', 0, 4096);
    assert.equal(yieldsMore, true);
    assert.equal(head.length, 0);
    assert.equal((await readHead(path.join(root, 'mus-0001', 'a.txt'), 1, 4096)).yieldsMore, false);
  });

  it('fails with UnsupportedFileType for a named pipe (item 16)', async () => {
    writeObject(root, 'fifo', { 'a.txt': 'a' });
    execFileSync('mkfifo', [path.join(root, 'fifo', 'pipe')]);
    await rejectsWith(folderSource(root).inspect('fifo', 64), 'UnsupportedFileType', '"pipe" is neither a file nor a folder');
  });

  it('takes a symlinked object folder inside the source, refuses one pointing outside it', async () => {
    fs.symlinkSync(path.join(root, 'mus-0001'), path.join(root, 'alias'));
    fs.writeFileSync(path.join(root, 'mus-0001', 'object.json'), JSON.stringify(defaultMetadata('alias')));
    assert.deepEqual((await folderSource(root).describe('alias')).files, [{ path: 'a.txt', size: 1 }]);

    const elsewhere = writeObject(tmp, 'outside', { 'x.txt': 'x' });
    fs.symlinkSync(elsewhere, path.join(root, 'outside'));
    await rejectsWith(folderSource(root).describe('outside'), 'UnsafePath', 'object "outside"', 'leaves the source folder');
  });

  it('keeps hard-linked payload files as ordinary files, each with its bytes', async () => {
    writeObject(root, 'linked', { 'one.txt': 'shared bytes' });
    fs.linkSync(path.join(root, 'linked', 'one.txt'), path.join(root, 'linked', 'two.txt'));
    const dest = path.join(tmp, 'w-linked');
    const { files } = await folderSource(root).download('linked', dest);
    assert.deepEqual(
      files.map((f) => [f.path, f.size]),
      [
        ['one.txt', 12],
        ['two.txt', 12],
      ],
    );
    assert.equal(fs.readFileSync(path.join(dest, 'two.txt'), 'utf8'), 'shared bytes');
  });

  it('says which folder is missing when the source root does not exist', async () => {
    await assert.rejects(folderSource(path.join(tmp, 'nowhere')).list(), /nowhere/);
  });
});

describe('the demo collection (examples/collection)', () => {
  const root = path.resolve(__dirname, '../examples/collection');
  // File signatures, so a renamed or truncated file is caught here rather than by the service.
  const signatures: Record<string, (b: Buffer) => boolean> = {
    '.jpg': (b) => b[0] === 0xff && b[1] === 0xd8 && b.at(-2) === 0xff && b.at(-1) === 0xd9,
    '.png': (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    '.tif': (b) => b.subarray(0, 4).equals(Buffer.from('II*\0', 'latin1')),
    '.gif': (b) => b.subarray(0, 6).toString('latin1') === 'GIF89a' && b.at(-1) === 0x3b,
    '.pdf': (b) => b.subarray(0, 5).toString('latin1') === '%PDF-' && b.subarray(-6).toString('latin1').includes('%%EOF'),
    '.xml': (b) => b.subarray(0, 5).toString('latin1') === '<?xml',
  };

  it('lists a dozen valid objects whose files are what their names say, and one GIF in mus-0007', async () => {
    const source = folderSource(root);
    const listed = await source.list();
    assert.equal(listed.filter(isInvalidSourceObject).length, 0, JSON.stringify(listed.filter(isInvalidSourceObject)));
    assert.ok(listed.length >= 10, `only ${listed.length} objects`);
    const gifs: string[] = [];
    const kinds = new Set<string>();
    for (const { id } of listed) {
      const { files } = await source.describe(id);
      for (const f of files) {
        const ext = path.extname(f.path);
        kinds.add(ext);
        if (ext === '.gif') gifs.push(`${id}/${f.path}`);
        const check = signatures[ext];
        if (check) assert.ok(check(fs.readFileSync(path.join(root, id, f.path))), `${id}/${f.path} is not a valid ${ext} file`);
      }
    }
    assert.deepEqual(gifs, ['mus-0007/moonrise-animation.gif']);
    for (const ext of ['.jpg', '.png', '.tif', '.pdf', '.txt', '.csv', '.xml']) assert.ok(kinds.has(ext), `no ${ext} file`);
  });
});
