// Validation of a package's JATS article XML against its package name and its files, and the
// data the article record needs. Every problem found is reported at once: a production editor
// fixing a package wants the whole list, not one round trip per mistake. Only a document that
// is not well-formed stops the checks early, since nothing after it can be read.
import fs from 'node:fs';
import path from 'node:path';
import { PackageFiles, normalisePackagePath, stripExtension } from './asset-refs';
import type { PackageName } from './package-name';
import { XmlMalformed, childElements, descendants, firstChild, parseXml, textOf, type XmlElement } from './xml-tree';

export type ArticleProblemKind =
  | 'no-article-xml'
  | 'ambiguous-article-xml'
  | 'xml-too-large'
  | 'malformed-xml'
  | 'not-jats'
  | 'missing-article-id'
  | 'article-id-mismatch'
  | 'missing-version'
  | 'version-mismatch'
  | 'missing-title'
  | 'missing-authors'
  | 'author-without-name'
  | 'missing-pub-date'
  | 'bad-date'
  | 'missing-licence'
  | 'missing-asset'
  | 'unsafe-href';

export interface ArticleProblem {
  kind: ArticleProblemKind;
  message: string;
}

export class ArticleInvalid extends Error {
  override readonly name = 'ArticleInvalid';
  /** The kind of the first problem; `problems` has them all. */
  readonly kind: ArticleProblemKind;
  constructor(
    /** The XML file (or the package, when no XML was found). */
    readonly file: string,
    readonly problems: ArticleProblem[],
  ) {
    super(
      `Article ${file} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems.map((p) => `  - ${p.kind}: ${p.message}`).join('\n')}`,
    );
    this.kind = problems[0].kind;
  }
}

export type Author =
  | { kind: 'person'; surname: string; givenNames?: string; suffix?: string; orcid?: string; corresponding: boolean }
  | { kind: 'collab'; name: string }
  | { kind: 'anonymous' };

export interface ArticleDate {
  /** `date-type` or the older `pub-type` attribute: pub, collection, epub, received, accepted… */
  type: string;
  /** `yyyy`, `yyyy-mm` or `yyyy-mm-dd`, as precise as the XML is. */
  date: string;
  publicationFormat?: string;
}

export interface Licence {
  href?: string;
  text?: string;
  copyrightStatement?: string;
}

export type AssetRole = 'figure' | 'media' | 'supplement' | 'pdf' | 'self-uri';

export interface AssetReference {
  href: string;
  element: string;
  role: AssetRole;
  /** Package files the href resolved to (see asset-refs.ts for the rule). */
  files: string[];
}

export interface ArticleMetadata {
  articleId: string;
  version: number;
  doi?: string;
  elocationId?: string;
  articleType?: string;
  title: string;
  authors: Author[];
  pubDates: ArticleDate[];
  history: ArticleDate[];
  licence: Licence;
  keywords: string[];
  subjects: string[];
}

export interface ValidatedArticle {
  /** The XML's path in the package. */
  xmlFile: string;
  metadata: ArticleMetadata;
  references: AssetReference[];
  /** Package files that nothing in the XML references (neither the XML itself): not a problem, but worth listing. */
  unreferencedFiles: string[];
}

export type ArticleIdSource = 'publisher-id' | 'elocation-id' | 'doi';

export interface ArticleCheckOptions {
  /**
   * Where the XML says its article id. Every listed source the XML has must agree with the
   * package name, and at least one must be there. eLife has all three (publisher-id `00353`,
   * elocation-id `e00353`, DOI `10.7554/eLife.00353`); the DOI's form is publisher-specific,
   * so it is left out by default.
   */
  articleIdSources?: ArticleIdSource[];
  /**
   * Whether the XML must state its version (by file name or <article-version>). On by default,
   * as eLife's XML always does; a journal whose XML never does can turn it off, and then only
   * a version the XML does state is compared.
   */
  requireXmlVersion?: boolean;
  /** The XML is read whole into memory (the parser needs it so); larger files are refused. */
  maxXmlBytes?: number;
}

export const DEFAULT_ARTICLE_ID_SOURCES: readonly ArticleIdSource[] = ['publisher-id', 'elocation-id'];
export const DEFAULT_MAX_XML_BYTES = 50 * 1024 * 1024;

const ASSET_ELEMENTS: Record<string, AssetRole> = {
  graphic: 'figure',
  'inline-graphic': 'figure',
  media: 'media',
  'inline-media': 'media',
  'supplementary-material': 'supplement',
  'inline-supplementary-material': 'supplement',
  'self-uri': 'self-uri',
};
const XLINK = 'http://www.w3.org/1999/xlink';

/**
 * The package's article XML: `<journal>-<articleId>-v<version>.xml` when there is one (eLife's
 * name), otherwise the only `.xml` file at the package's top level.
 */
export function findArticleXml(files: readonly string[], name: Pick<PackageName, 'journal' | 'articleId' | 'version' | 'key'>): string {
  const normalised = files.map(normalisePackagePath);
  const expected = `${name.journal}-${name.articleId}-v${name.version}.xml`;
  if (normalised.includes(expected)) return expected;
  const candidates = normalised.filter((f) => !f.includes('/') && f.toLowerCase().endsWith('.xml'));
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    throw new ArticleInvalid(name.key, [{ kind: 'no-article-xml', message: `no ${expected} and no other .xml file at the top level of the package` }]);
  }
  throw new ArticleInvalid(name.key, [
    { kind: 'ambiguous-article-xml', message: `no ${expected}, and several .xml files at the top level: ${candidates.join(', ')}` },
  ]);
}

/** Finds, reads and checks the article XML of a package expanded into `folder`. */
export async function validateArticlePackage(
  folder: string,
  files: readonly string[],
  name: PackageName,
  options: ArticleCheckOptions = {},
): Promise<ValidatedArticle> {
  const xmlFile = findArticleXml(files, name);
  const maxBytes = options.maxXmlBytes ?? DEFAULT_MAX_XML_BYTES;
  const full = path.join(folder, ...xmlFile.split('/'));
  const { size } = await fs.promises.stat(full);
  if (size > maxBytes) throw new ArticleInvalid(xmlFile, [{ kind: 'xml-too-large', message: `${size} bytes; the limit is ${maxBytes}` }]);
  const bytes = await fs.promises.readFile(full);
  return checkArticleXml(bytes, { xmlFile, files, name }, options);
}

export interface ArticleXmlContext {
  xmlFile: string;
  /** Every file in the package, relative paths. */
  files: readonly string[];
  name: Pick<PackageName, 'articleId' | 'version'>;
}

export function checkArticleXml(xml: Buffer | string, context: ArticleXmlContext, options: ArticleCheckOptions = {}): ValidatedArticle {
  const { xmlFile, name } = context;
  const root = parseArticle(xml, xmlFile);
  const problems: ArticleProblem[] = [];
  const problem = (kind: ArticleProblemKind, message: string) => problems.push({ kind, message });

  if (root.name !== 'article') {
    throw new ArticleInvalid(xmlFile, [{ kind: 'not-jats', message: `the root element is <${root.name}>, not <article>` }]);
  }
  const meta = firstChild(firstChild(root, 'front'), 'article-meta');
  if (!meta) problem('not-jats', 'no <front>/<article-meta>');
  const m = meta ?? { name: 'article-meta', attrs: new Map(), children: [] };

  const ids = articleIds(m);
  checkArticleId(ids, name.articleId, options.articleIdSources ?? DEFAULT_ARTICLE_ID_SOURCES, problem);
  const version = checkVersion(m, xmlFile, name.version, options.requireXmlVersion ?? true, problem);

  const title = textOf(firstChild(firstChild(m, 'title-group'), 'article-title'));
  if (title === '') problem('missing-title', 'no <article-title> text in <title-group>');

  const xlinkHref = xlinkHrefAttribute(root);
  const authors = readAuthors(m, problem);
  const pubDateElements = childElements(m, 'pub-date');
  const pubDates = pubDateElements.flatMap((e) => readDate(e, 'pub-date', problem));
  if (pubDateElements.length === 0) problem('missing-pub-date', 'no <pub-date> in <article-meta>');
  const historyElement = firstChild(m, 'history');
  const history = historyElement ? childElements(historyElement, 'date').flatMap((e) => readDate(e, 'history date', problem)) : [];
  const licence = readLicence(m, xlinkHref, problem);

  const packageFiles = new PackageFiles(context.files);
  const references = readReferences(root, xlinkHref, packageFiles, name.version, problem);

  if (problems.length > 0) throw new ArticleInvalid(xmlFile, problems);

  const referenced = new Set(references.flatMap((r) => r.files));
  const unreferencedFiles = context.files.map(normalisePackagePath).filter((f) => f !== normalisePackagePath(xmlFile) && !referenced.has(f));
  return {
    xmlFile: normalisePackagePath(xmlFile),
    metadata: {
      articleId: name.articleId,
      version,
      ...(ids.doi !== undefined ? { doi: ids.doi } : {}),
      ...(ids.elocationId !== undefined ? { elocationId: ids.elocationId } : {}),
      ...(root.attrs.get('article-type') ? { articleType: root.attrs.get('article-type') } : {}),
      title,
      authors,
      pubDates,
      history,
      licence,
      keywords: descendants(m, 'kwd').map((k) => textOf(k)),
      subjects: descendants(firstChild(m, 'article-categories') ?? m, 'subject').map((s) => textOf(s)),
    },
    references,
    unreferencedFiles,
  };
}

function parseArticle(xml: Buffer | string, xmlFile: string): XmlElement {
  let text: string;
  if (typeof xml === 'string') text = xml;
  else {
    try {
      // JATS is UTF-8; bytes that are not would otherwise turn into U+FFFD silently.
      text = new TextDecoder('utf-8', { fatal: true }).decode(xml);
    } catch {
      throw new ArticleInvalid(xmlFile, [{ kind: 'malformed-xml', message: 'not valid UTF-8' }]);
    }
  }
  try {
    return parseXml(text, xmlFile);
  } catch (err) {
    if (err instanceof XmlMalformed) {
      const where = err.line !== undefined ? `line ${err.line}${err.column !== undefined ? `, column ${err.column}` : ''}: ` : '';
      throw new ArticleInvalid(xmlFile, [{ kind: 'malformed-xml', message: `${where}${err.detail}` }]);
    }
    throw err;
  }
}

type Problem = (kind: ArticleProblemKind, message: string) => void;

interface Ids {
  publisherId?: string;
  doi?: string;
  elocationId?: string;
}

function articleIds(meta: XmlElement): Ids {
  const ids: Ids = {};
  for (const e of childElements(meta, 'article-id')) {
    const type = e.attrs.get('pub-id-type');
    if (type === 'publisher-id' && ids.publisherId === undefined) ids.publisherId = textOf(e);
    if (type === 'doi' && ids.doi === undefined) ids.doi = textOf(e);
  }
  const elocation = firstChild(meta, 'elocation-id');
  if (elocation) ids.elocationId = textOf(elocation);
  return ids;
}

function checkArticleId(ids: Ids, expected: string, sources: readonly ArticleIdSource[], problem: Problem): void {
  const said: { source: ArticleIdSource; element: string; value: string; id: string }[] = [];
  if (sources.includes('publisher-id') && ids.publisherId !== undefined) {
    said.push({ source: 'publisher-id', element: '<article-id pub-id-type="publisher-id">', value: ids.publisherId, id: ids.publisherId });
  }
  if (sources.includes('elocation-id') && ids.elocationId !== undefined) {
    // eLife writes the id with an `e` in front: e00353.
    said.push({ source: 'elocation-id', element: '<elocation-id>', value: ids.elocationId, id: ids.elocationId.replace(/^e(?=[0-9])/, '') });
  }
  if (sources.includes('doi') && ids.doi !== undefined) {
    said.push({ source: 'doi', element: '<article-id pub-id-type="doi">', value: ids.doi, id: ids.doi.slice(ids.doi.lastIndexOf('.') + 1) });
  }
  if (said.length === 0) {
    problem('missing-article-id', `none of ${sources.join(', ')} is in <article-meta>; the package name says ${expected}`);
    return;
  }
  for (const s of said) {
    if (s.id !== expected) problem('article-id-mismatch', `${s.element} is ${JSON.stringify(s.value)}; the package name says article ${expected}`);
  }
}

/**
 * The XML's version: the `-v<N>` of its file name (eLife: `elife-00353-v1.xml`; the eLife XML of
 * that time has no version element) and any `<article-version>` whose text is a number (JATS
 * 1.2+; eLife's newer XML uses it, with non-numeric ones such as "version of record" ignored).
 * Each present must equal the package's version, and at least one must be present.
 */
function checkVersion(meta: XmlElement, xmlFile: string, expected: number, required: boolean, problem: Problem): number {
  const said: { where: string; version: number }[] = [];
  const fromName = /-v([0-9]+)$/.exec(stripExtension(xmlFile.split('/').pop() ?? xmlFile));
  if (fromName) said.push({ where: `the XML file name ${xmlFile}`, version: Number(fromName[1]) });
  for (const e of descendants(meta, 'article-version', ['sub-article'])) {
    const text = textOf(e);
    if (/^v?[0-9]+$/.test(text)) said.push({ where: `<article-version>${text}</article-version>`, version: Number(text.replace(/^v/, '')) });
  }
  if (said.length === 0) {
    if (required) problem('missing-version', `neither the XML file name ${xmlFile} (no -v<N>) nor a numeric <article-version> gives a version`);
    return expected;
  }
  for (const s of said) {
    if (s.version !== expected) problem('version-mismatch', `${s.where} says version ${s.version}; the package name says ${expected}`);
  }
  return expected;
}

/** The prefix the document binds to the XLink namespace (`xlink` in practice, but not by rule). */
function xlinkHrefAttribute(root: XmlElement): string {
  for (const [name, value] of root.attrs) {
    if (name.startsWith('xmlns:') && value === XLINK) return `${name.slice('xmlns:'.length)}:href`;
  }
  return 'xlink:href';
}

function readAuthors(meta: XmlElement, problem: Problem): Author[] {
  const authors: Author[] = [];
  const contribs = childElements(meta, 'contrib-group')
    .flatMap((group) => childElements(group, 'contrib'))
    .filter((c) => c.attrs.get('contrib-type') === 'author');
  contribs.forEach((contrib, index) => {
    const author = readAuthor(contrib);
    if (author) authors.push(author);
    else
      problem(
        'author-without-name',
        `author ${index + 1}${contrib.attrs.get('id') ? ` (id ${contrib.attrs.get('id')})` : ''} has no <name>, <string-name> or <collab>`,
      );
  });
  if (contribs.length === 0) problem('missing-authors', 'no <contrib contrib-type="author"> in a <contrib-group> of <article-meta>');
  return authors;
}

function readAuthor(contrib: XmlElement): Author | undefined {
  const name = firstChild(contrib, 'name') ?? firstChild(firstChild(contrib, 'name-alternatives'), 'name');
  const corresponding = contrib.attrs.get('corresp') === 'yes';
  const orcidElement = childElements(contrib, 'contrib-id').find((c) => c.attrs.get('contrib-id-type') === 'orcid');
  const orcid = orcidElement ? textOf(orcidElement) : undefined;
  if (name) {
    const surname = textOf(firstChild(name, 'surname'));
    const givenNames = textOf(firstChild(name, 'given-names'));
    const suffix = textOf(firstChild(name, 'suffix'));
    if (surname !== '' || givenNames !== '') {
      return {
        kind: 'person',
        surname: surname !== '' ? surname : givenNames,
        ...(surname !== '' && givenNames !== '' ? { givenNames } : {}),
        ...(suffix !== '' ? { suffix } : {}),
        ...(orcid ? { orcid } : {}),
        corresponding,
      };
    }
  }
  const stringName = textOf(firstChild(contrib, 'string-name'));
  if (stringName !== '') return { kind: 'person', surname: stringName, ...(orcid ? { orcid } : {}), corresponding };
  // A collab may list its members in a nested contrib-group; they are not part of its name.
  const collab = textOf(firstChild(contrib, 'collab'), ['contrib-group', 'xref', 'fn']);
  if (collab !== '') return { kind: 'collab', name: collab };
  if (firstChild(contrib, 'anonymous')) return { kind: 'anonymous' };
  return undefined;
}

function readDate(e: XmlElement, what: string, problem: Problem): ArticleDate[] {
  const type = e.attrs.get('date-type') ?? e.attrs.get('pub-type') ?? 'unspecified';
  const format = e.attrs.get('publication-format');
  const year = textOf(firstChild(e, 'year'));
  const month = textOf(firstChild(e, 'month'));
  const day = textOf(firstChild(e, 'day'));
  const label = `<${what}${type !== 'unspecified' ? ` ${type}` : ''}>`;
  if (year === '') {
    problem('bad-date', `${label} has no <year>`);
    return [];
  }
  if (!/^[0-9]{4}$/.test(year)) {
    problem('bad-date', `${label} year ${JSON.stringify(year)} is not four digits`);
    return [];
  }
  let date = year;
  if (month !== '') {
    const mm = Number(month);
    if (!/^[0-9]{1,2}$/.test(month) || mm < 1 || mm > 12) {
      problem('bad-date', `${label} month ${JSON.stringify(month)} does not exist`);
      return [];
    }
    date += `-${String(mm).padStart(2, '0')}`;
    if (day !== '') {
      const dd = Number(day);
      const daysInMonth = new Date(Date.UTC(Number(year), mm, 0)).getUTCDate();
      if (!/^[0-9]{1,2}$/.test(day) || dd < 1 || dd > daysInMonth) {
        problem('bad-date', `${label} day ${JSON.stringify(day)} does not exist in ${date}`);
        return [];
      }
      date += `-${String(dd).padStart(2, '0')}`;
    }
  } else if (day !== '') {
    problem('bad-date', `${label} has a <day> but no <month>`);
    return [];
  }
  return [{ type, date, ...(format ? { publicationFormat: format } : {}) }];
}

function readLicence(meta: XmlElement, xlinkHref: string, problem: Problem): Licence {
  const permissions = firstChild(meta, 'permissions');
  const licence = firstChild(permissions, 'license');
  const copyrightStatement = textOf(firstChild(permissions, 'copyright-statement'));
  if (!licence) {
    problem('missing-licence', 'no <license> in <permissions>');
    return {};
  }
  // JATS 1.2+ puts the licence URI in <ali:license_ref>; older XML in the xlink:href attribute.
  const href = licence.attrs.get(xlinkHref) ?? textOf(childElements(licence).find((c) => c.name.endsWith('license_ref')));
  const text = childElements(licence, 'license-p')
    .map((p) => textOf(p))
    .filter((t) => t !== '')
    .join(' ');
  if (!href && text === '') problem('missing-licence', '<license> has neither a licence URI nor <license-p> text');
  return { ...(href ? { href } : {}), ...(text !== '' ? { text } : {}), ...(copyrightStatement !== '' ? { copyrightStatement } : {}) };
}

function readReferences(root: XmlElement, xlinkHref: string, files: PackageFiles, version: number, problem: Problem): AssetReference[] {
  const references: AssetReference[] = [];
  const seen = new Set<string>();
  const walk = (e: XmlElement) => {
    for (const child of childElements(e)) {
      const role = ASSET_ELEMENTS[child.name];
      const href = role ? child.attrs.get(xlinkHref) : undefined;
      if (role && href !== undefined && !seen.has(`${child.name}\u0000${href}`)) {
        seen.add(`${child.name}\u0000${href}`);
        const resolution = files.resolve(href, version);
        const element = `<${child.name} ${xlinkHref}=${JSON.stringify(href)}>`;
        if (resolution.kind === 'resolved') {
          const finalRole = role === 'self-uri' && child.attrs.get('content-type') === 'pdf' ? 'pdf' : role;
          references.push({ href, element: child.name, role: finalRole, files: resolution.files });
        } else if (resolution.kind === 'missing') {
          problem('missing-asset', `${element} names no file in the package (tried ${resolution.tried.join(', ')})`);
        } else if (resolution.kind === 'unsafe') {
          problem('unsafe-href', `${element}: ${resolution.reason}`);
        }
      }
      walk(child);
    }
  };
  walk(root);
  return references;
}
