// Writes article packages derived from the real eLife package, for demos and tests of the
// publishing pipeline:
//   elife-00353-vor-v1-20121213000000.zip  the real package, byte for byte
//   elife-00353-vor-v2-20130115000000.zip  version 2: files and references renamed -v2, title changed
//   elife-00353-vor-v1-20121220000000.zip  a silent update of v1: same version, the figure replaced
//                                          by a different image (1600×1000), the title tweaked
//   elife-99353-vor-v1-20130301000000.zip  a second article: every id in names and XML rewritten
// plus manifest.json, which says what each package is and what the pipeline must find in it.
//   npx tsx examples/generate-articles.ts OUT_DIR [FIXTURE_ZIP]
// Deterministic: fixed entry dates and modes, a seeded image, the same bytes on every run (with
// the same Node.js, whose zlib does the compressing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yazl from 'yazl';
import { expandZip } from '../articles/expand-zip';
import { paint, rng, tiff } from './lib/images';

export const ELIFE_FIXTURE = path.resolve(__dirname, '../../shared/fixtures/elife/elife-00353-vor-v1-20121213000000.zip');

export type SampleKind = 'original' | 'new-version' | 'silent-update' | 'second-article';

export interface GeneratedPackage {
  file: string;
  kind: SampleKind;
  articleId: string;
  version: number;
  title: string;
  /** The figure in the package, and its pixel size. */
  figure: { file: string; width: number; height: number };
  files: string[];
}

const ENTRY_DATE = new Date('2015-09-11T22:59:52Z');
const TITLE = 'A good life';
const SECOND_ID = '99353';

type Files = [name: string, data: Buffer][];

/** Writes the packages and manifest.json into `outDir` (created if needed; same-named files are replaced). */
export async function generateArticles(outDir: string, fixture = ELIFE_FIXTURE): Promise<GeneratedPackage[]> {
  const original = await readFixture(fixture);
  const xml = original.find(([name]) => name === 'elife-00353-v1.xml')?.[1].toString('utf8');
  if (xml === undefined) throw new Error(`${fixture}: no elife-00353-v1.xml`);
  const fig = { width: 797, height: 914 };
  fs.mkdirSync(outDir, { recursive: true });
  const made: GeneratedPackage[] = [];

  const v1 = 'elife-00353-vor-v1-20121213000000.zip';
  // Not copyFile: it would carry the fixture's read-only mode, and a second run could not replace the copy.
  fs.writeFileSync(path.join(outDir, v1), fs.readFileSync(fixture));
  made.push({
    file: v1,
    kind: 'original',
    articleId: '00353',
    version: 1,
    title: TITLE,
    figure: { file: 'elife-00353-fig1-v1.tif', ...fig },
    files: original.map(([n]) => n),
  });

  // Version 2: every file name and reference moves to -v2, and the title changes.
  const v2Title = 'A good life in science';
  const v2Xml = replaceAll(xml, [
    ['elife-00353-fig1-v1', 'elife-00353-fig1-v2', 1],
    ['elife-00353-v1.pdf', 'elife-00353-v2.pdf', 1],
    [`<article-title>${TITLE}</article-title>`, `<article-title>${v2Title}</article-title>`, 1],
  ]);
  const v2Files = original.map(([name, data]): [string, Buffer] => [
    name.replace(/-v1(\.[a-z]+)$/, '-v2$1'),
    name.endsWith('.xml') ? Buffer.from(v2Xml) : data,
  ]);
  made.push(
    await writePackage(outDir, 'elife-00353-vor-v2-20130115000000.zip', v2Files, {
      kind: 'new-version',
      articleId: '00353',
      version: 2,
      title: v2Title,
      figure: { file: 'elife-00353-fig1-v2.tif', ...fig },
    }),
  );

  // A silent update of v1: the same names, a different figure, a corrected title.
  const silentTitle = 'A Good Life';
  const replacement = { width: 1600, height: 1000 };
  const silentXml = replaceAll(xml, [[`<article-title>${TITLE}</article-title>`, `<article-title>${silentTitle}</article-title>`, 1]]);
  const silentFiles = original.map(([name, data]): [string, Buffer] => [
    name,
    name.endsWith('.xml') ? Buffer.from(silentXml) : name.endsWith('.tif') ? replacementFigure(replacement.width, replacement.height) : data,
  ]);
  made.push(
    await writePackage(outDir, 'elife-00353-vor-v1-20121220000000.zip', silentFiles, {
      kind: 'silent-update',
      articleId: '00353',
      version: 1,
      title: silentTitle,
      figure: { file: 'elife-00353-fig1-v1.tif', ...replacement },
    }),
  );

  // A second article: the id rewritten wherever it appears (names, publisher-id, elocation-id, DOI).
  const secondXml = replaceAll(xml, [
    ['<article-id pub-id-type="publisher-id">00353</article-id>', `<article-id pub-id-type="publisher-id">${SECOND_ID}</article-id>`, 1],
    ['10.7554/eLife.00353', `10.7554/eLife.${SECOND_ID}`, 1],
    ['<elocation-id>e00353</elocation-id>', `<elocation-id>e${SECOND_ID}</elocation-id>`, 1],
    ['elife-00353-', `elife-${SECOND_ID}-`, 2],
  ]);
  const secondFiles = original.map(([name, data]): [string, Buffer] => [
    name.replace('elife-00353-', `elife-${SECOND_ID}-`),
    name.endsWith('.xml') ? Buffer.from(secondXml) : data,
  ]);
  made.push(
    await writePackage(outDir, `elife-${SECOND_ID}-vor-v1-20130301000000.zip`, secondFiles, {
      kind: 'second-article',
      articleId: SECOND_ID,
      version: 1,
      title: TITLE,
      figure: { file: `elife-${SECOND_ID}-fig1-v1.tif`, ...fig },
    }),
  );

  fs.writeFileSync(path.join(outDir, 'manifest.json'), `${JSON.stringify({ source: path.basename(fixture), packages: made }, null, 2)}\n`);
  return made;
}

async function readFixture(fixture: string): Promise<Files> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-generate-articles-'));
  try {
    const { files } = await expandZip(fixture, path.join(dir, 'package'));
    return files.map((f) => [f.path, fs.readFileSync(path.join(dir, 'package', f.path))]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Each edit must match exactly `count` times, so a changed fixture fails loudly instead of yielding a wrong package. */
function replaceAll(text: string, edits: [from: string, to: string, count: number][]): string {
  let out = text;
  for (const [from, to, count] of edits) {
    const found = out.split(from).length - 1;
    if (found !== count) throw new Error(`generate-articles: expected ${count} × ${JSON.stringify(from)} in the XML, found ${found}`);
    out = out.split(from).join(to);
  }
  return out;
}

/** A seeded picture, unlike the original figure, with grain enough to compress like a photograph (not like a zip bomb). */
function replacementFigure(width: number, height: number): Buffer {
  const noise = rng(353);
  return tiff(
    paint(width, height, (x, y) => {
      const n = noise() * 60 - 30;
      const ring = Math.sin(Math.hypot(x - width / 2, y - height / 2) / 18) * 60;
      return [120 + ring + n, 90 + (y / height) * 120 + n, 200 - (x / width) * 140 + n];
    }),
    { dpi: 300, software: 'custody generate-articles' },
  );
}

async function writePackage(outDir: string, file: string, files: Files, info: Omit<GeneratedPackage, 'file' | 'files'>): Promise<GeneratedPackage> {
  const zip = new yazl.ZipFile();
  for (const [name, data] of files) zip.addBuffer(data, name, { mtime: ENTRY_DATE, mode: 0o100664, compress: true });
  zip.end();
  const out = path.join(outDir, file);
  await new Promise<void>((resolve, reject) => {
    const sink = fs.createWriteStream(out);
    zip.outputStream.pipe(sink).on('finish', resolve).on('error', reject);
    zip.outputStream.on('error', reject);
  });
  return { file, ...info, files: files.map(([n]) => n) };
}

if (require.main === module) {
  const [outDir, fixture] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: npx tsx examples/generate-articles.ts OUT_DIR [FIXTURE_ZIP]');
    process.exit(2);
  }
  generateArticles(path.resolve(outDir), fixture ? path.resolve(fixture) : undefined).then(
    (made) => {
      for (const p of made) console.log(`${p.file}  ${p.kind}  article ${p.articleId} v${p.version}  "${p.title}"`);
    },
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
