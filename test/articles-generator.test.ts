import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { generateArticles, type GeneratedPackage } from '../examples/generate-articles';
import { ELIFE_FIXTURE, sandbox, removeSandboxes } from './support/article-zips';
import { runArticlePipeline, type PipelineRun } from './support/article-pipeline';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('articles: generated sample packages (examples/generate-articles.ts)', () => {
  after(removeSandboxes);

  let out: string;
  let made: GeneratedPackage[];
  const runs = new Map<string, PipelineRun>();

  before(async function () {
    this.timeout(60_000);
    const root = sandbox().root;
    out = path.join(root, 'packages');
    made = await generateArticles(out);
    for (const p of made) runs.set(p.kind, await runArticlePipeline(path.join(out, p.file), `incoming/${p.file}`, path.join(root, 'work', p.kind)));
  });

  it('writes the four packages and a manifest that lists them', () => {
    assert.deepEqual(
      made.map((p) => [p.file, p.kind]),
      [
        ['elife-00353-vor-v1-20121213000000.zip', 'original'],
        ['elife-00353-vor-v2-20130115000000.zip', 'new-version'],
        ['elife-00353-vor-v1-20121220000000.zip', 'silent-update'],
        ['elife-99353-vor-v1-20130301000000.zip', 'second-article'],
      ],
    );
    assert.deepEqual(fs.readdirSync(out).sort(), [...made.map((p) => p.file), 'manifest.json'].sort());
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')).packages, made);
    assert.equal(sha256(fs.readFileSync(path.join(out, made[0].file))), sha256(fs.readFileSync(ELIFE_FIXTURE)));
  });

  it('gives packages that pass the pipeline with the ids, versions, titles and figures the manifest says', async () => {
    for (const p of made) {
      const run = runs.get(p.kind);
      assert.ok(run, p.kind);
      assert.deepEqual(
        { articleId: run.record.articleId, version: run.record.version, title: run.record.title, files: run.expanded.files.map((f) => f.path) },
        { articleId: p.articleId, version: p.version, title: p.title, files: p.files },
        p.file,
      );
      const figure = run.record.assets.find((a) => a.role === 'figure');
      assert.equal(figure?.path, p.figure.file, p.file);
      const meta = await sharp(path.join(run.packageDir, p.figure.file)).metadata();
      assert.deepEqual([meta.width, meta.height], [p.figure.width, p.figure.height], p.file);
    }
  });

  it('makes version 2 a new version: -v2 names throughout, a new title, the same figure', () => {
    const v1 = runs.get('original');
    const v2 = runs.get('new-version');
    assert.ok(v1 && v2);
    assert.equal(v2.article.xmlFile, 'elife-00353-v2.xml');
    assert.deepEqual(
      v2.article.references.map((r) => r.href),
      ['elife-00353-v2.pdf', 'elife-00353-fig1-v2'],
    );
    assert.notEqual(v2.record.title, v1.record.title);
    const sums = (r: PipelineRun) => r.record.assets.filter((a) => a.role === 'figure').map((a) => a.sha256);
    assert.deepEqual(sums(v2), sums(v1));
  });

  it('makes the silent update the same version with a different figure, bounded to 1500 px on the web', () => {
    const v1 = runs.get('original');
    const silent = runs.get('silent-update');
    assert.ok(v1 && silent);
    assert.equal(silent.record.version, v1.record.version);
    assert.deepEqual(
      silent.record.assets.map((a) => a.path),
      v1.record.assets.map((a) => a.path),
    );
    const figureSum = (r: PipelineRun) => r.record.assets.find((a) => a.role === 'figure')?.sha256;
    assert.notEqual(figureSum(silent), figureSum(v1));
    const web = silent.webFigures[0];
    assert.equal(web.width, 1500);
    assert.ok(Math.abs(web.height - (1000 * 1500) / 1600) <= 1);
  });

  it('rewrites every id of the second article, so it validates as 99353 and not as 00353', () => {
    const second = runs.get('second-article');
    assert.ok(second);
    assert.equal(second.record.doi, '10.7554/eLife.99353');
    assert.equal(second.record.elocationId, 'e99353');
    const xml = fs.readFileSync(path.join(second.packageDir, 'elife-99353-v1.xml'), 'utf8');
    assert.doesNotMatch(xml, /00353/);
  });

  it('is deterministic: a second run writes the same bytes', async () => {
    const again = path.join(path.dirname(out), 'again');
    await generateArticles(again);
    for (const file of fs.readdirSync(out)) assert.equal(sha256(fs.readFileSync(path.join(again, file))), sha256(fs.readFileSync(path.join(out, file))), file);
    // And a run over its own output replaces it (the copy of the read-only fixture included).
    await generateArticles(again);
  });
});
