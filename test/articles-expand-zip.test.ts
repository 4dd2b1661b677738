import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ZipRefused, expandZip, type ExpandOptions, type ZipRefusalKind } from '../articles/expand-zip';
import { buildZip, declaredSizes, patchEntry, rawEntries, sandbox, tree, writeZip, type ZipEntrySpec, removeSandboxes } from './support/article-zips';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Expands and expects a refusal; returns it after checking that nothing but the input exists beside (or in) the target. */
async function refusedWith(
  zip: Buffer,
  kind: ZipRefusalKind,
  options: ExpandOptions = {},
  prepare?: (sb: ReturnType<typeof sandbox>) => void,
): Promise<ZipRefused> {
  const sb = sandbox();
  writeZip(sb.zip, zip);
  prepare?.(sb);
  const before = tree(sb.root);
  const err = await expandZip(sb.zip, sb.target, options).then(
    () => assert.fail('expected the zip to be refused'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ZipRefused, `expected ZipRefused, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  assert.equal(err.zip, sb.zip);
  // Nothing outside the target, and nothing left in it: the sandbox is as it was before.
  assert.deepEqual(tree(sb.root), before);
  return err;
}

function entriesOf(err: ZipRefused, kind?: ZipRefusalKind): string[] {
  return err.refusals.filter((r) => kind === undefined || r.kind === kind).map((r) => r.entry ?? '');
}

const zeros = (n: number) => Buffer.alloc(n);

describe('articles: safe zip expansion', () => {
  after(removeSandboxes);

  it('writes the files with size and sha256, and skips directories, __MACOSX/ and .DS_Store, saying so', async () => {
    const xml = '<article/>';
    const tif = randomBytes(5000);
    const decomposed = 'cafe\u0301.txt';
    const zip = await buildZip([
      { name: 'figs', directory: true },
      { name: './elife.xml', data: xml },
      { name: 'figs//fig1.tif', data: tif, compress: false },
      { name: decomposed, data: 'nfd' },
      { name: '__MACOSX/._elife.xml', data: 'resource fork' },
      { name: '__MACOSX/figs/._fig1.tif', data: 'resource fork' },
      { name: '.DS_Store', data: 'finder' },
      { name: 'figs/.DS_Store', data: 'finder' },
      // Highly compressible, but below ratioMinBytes: a small text file is no bomb.
      { name: 'zeros.txt', data: zeros(512 * 1024) },
      // The zip's modes are not carried over: no executable or setuid file comes out of a package.
      { name: 'run.sh', data: '#!/bin/sh\n', mode: 0o104777 },
    ]);
    const sb = sandbox();
    writeZip(sb.zip, zip);
    const progress: number[] = [];
    const result = await expandZip(sb.zip, sb.target, { onProgress: (p) => progress.push(p.bytes) });

    assert.deepEqual(result.files, [
      { path: 'elife.xml', size: xml.length, sha256: sha256(xml) },
      { path: 'figs/fig1.tif', size: tif.length, sha256: sha256(tif) },
      { path: 'caf\u00e9.txt', size: 3, sha256: sha256('nfd') },
      { path: 'zeros.txt', size: 512 * 1024, sha256: sha256(zeros(512 * 1024)) },
      { path: 'run.sh', size: 10, sha256: sha256('#!/bin/sh\n') },
    ]);
    assert.deepEqual(result.skipped, [
      { entry: '"figs/"', reason: 'directory' },
      { entry: '"__MACOSX/._elife.xml"', reason: 'macos-resource-fork' },
      { entry: '"__MACOSX/figs/._fig1.tif"', reason: 'macos-resource-fork' },
      { entry: '".DS_Store"', reason: 'macos-folder-settings' },
      { entry: '"figs/.DS_Store"', reason: 'macos-folder-settings' },
    ]);
    assert.equal(result.totalBytes, xml.length + tif.length + 3 + 512 * 1024 + 10);
    assert.equal(result.target, fs.realpathSync(sb.target));
    // On disk: exactly these files, with these bytes, NFC-named, not executable.
    assert.deepEqual(tree(sb.target), ['caf\u00e9.txt', 'elife.xml', 'figs', 'figs/fig1.tif', 'run.sh', 'zeros.txt']);
    assert.equal(sha256(fs.readFileSync(path.join(sb.target, 'figs/fig1.tif'))), sha256(tif));
    assert.equal(fs.statSync(path.join(sb.target, 'run.sh')).mode & ~0o644 & 0o7777, 0);
    assert.equal(progress[progress.length - 1], result.totalBytes);
  });

  it("refuses '../' entries before writing anything, listing every one", async () => {
    let zip = await buildZip([
      { name: 'ok.txt', data: 'fine' },
      { name: 'xx/evil.txt', data: 'escaped' },
      { name: 'ok/xx/xx/evil2.txt', data: 'escaped' },
      { name: 'xx_evil3.txt', data: 'escaped' },
    ]);
    zip = patchEntry(zip, 'xx/evil.txt', { name: '../evil.txt' });
    zip = patchEntry(zip, 'ok/xx/xx/evil2.txt', { name: 'ok/../../evil2.txt' });
    zip = patchEntry(zip, 'xx_evil3.txt', { name: '..\\evil3.txt' });
    const err = await refusedWith(zip, 'path-traversal');
    assert.deepEqual(entriesOf(err), ['"../evil.txt"', '"ok/../../evil2.txt"', '"..\\\\evil3.txt"']);
    assert.match(err.message, /\.\.\/evil\.txt/);
    assert.match(err.message, /3 problems/);
  });

  it('refuses absolute paths: leading slash, drive letters with either slash, UNC', async () => {
    let zip = await buildZip([
      { name: 'xetc/evil.txt', data: 'x' },
      { name: 'CC/evil.txt', data: 'x' },
      { name: 'DD_evil.txt', data: 'x' },
      { name: 'xxserver/evil.txt', data: 'x' },
    ]);
    zip = patchEntry(zip, 'xetc/evil.txt', { name: '/etc/evil.txt' });
    zip = patchEntry(zip, 'CC/evil.txt', { name: 'C:/evil.txt' });
    zip = patchEntry(zip, 'DD_evil.txt', { name: 'D:\\evil.txt' });
    zip = patchEntry(zip, 'xxserver/evil.txt', { name: '\\\\server/evil.txt' });
    const err = await refusedWith(zip, 'absolute-path');
    assert.equal(entriesOf(err, 'absolute-path').length, 4);
    assert.ok(!fs.existsSync('/etc/evil.txt'));
  });

  it('refuses symlinks and other special files by the unix mode in the external attributes', async () => {
    const zip = await buildZip([
      { name: 'link', data: '/etc/passwd', mode: 0o120777 },
      { name: 'fifo', data: '', mode: 0o010644 },
      { name: 'plain.txt', data: 'fine', mode: 0o100755 },
    ]);
    const err = await refusedWith(zip, 'symlink');
    assert.deepEqual(
      err.refusals.map((r) => [r.entry, r.kind]),
      [
        ['"link"', 'symlink'],
        ['"fifo"', 'special-file'],
      ],
    );
  });

  it('refuses symlink attributes forged onto an entry made without them', async () => {
    const zip = patchEntry(await buildZip([{ name: 'figure.tif', data: '../../../../etc/passwd' }]), 'figure.tif', {
      externalAttributes: (0o120777 << 16) >>> 0,
    });
    await refusedWith(zip, 'symlink');
  });

  it('refuses encrypted entries', async () => {
    const zip = patchEntry(await buildZip([{ name: 'secret.xml', data: '<article/>' }]), 'secret.xml', { orFlags: 0x1 });
    const err = await refusedWith(zip, 'encrypted');
    assert.deepEqual(entriesOf(err), ['"secret.xml"']);
  });

  it('refuses compression methods other than stored and deflate', async () => {
    const zip = patchEntry(await buildZip([{ name: 'a.xml', data: '<article/>' }]), 'a.xml', { compressionMethod: 12 });
    const err = await refusedWith(zip, 'unsupported-compression');
    assert.match(err.message, /method 12/);
  });

  it('refuses a zip bomb by compression ratio, from the central directory', async () => {
    const zip = await buildZip([{ name: 'bomb.tif', data: zeros(20 * 1024 * 1024) }]);
    const { compressed, uncompressed } = declaredSizes(zip, 'bomb.tif');
    assert.ok(uncompressed / compressed > 100, 'the test zip must be a bomb');
    const err = await refusedWith(zip, 'compression-ratio');
    assert.match(err.message, /limit 100/);
  });

  it('refuses entries whose data overlap (many directory entries over one compressed kernel)', async () => {
    let zip = await buildZip([
      { name: 'kernel.bin', data: randomBytes(50_000) },
      { name: 'copy-1.bin', data: randomBytes(50_000) },
      { name: 'copy-2.bin', data: randomBytes(50_000) },
    ]);
    const [kernel] = rawEntries(zip);
    zip = patchEntry(zip, 'copy-1.bin', { localHeaderOffset: kernel.local });
    zip = patchEntry(zip, 'copy-2.bin', { localHeaderOffset: kernel.local + 100 });
    const err = await refusedWith(zip, 'overlapping-entries');
    assert.deepEqual(entriesOf(err, 'overlapping-entries').sort(), ['"copy-1.bin"', '"copy-2.bin"']);
    assert.match(err.message, /inside those of entry "kernel\.bin"|inside those of entry "copy-1\.bin"/);
  });

  it('refuses more files than the limit, and more entries than the limit before reading them', async () => {
    const many: ZipEntrySpec[] = Array.from({ length: 30 }, (_, i) => ({ name: `f${i}.txt`, data: `${i}` }));
    const zip = await buildZip(many);
    const files = await refusedWith(zip, 'too-many-files', { maxFiles: 10 });
    assert.match(files.message, /30 files to write; the limit is 10/);
    const entries = await refusedWith(zip, 'too-many-entries', { maxEntries: 20 });
    assert.match(entries.message, /30 entries; the limit is 20/);
  });

  it('refuses more uncompressed bytes in all than the limit, by the declared sizes', async () => {
    const zip = await buildZip([0, 1, 2].map((i) => ({ name: `part${i}.bin`, data: randomBytes(400_000) })));
    const err = await refusedWith(zip, 'too-large', { maxTotalBytes: 1_000_000 });
    assert.match(err.message, /1200000 bytes uncompressed; the limit is 1000000/);
  });

  it('stops an entry whose declared size lies low at the first byte past it, and removes what it wrote', async () => {
    const real = zeros(5 * 1024 * 1024);
    let zip = await buildZip([
      { name: 'first.txt', data: 'written before the liar' },
      { name: 'liar.tif', data: real },
    ]);
    zip = patchEntry(zip, 'liar.tif', { uncompressedSize: 1000 });
    // Declared 1000 bytes from ~5 KB compressed: no ratio alarm, well within the total limit.
    const err = await refusedWith(zip, 'size-mismatch', { maxTotalBytes: 1_000_000 });
    assert.deepEqual(entriesOf(err), ['"liar.tif"']);
    assert.match(err.message, /declares 1000 bytes uncompressed but holds more/);
    // It stopped within the first inflated chunk, not after the 5 MB.
    assert.ok(Number(/at least (\d+)/.exec(err.message)?.[1]) < 100_000, err.message);
  });

  it('leaves a target that existed empty, empty, after a refusal while streaming', async () => {
    let zip = await buildZip([
      { name: 'first.txt', data: 'x' },
      { name: 'dir/liar.txt', data: 'twenty bytes of text' },
    ]);
    zip = patchEntry(zip, 'dir/liar.txt', { uncompressedSize: 40 });
    const err = await refusedWith(zip, 'size-mismatch', {}, (sb) => fs.mkdirSync(sb.target));
    assert.match(err.message, /declares 40 bytes uncompressed but holds 20/);
  });

  it('refuses an entry whose CRC-32 does not match its bytes', async () => {
    const zip = patchEntry(await buildZip([{ name: 'a.xml', data: '<article/>' }]), 'a.xml', { crc32: 0x12345678 });
    const err = await refusedWith(zip, 'corrupt');
    assert.match(err.message, /CRC-32 .* does not match the declared 12345678/);
  });

  it('refuses names that are one file after normalising ./, // and Unicode NFC, and a file where a folder is needed', async () => {
    const zip = await buildZip([
      { name: 'a.xml', data: '1' },
      { name: './a.xml', data: '2' },
      { name: 'caf\u00e9.txt', data: '1' },
      { name: 'cafe\u0301.txt', data: '2' },
      { name: 'figs/b.tif', data: '1' },
      { name: 'figs//b.tif', data: '2' },
      { name: 'data', data: 'a file' },
      { name: 'data/table.csv', data: 'a,b' },
    ]);
    const err = await refusedWith(zip, 'duplicate');
    assert.deepEqual(
      err.refusals.map((r) => [r.entry, r.kind]),
      [
        ['"./a.xml"', 'duplicate'],
        ['"cafe\u0301.txt"', 'duplicate'],
        ['"figs//b.tif"', 'duplicate'],
        ['"data/table.csv"', 'path-conflict'],
      ],
    );
    assert.match(err.refusals[0].message, /same file as entry "a\.xml"/);
  });

  it('refuses names with control characters or a backslash inside', async () => {
    let zip = await buildZip([
      { name: 'a_b.txt', data: 'x' },
      { name: 'dir_file.txt', data: 'x' },
    ]);
    zip = patchEntry(zip, 'a_b.txt', { name: 'a\nb.txt' });
    zip = patchEntry(zip, 'dir_file.txt', { name: 'dir\\file.txt' });
    const err = await refusedWith(zip, 'bad-name');
    assert.deepEqual(entriesOf(err), ['"a\\nb.txt"', '"dir\\\\file.txt"']);
  });

  it('lists every bad entry of the central directory in one refusal', async () => {
    let zip = await buildZip([
      { name: 'xx/evil.txt', data: 'x' },
      { name: 'link', data: '/etc', mode: 0o120777 },
      { name: 'secret.xml', data: 'x' },
      { name: 'a.xml', data: 'x' },
      { name: './a.xml', data: 'x' },
      { name: 'bomb.bin', data: zeros(4 * 1024 * 1024) },
    ]);
    zip = patchEntry(zip, 'xx/evil.txt', { name: '../evil.txt' });
    zip = patchEntry(zip, 'secret.xml', { orFlags: 0x1 });
    const err = await refusedWith(zip, 'path-traversal');
    assert.deepEqual(
      err.refusals.map((r) => r.kind),
      ['path-traversal', 'symlink', 'encrypted', 'duplicate', 'compression-ratio'],
    );
    for (const name of ['../evil.txt', 'link', 'secret.xml', './a.xml', 'bomb.bin'])
      assert.ok(err.message.includes(JSON.stringify(name)), `${name} in ${err.message}`);
  });

  it('refuses a file that is not a zip, and a target that is not empty (leaving it alone)', async () => {
    const notZip = await refusedWith(Buffer.from('%PDF-1.4 not a zip at all'), 'not-a-zip');
    assert.match(notZip.message, /package\.zip/);
    const zip = await buildZip([{ name: 'a.xml', data: 'x' }]);
    const err = await refusedWith(zip, 'target-not-empty', {}, (sb) => {
      fs.mkdirSync(sb.target);
      fs.writeFileSync(path.join(sb.target, 'earlier.txt'), 'kept');
    });
    assert.match(err.message, /not an empty folder/);
  });

  it('stops when its signal is aborted, removing what it wrote', async () => {
    const zip = await buildZip([
      { name: 'a.bin', data: randomBytes(200_000) },
      { name: 'b.bin', data: randomBytes(200_000) },
    ]);
    const sb = sandbox();
    writeZip(sb.zip, zip);
    const controller = new AbortController();
    const err = await expandZip(sb.zip, sb.target, {
      signal: controller.signal,
      onProgress: (p) => {
        if (p.bytes > 100_000) controller.abort();
      },
    }).then(
      () => assert.fail('expected an abort'),
      (e: unknown) => e as Error,
    );
    assert.equal(err.name, 'AbortError');
    assert.deepEqual(tree(sb.root), ['in', 'in/package.zip']);
  });
});
