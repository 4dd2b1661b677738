import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { PackageFiles } from '../articles/asset-refs';
import { expandZip } from '../articles/expand-zip';
import { ArticleInvalid, checkArticleXml, findArticleXml, type ArticleProblemKind, type ArticleXmlContext } from '../articles/jats';
import { ELIFE_FIXTURE, sandbox, removeSandboxes } from './support/article-zips';

const XML_FILE = 'elife-00353-v1.xml';
const FILES = [XML_FILE, 'elife-00353-fig1-v1.tif', 'elife-00353-v1.pdf'];
const V1: ArticleXmlContext = { xmlFile: XML_FILE, files: FILES, name: { articleId: '00353', version: 1 } };

let realXml = '';

/** The real XML with each [from, to] replaced; a replacement that finds nothing fails the test (the fixture changed). */
function edited(...edits: [string | RegExp, string][]): string {
  let xml = realXml;
  for (const [from, to] of edits) {
    const next = xml.replace(from, to);
    assert.notEqual(next, xml, `the real XML has no ${String(from)}`);
    xml = next;
  }
  return xml;
}

function problemsOf(xml: string, context: ArticleXmlContext = V1): { kinds: ArticleProblemKind[]; messages: string[]; err: ArticleInvalid } {
  try {
    checkArticleXml(xml, context);
  } catch (err) {
    assert.ok(err instanceof ArticleInvalid, `expected ArticleInvalid, got ${String(err)}`);
    assert.equal(err.kind, err.problems[0].kind);
    return { kinds: err.problems.map((p) => p.kind), messages: err.problems.map((p) => p.message), err };
  }
  return assert.fail('expected the article to be invalid');
}

describe('articles: JATS validation', () => {
  after(removeSandboxes);

  before(async () => {
    const sb = sandbox();
    const { files } = await expandZip(ELIFE_FIXTURE, sb.target);
    assert.deepEqual(files.map((f) => f.path).sort(), [...FILES].sort());
    realXml = fs.readFileSync(path.join(sb.target, XML_FILE), 'utf8');
  });

  it('accepts the real eLife XML and extracts what the record needs', () => {
    const article = checkArticleXml(Buffer.from(realXml), V1);
    assert.equal(article.xmlFile, XML_FILE);
    const m = article.metadata;
    assert.equal(m.title, 'A good life');
    assert.equal(m.doi, '10.7554/eLife.00353');
    assert.equal(m.elocationId, 'e00353');
    assert.equal(m.version, 1);
    assert.deepEqual(m.authors, [{ kind: 'person', surname: 'Marder', givenNames: 'Eve', corresponding: true }]);
    assert.deepEqual(m.pubDates, [
      { type: 'pub', date: '2012-12-13', publicationFormat: 'electronic' },
      { type: 'collection', date: '2012' },
    ]);
    assert.equal(m.licence.href, 'http://creativecommons.org/licenses/by/3.0/');
    assert.match(m.licence.text ?? '', /^This article is distributed under the terms of the Creative Commons Attribution License/);
    assert.equal(m.licence.copyrightStatement, '© 2012, Marder');
    assert.deepEqual(m.keywords, ['careers in science', 'grad school', 'postdocs']);
    // The figure is referenced without its extension; the PDF with it.
    assert.deepEqual(article.references, [
      { href: 'elife-00353-v1.pdf', element: 'self-uri', role: 'pdf', files: ['elife-00353-v1.pdf'] },
      { href: 'elife-00353-fig1-v1', element: 'graphic', role: 'figure', files: ['elife-00353-fig1-v1.tif'] },
    ]);
    assert.deepEqual(article.unreferencedFiles, []);
  });

  it('reports XML that is not well-formed, with the line, and nothing else', () => {
    const { kinds, messages } = problemsOf(edited(['</article-title>', '</article-titel>']));
    assert.deepEqual(kinds, ['malformed-xml']);
    assert.match(messages[0], /line 1, column \d+/);
    assert.match(messages[0], /article-title/);
    assert.deepEqual(problemsOf(realXml.slice(0, 4000)).kinds, ['malformed-xml']);
  });

  it('never resolves an external entity (no file is read), and expands internal ones', () => {
    const secret = path.join(sandbox().root, 'secret.txt');
    fs.writeFileSync(secret, 'TOP-SECRET-CONTENT');
    const xxe = edited(
      [/<!DOCTYPE article PUBLIC "[^"]*"\s+"JATS-archivearticle1.dtd">/, `<!DOCTYPE article [<!ENTITY xxe SYSTEM "file://${secret}">]>`],
      ['<article-title>A good life</article-title>', '<article-title>&xxe;</article-title>'],
    );
    const { kinds, err } = problemsOf(xxe);
    assert.deepEqual(kinds, ['malformed-xml']);
    assert.doesNotMatch(err.message, /TOP-SECRET/);

    const internal = edited(
      [/<!DOCTYPE article PUBLIC "[^"]*"\s+"JATS-archivearticle1.dtd">/, '<!DOCTYPE article [<!ENTITY t "A good life">]>'],
      ['<article-title>A good life</article-title>', '<article-title>&t; &#8212; &amp; &ndash;</article-title>'],
    );
    assert.equal(checkArticleXml(internal, V1).metadata.title, 'A good life \u2014 & \u2013');
  });

  it('does not expand nested entities (no billion laughs)', () => {
    const lol = edited(
      [
        /<!DOCTYPE article PUBLIC "[^"]*"\s+"JATS-archivearticle1.dtd">/,
        `<!DOCTYPE article [<!ENTITY lol "lol"><!ENTITY lol2 "${'&lol;'.repeat(10)}"><!ENTITY lol3 "${'&lol2;'.repeat(10)}">]>`,
      ],
      ['<article-title>A good life</article-title>', '<article-title>&lol3;</article-title>'],
    );
    const started = Date.now();
    const title = checkArticleXml(lol, V1).metadata.title;
    assert.ok(Date.now() - started < 1000);
    assert.doesNotMatch(title, /lollol/);
  });

  it('reports an article id that differs from the package name, for each place the XML says it', () => {
    const { kinds, messages } = problemsOf(
      edited(['<article-id pub-id-type="publisher-id">00353<', '<article-id pub-id-type="publisher-id">00354<'], ['e00353<', 'e00354<']),
    );
    assert.deepEqual(kinds, ['article-id-mismatch', 'article-id-mismatch']);
    assert.match(messages[0], /publisher-id.*"00354".*says article 00353/);
    assert.match(messages[1], /<elocation-id> is "e00354"/);
    // The DOI is checked only when asked for.
    const doiOnly = edited(['10.7554/eLife.00353', '10.7554/eLife.00354']);
    assert.equal(checkArticleXml(doiOnly, V1).metadata.doi, '10.7554/eLife.00354');
    assert.throws(
      () => checkArticleXml(doiOnly, V1, { articleIdSources: ['publisher-id', 'elocation-id', 'doi'] }),
      (e: unknown) => e instanceof ArticleInvalid && e.problems.length === 1 && /"10\.7554\/eLife\.00354"/.test(e.message),
    );
  });

  it('reports a missing article id', () => {
    const { kinds } = problemsOf(edited(['<article-id pub-id-type="publisher-id">00353</article-id>', ''], ['<elocation-id>e00353</elocation-id>', '']));
    assert.deepEqual(kinds, ['missing-article-id']);
  });

  it('reports a version that differs from the package name: in the XML file name and in <article-version>', () => {
    const v2 = problemsOf(realXml, { ...V1, name: { articleId: '00353', version: 2 } });
    assert.deepEqual(v2.kinds, ['version-mismatch']);
    assert.match(v2.messages[0], /elife-00353-v1\.xml says version 1; the package name says 2/);
    const withElement = edited(['</title-group>', '</title-group><article-version>3</article-version>']);
    const { messages } = problemsOf(withElement);
    assert.match(messages[0], /<article-version>3<\/article-version> says version 3/);
    // A non-numeric <article-version> (eLife's "version of record") says nothing about the number.
    checkArticleXml(edited(['</title-group>', '</title-group><article-version>version of record</article-version>']), V1);
    const unversioned = { ...V1, xmlFile: 'article.xml', files: ['article.xml', ...FILES.slice(1)] };
    assert.deepEqual(problemsOf(realXml, unversioned).kinds, ['missing-version']);
    assert.equal(checkArticleXml(realXml, unversioned, { requireXmlVersion: false }).metadata.version, 1);
  });

  it('reports a referenced asset missing from the package, saying what was tried', () => {
    const { kinds, messages } = problemsOf(realXml, { ...V1, files: [XML_FILE, 'elife-00353-v1.pdf'] });
    assert.deepEqual(kinds, ['missing-asset']);
    assert.match(messages[0], /<graphic xlink:href="elife-00353-fig1-v1">/);
    assert.match(messages[0], /tried elife-00353-fig1-v1, elife-00353-fig1-v1\.\*/);
  });

  it('reports a missing title, authors, publication date and licence, and a missing asset, all at once', () => {
    const xml = edited(
      ['<article-title>A good life</article-title>', '<article-title> </article-title>'],
      [/<contrib-group>.*?<\/contrib-group>/, ''],
      [/<pub-date[^>]*>.*?<\/pub-date>/g, ''],
      [/<license [^>]*>.*?<\/license>/, ''],
    );
    const { kinds } = problemsOf(xml, { ...V1, files: [XML_FILE, 'elife-00353-fig1-v1.tif'] });
    assert.deepEqual(kinds, ['missing-title', 'missing-authors', 'missing-pub-date', 'missing-licence', 'missing-asset']);
  });

  it('resolves hrefs without extension, with extension, and without -v<N>, and refuses unsafe ones', () => {
    assert.ok(realXml.includes('<graphic xlink:href="elife-00353-fig1-v1"/>'));
    for (const href of ['elife-00353-fig1-v1', 'elife-00353-fig1-v1.tif', 'elife-00353-fig1', 'elife-00353-fig1.tif']) {
      const article = checkArticleXml(realXml.replace('xlink:href="elife-00353-fig1-v1"', `xlink:href="${href}"`), V1);
      assert.deepEqual(
        article.references.find((r) => r.role === 'figure'),
        { href, element: 'graphic', role: 'figure', files: ['elife-00353-fig1-v1.tif'] },
        href,
      );
    }
    // -v1 is only added for the package's own version.
    assert.deepEqual(problemsOf(edited(['xlink:href="elife-00353-fig1-v1"', 'xlink:href="elife-00353-fig1-v2"'])).kinds, ['missing-asset']);
    const unsafe = problemsOf(
      edited(['xlink:href="elife-00353-fig1-v1"', 'xlink:href="../../etc/passwd"'], ['xlink:href="elife-00353-v1.pdf"', 'xlink:href="/etc/passwd"']),
    );
    assert.deepEqual(unsafe.kinds, ['unsafe-href', 'unsafe-href']);
  });

  it('states the resolution rule in one place (PackageFiles)', () => {
    const files = new PackageFiles(['fig1-v2.tif', 'fig1-v2.jpg', 'data/table.csv', 'article.pdf']);
    assert.deepEqual(files.resolve('fig1-v2', 2), { kind: 'resolved', files: ['fig1-v2.jpg', 'fig1-v2.tif'], rule: 'extension' });
    assert.deepEqual(files.resolve('fig1', 2), { kind: 'resolved', files: ['fig1-v2.jpg', 'fig1-v2.tif'], rule: 'version' });
    assert.deepEqual(files.resolve('./data//table.csv', 2), { kind: 'resolved', files: ['data/table.csv'], rule: 'exact' });
    assert.deepEqual(files.resolve('https://doi.org/10.7554/eLife.00353', 2), { kind: 'external' });
    assert.deepEqual(files.resolve('C:\\x.tif', 2), { kind: 'unsafe', reason: 'an absolute path' });
    assert.equal(files.resolve('Fig1-v2.tif', 2).kind, 'missing');
  });

  it('reads collaborations and ORCIDs, and reports an author without a name', () => {
    const xml = edited([
      '</contrib></contrib-group>',
      '</contrib><contrib contrib-type="author"><collab>The Reproducibility Consortium<contrib-group><contrib><name><surname>Member</surname></name></contrib></contrib-group></collab></contrib></contrib-group>',
    ]);
    assert.deepEqual(checkArticleXml(xml, V1).metadata.authors[1], { kind: 'collab', name: 'The Reproducibility Consortium' });
    const orcid = edited([
      '<name><surname>Marder',
      '<contrib-id contrib-id-type="orcid">https://orcid.org/0000-0001-9632-5448</contrib-id><name><surname>Marder',
    ]);
    assert.equal((checkArticleXml(orcid, V1).metadata.authors[0] as { orcid?: string }).orcid, 'https://orcid.org/0000-0001-9632-5448');
    const { kinds, messages } = problemsOf(edited([/<name><surname>Marder<\/surname><given-names>Eve<\/given-names><\/name>/, '']));
    assert.deepEqual(kinds, ['author-without-name']);
    assert.match(messages[0], /author 1 \(id author-1021\)/);
  });

  it('reports publication dates that do not exist', () => {
    const { kinds, messages } = problemsOf(
      edited(
        ['<day>13</day><month>12</month>', '<day>31</day><month>11</month>'],
        ['<pub-date pub-type="collection"><year>2012</year>', '<pub-date pub-type="collection"><year>12</year>'],
      ),
    );
    assert.deepEqual(kinds, ['bad-date', 'bad-date']);
    assert.match(messages[0], /day "31" does not exist in 2012-11/);
    assert.match(messages[1], /year "12" is not four digits/);
  });

  it('reports a root that is not <article>, and bytes that are not UTF-8', () => {
    assert.deepEqual(problemsOf('<?xml version="1.0"?><book><title>x</title></book>').kinds, ['not-jats']);
    assert.throws(
      () =>
        checkArticleXml(
          Buffer.concat([Buffer.from('<article><front><article-meta><title-group><article-title>caf'), Buffer.from([0xe9]), Buffer.from('</article-title>')]),
          V1,
        ),
      (e: unknown) => e instanceof ArticleInvalid && e.kind === 'malformed-xml' && /UTF-8/.test(e.message),
    );
  });

  it('follows the document’s own prefix for the XLink namespace', () => {
    const xml = realXml.replace('xmlns:xlink=', 'xmlns:xl=').replace(/xlink:href=/g, 'xl:href=');
    assert.equal(checkArticleXml(xml, V1).references.length, 2);
  });

  it('finds the article XML: the name the package implies, else the only top-level .xml', () => {
    const name = { journal: 'elife', articleId: '00353', version: 1, key: 'elife-00353-vor-v1.zip' };
    assert.equal(findArticleXml(['other.xml', XML_FILE, 'fig.tif'], name), XML_FILE);
    assert.equal(findArticleXml(['./article.xml', 'sub/extra.xml'], name), 'article.xml');
    assert.throws(
      () => findArticleXml(['fig.tif'], name),
      (e: unknown) => e instanceof ArticleInvalid && e.kind === 'no-article-xml' && e.file === 'elife-00353-vor-v1.zip',
    );
    assert.throws(
      () => findArticleXml(['a.xml', 'b.xml'], name),
      (e: unknown) => e instanceof ArticleInvalid && e.kind === 'ambiguous-article-xml' && /a\.xml, b\.xml/.test(e.message),
    );
  });
});
