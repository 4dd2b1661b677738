// Article packages for the publishing pipeline's end-to-end tests, made from the real eLife
// package: the same three files (XML, TIFF figure, PDF) under another article id or version,
// optionally edited or joined by hostile entries (see article-zips.ts for the byte edits).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandZip } from '../../articles/expand-zip';
import { ELIFE_FIXTURE, buildZip, type ZipEntrySpec } from './article-zips';

export type PackageFiles = Array<[name: string, data: Buffer]>;

let fixture: PackageFiles | undefined;

/** The real package's files, read once. */
export async function fixtureFiles(): Promise<PackageFiles> {
  if (!fixture) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-fixture-'));
    try {
      const { files } = await expandZip(ELIFE_FIXTURE, path.join(dir, 'package'));
      fixture = files.map((f) => [f.path, fs.readFileSync(path.join(dir, 'package', f.path))]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return fixture.map(([n, d]) => [n, Buffer.from(d)]);
}

function replaceExactly(text: string, from: string, to: string, count: number): string {
  const found = text.split(from).length - 1;
  if (found !== count) throw new Error(`article-packages: expected ${count} × ${JSON.stringify(from)} in the fixture XML, found ${found}`);
  return text.split(from).join(to);
}

export interface PackageSpec {
  articleId: string;
  version?: number;
  /** The id the XML states (publisher-id, elocation-id, DOI); the package's own unless a test wants a mismatch. */
  xmlArticleId?: string;
  title?: string;
  /** Leaves these package files out (by their final name). */
  without?: string[];
  /** A last edit of the XML text. */
  editXml?: (xml: string) => string;
}

/** The real package's files as article `articleId` version `version`: names and XML rewritten. */
export async function articleFiles(spec: PackageSpec): Promise<PackageFiles> {
  const { articleId, version = 1 } = spec;
  const xmlId = spec.xmlArticleId ?? articleId;
  const files = await fixtureFiles();
  const rename = (name: string) => name.replace('elife-00353-', `elife-${articleId}-`).replace(/-v1(\.[a-z]+)$/, `-v${version}$1`);
  const out: PackageFiles = [];
  for (const [name, data] of files) {
    let bytes = data;
    if (name.endsWith('.xml')) {
      let xml = data.toString('utf8');
      xml = replaceExactly(xml, '<article-id pub-id-type="publisher-id">00353</article-id>', `<article-id pub-id-type="publisher-id">${xmlId}</article-id>`, 1);
      xml = replaceExactly(xml, '10.7554/eLife.00353', `10.7554/eLife.${xmlId}`, 1);
      xml = replaceExactly(xml, '<elocation-id>e00353</elocation-id>', `<elocation-id>e${xmlId}</elocation-id>`, 1);
      xml = replaceExactly(xml, 'elife-00353-fig1-v1', `elife-${articleId}-fig1-v${version}`, 1);
      xml = replaceExactly(xml, 'elife-00353-v1.pdf', `elife-${articleId}-v${version}.pdf`, 1);
      if (spec.title) xml = replaceExactly(xml, '<article-title>A good life</article-title>', `<article-title>${spec.title}</article-title>`, 1);
      if (spec.editXml) xml = spec.editXml(xml);
      bytes = Buffer.from(xml);
    }
    const renamed = rename(name);
    if (!spec.without?.includes(renamed)) out.push([renamed, bytes]);
  }
  return out;
}

/** The package file name the default pattern parses: `elife-<id>-vor-v<version>-<timestamp>.zip`. */
export const packageName = (articleId: string, version = 1, timestamp = '20240101000000') => `elife-${articleId}-vor-v${version}-${timestamp}.zip`;

/** A zip of the files, plus any extra entries. */
export function zipOf(files: PackageFiles, extra: ZipEntrySpec[] = []): Promise<Buffer> {
  return buildZip([...files.map(([name, data]): ZipEntrySpec => ({ name, data })), ...extra]);
}
