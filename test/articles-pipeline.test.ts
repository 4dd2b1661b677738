import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { ArticleRecordSchema, buildArticleRecord, writeArticleRecord } from '../articles/article-record';
import { WebFigureFailed, makeWebFigure, makeWebFigures } from '../articles/web-figures';
import { ELIFE_FIXTURE, sandbox, tree, removeSandboxes } from './support/article-zips';
import { runArticlePipeline, type PipelineRun } from './support/article-pipeline';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const KEY = 'incoming/2024/elife-00353-vor-v1-20121213000000.zip';

// Computed independently (unzip + sha256sum) from the real package.
const REAL_FILES = [
  { path: 'elife-00353-v1.xml', size: 9458, sha256: 'fefc13e4d2be54ba14f0b5ed2c022989e8786b7cf6121869907147c9a5edff40' },
  { path: 'elife-00353-fig1-v1.tif', size: 961324, sha256: '84ffac470c31835b391a416cc74a0b31a81dee5b8680a090933c8b28902d7fa5' },
  { path: 'elife-00353-v1.pdf', size: 936318, sha256: 'e188fb631232230c07847133dbff656d521e43ee6679cffecd30f9d82df9d8d4' },
];

describe('articles: the real eLife package end to end', () => {
  after(removeSandboxes);

  let run: PipelineRun;
  let work: string;

  before(async () => {
    work = sandbox().root;
    run = await runArticlePipeline(ELIFE_FIXTURE, KEY, work, { formats: ['jpeg', 'webp'] });
  });

  it('parses the name, and expands the three files with the right bytes', () => {
    assert.deepEqual(
      { journal: run.name.journal, articleId: run.name.articleId, status: run.name.status, version: run.name.version, timestamp: run.name.timestamp },
      { journal: 'elife', articleId: '00353', status: 'vor', version: 1, timestamp: '20121213000000' },
    );
    assert.deepEqual(run.expanded.files, REAL_FILES);
    assert.deepEqual(run.expanded.skipped, []);
    for (const f of REAL_FILES) assert.equal(sha256(fs.readFileSync(path.join(run.packageDir, f.path))), f.sha256);
  });

  it('makes a JPEG of the TIFF figure, no wider than the limit and never enlarged, in sRGB', async () => {
    const jpeg = run.webFigures.find((w) => w.format === 'jpeg');
    assert.ok(jpeg);
    assert.equal(jpeg.path, 'elife-00353-fig1-v1.jpg');
    assert.equal(jpeg.derivedFrom, 'elife-00353-fig1-v1.tif');
    const file = path.join(run.webDir, jpeg.path);
    const meta = await sharp(file).metadata();
    // The TIFF is 797×914, under the 1500 px limit: kept at its size.
    assert.deepEqual(
      { format: meta.format, width: meta.width, height: meta.height, space: meta.space },
      { format: 'jpeg', width: 797, height: 914, space: 'srgb' },
    );
    assert.deepEqual({ width: jpeg.width, height: jpeg.height }, { width: 797, height: 914 });
    const bytes = fs.readFileSync(file);
    assert.equal(jpeg.size, bytes.length);
    assert.equal(jpeg.sha256, sha256(bytes));
    const webp = await sharp(path.join(run.webDir, 'elife-00353-fig1-v1.webp')).metadata();
    assert.deepEqual([webp.format, webp.width, webp.height], ['webp', 797, 914]);
    assert.deepEqual(tree(run.webDir), ['elife-00353-fig1-v1.jpg', 'elife-00353-fig1-v1.webp']);
  });

  it('scales a figure down to the maximum width, keeping its proportions', async () => {
    const out = path.join(work, 'web-400');
    const [small] = await makeWebFigures(run.packageDir, ['elife-00353-fig1-v1.tif'], out, { maxWidth: 400 });
    const meta = await sharp(path.join(out, small.path)).metadata();
    assert.equal(meta.width, 400);
    assert.ok(Math.abs((meta.height ?? 0) - (914 * 400) / 797) <= 1, `height ${meta.height}`);
  });

  it('builds the record: ids, status, title, authors, dates, licence, and every asset with size and sha256', () => {
    const r = run.record;
    assert.deepEqual(ArticleRecordSchema.parse(r), r);
    assert.deepEqual(
      { articleId: r.articleId, version: r.version, status: r.status, doi: r.doi, title: r.title, package: r.package },
      { articleId: '00353', version: 1, status: 'vor', doi: '10.7554/eLife.00353', title: 'A good life', package: { key: KEY, timestamp: '20121213000000' } },
    );
    assert.deepEqual(r.authors, [{ kind: 'person', surname: 'Marder', givenNames: 'Eve', corresponding: true }]);
    assert.equal(r.pubDates[0].date, '2012-12-13');
    assert.equal(r.licence.href, 'http://creativecommons.org/licenses/by/3.0/');
    assert.deepEqual(
      r.assets.map((a) => [a.location, a.path, a.role, a.mediaType]),
      [
        ['package', 'elife-00353-fig1-v1.tif', 'figure', 'image/tiff'],
        ['package', 'elife-00353-v1.pdf', 'pdf', 'application/pdf'],
        ['package', 'elife-00353-v1.xml', 'article-xml', 'application/xml'],
        ['web', 'elife-00353-fig1-v1.jpg', 'web-figure', 'image/jpeg'],
        ['web', 'elife-00353-fig1-v1.webp', 'web-figure', 'image/webp'],
      ],
    );
    for (const asset of r.assets) {
      const bytes = fs.readFileSync(path.join(asset.location === 'package' ? run.packageDir : run.webDir, asset.path));
      assert.equal(asset.size, bytes.length, asset.path);
      assert.equal(asset.sha256, sha256(bytes), asset.path);
    }
    assert.deepEqual(r.assets[0].hrefs, ['elife-00353-fig1-v1']);
  });

  it('writes the same record bytes when built again from the same package (no clock, fixed order)', async () => {
    const again = buildArticleRecord({
      name: run.name,
      article: run.article,
      files: [...run.expanded.files].reverse(),
      webFigures: [...run.webFigures].reverse(),
    });
    const first = await writeArticleRecord(path.join(work, 'records', 'a.json'), run.record);
    const second = await writeArticleRecord(path.join(work, 'records', 'b.json'), again);
    assert.equal(first.sha256, second.sha256);
    assert.deepEqual(JSON.parse(fs.readFileSync(first.path, 'utf8')), run.record);
    assert.deepEqual(tree(path.join(work, 'records')), ['a.json', 'b.json']);
  });

  it('refuses a figure with more pixels than the limit before decoding it, leaving no output', async () => {
    const out = path.join(work, 'web-limited');
    await assert.rejects(
      makeWebFigure(run.packageDir, 'elife-00353-fig1-v1.tif', out, { limitInputPixels: 100_000 }),
      (e: unknown) => e instanceof WebFigureFailed && e.kind === 'too-many-pixels' && e.file === 'elife-00353-fig1-v1.tif' && /797×914/.test(e.message),
    );
    assert.deepEqual(tree(out), []);
  });

  it('refuses a figure that is not an image, naming it, and leaves no partial file', async () => {
    const dir = path.join(work, 'broken');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'fig.tif'), 'II*\0 this is not really a TIFF');
    const out = path.join(work, 'web-broken');
    await assert.rejects(
      makeWebFigure(dir, 'fig.tif', out),
      (e: unknown) => e instanceof WebFigureFailed && e.kind === 'unreadable-image' && /^Figure fig\.tif/.test(e.message),
    );
    await assert.rejects(makeWebFigure(dir, 'fig.eps', out), (e: unknown) => e instanceof WebFigureFailed && e.kind === 'not-a-raster');
    assert.deepEqual(tree(out), []);
    // A truncated TIFF: its header reads, its pixels do not; the half-written output goes.
    fs.writeFileSync(path.join(dir, 'cut.tif'), fs.readFileSync(path.join(run.packageDir, 'elife-00353-fig1-v1.tif')).subarray(0, 300_000));
    await assert.rejects(
      makeWebFigure(dir, 'cut.tif', out),
      (e: unknown) => e instanceof WebFigureFailed && e.kind === 'unreadable-image' && /scanline/.test(e.message),
    );
    assert.deepEqual(tree(out), []);
  });
});
