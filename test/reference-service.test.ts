// The reference preservation service on its own: small BagIt SIPs made here (valid, with a
// broken checksum, with a GIF, with a schema error), SIPs from custody's own builder, handed
// over through the client, judged, and reported in PREMIS that the real xmllint validates
// against the national service's ingest-report schema.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { pack } from 'tar-stream';
import { REPO_ROOT } from '../config/config';
import { folderSource } from '../sources';
import { buildSip } from '../sip/build-sip';
import { referencePreservationService, type PreservationService, type SubmittedSip } from '../services/preservation-service';
import { FileStorage, openStorage } from '../storage';
import { startTestS3 } from './support/s3-server';
import { startReferenceService, type RunningReferenceService } from '../reference-service/server';
import type { Verdict } from '../common/sip';
import { ServiceState, type Submission } from '../reference-service/state';

const SCHEMAS = path.resolve(REPO_ROOT, '..', 'shared', 'schemas', 'dpres-xml-schemas');
const INGEST_REPORT_XSD = path.join(SCHEMAS, 'ingest_report', 'ingest_report.xsd');
const CATALOG = path.join(SCHEMAS, 'schema_catalogs', 'catalog_main.xml');

interface FixtureFile {
  path: string;
  bytes: Buffer;
  mimeType: string;
}

type Sip = SubmittedSip & { tarPath: string };

/** A tar on disk as custody hands it to the service. */
function submitted(sipId: string, tarPath: string, sha256: string): Sip {
  return { sipId, tarPath, sha256, size: fs.statSync(tarPath).size, open: async () => fs.createReadStream(tarPath) };
}

/** The same files give the same tar bytes, so a rebuilt SIP is the same SIP. */
const FIXED_MTIME = new Date('2024-01-01T00:00:00Z');
const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

/** A minimal METS 1.12.1 document with Dublin Core and one PREMIS 2.3 object per file. */
function minimalMets(sipId: string, title: string, files: FixtureFile[]): string {
  const tech = files
    .map(
      (f, i) => `
    <mets:techMD ID="tech-${i}"><mets:mdWrap MDTYPE="PREMIS:OBJECT" MDTYPEVERSION="2.3"><mets:xmlData>
      <premis:object xsi:type="premis:file" version="2.3">
        <premis:objectIdentifier><premis:objectIdentifierType>local</premis:objectIdentifierType><premis:objectIdentifierValue>${esc(sipId)}/data/${esc(f.path)}</premis:objectIdentifierValue></premis:objectIdentifier>
        <premis:objectCharacteristics>
          <premis:compositionLevel>0</premis:compositionLevel>
          <premis:fixity><premis:messageDigestAlgorithm>SHA-256</premis:messageDigestAlgorithm><premis:messageDigest>${sha256(f.bytes)}</premis:messageDigest></premis:fixity>
          <premis:size>${f.bytes.length}</premis:size>
          <premis:format><premis:formatDesignation><premis:formatName>${f.mimeType}</premis:formatName></premis:formatDesignation></premis:format>
        </premis:objectCharacteristics>
      </premis:object>
    </mets:xmlData></mets:mdWrap></mets:techMD>`,
    )
    .join('');
  const fileSec = files
    .map((f, i) => `<mets:file ID="file-${i}" MIMETYPE="${f.mimeType}" ADMID="tech-${i}"><mets:FLocat LOCTYPE="URL" xlink:href="${esc(f.path)}"/></mets:file>`)
    .join('\n      ');
  const fptrs = files.map((_, i) => `<mets:fptr FILEID="file-${i}"/>`).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>
<mets:mets xmlns:mets="http://www.loc.gov/METS/" xmlns:premis="info:lc/xmlns/premis-v2" xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" OBJID="${esc(sipId)}"
    xsi:schemaLocation="http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd info:lc/xmlns/premis-v2 http://www.loc.gov/standards/premis/v2/premis-v2-3.xsd">
  <mets:dmdSec ID="dmd"><mets:mdWrap MDTYPE="DC"><mets:xmlData><dc:title>${esc(title)}</dc:title></mets:xmlData></mets:mdWrap></mets:dmdSec>
  <mets:amdSec>${tech}
  </mets:amdSec>
  <mets:fileSec><mets:fileGrp USE="payload">
      ${fileSec}
  </mets:fileGrp></mets:fileSec>
  <mets:structMap><mets:div TYPE="object" DMDID="dmd">${fptrs}</mets:div></mets:structMap>
</mets:mets>
`;
}

/**
 * Writes `<dir>/<sipId>.tar`: a BagIt bag with the files and data/mets.xml. `damage` changes
 * the bytes written after the manifests and METS were made from the originals (bit rot);
 * `editMets` changes the METS before it is hashed.
 */
async function fixtureSip(
  dir: string,
  sipId: string,
  files: FixtureFile[],
  opts: { damage?: (f: FixtureFile) => Buffer; editMets?: (xml: string) => string } = {},
): Promise<Sip> {
  const mets = Buffer.from((opts.editMets ?? ((x) => x))(minimalMets(sipId, `Test object ${sipId}`, files)));
  const payload = [
    ...files.map((f) => ({ name: `data/${f.path}`, bytes: f.bytes, written: opts.damage?.(f) ?? f.bytes })),
    { name: 'data/mets.xml', bytes: mets, written: mets },
  ];
  const bytes = payload.reduce((n, p) => n + p.bytes.length, 0);
  const tags = new Map<string, Buffer>([
    ['bagit.txt', Buffer.from('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n')],
    ['bag-info.txt', Buffer.from(`Source-Organization: test archive\nPayload-Oxum: ${bytes}.${payload.length}\n`)],
    ['manifest-sha256.txt', Buffer.from(payload.map((p) => `${sha256(p.bytes)}  ${p.name}\n`).join(''))],
  ]);
  tags.set('tagmanifest-sha256.txt', Buffer.from([...tags].map(([name, b]) => `${sha256(b)}  ${name}\n`).join('')));

  const tarPath = path.join(dir, `${sipId}.tar`);
  const tar = pack();
  const out = fs.createWriteStream(tarPath);
  const done = new Promise<void>((resolve, reject) => {
    out.on('finish', resolve);
    out.on('error', reject);
  });
  tar.pipe(out);
  for (const p of payload) tar.entry({ name: `${sipId}/${p.name}`, mtime: FIXED_MTIME }, p.written);
  for (const [name, b] of tags) tar.entry({ name: `${sipId}/${name}`, mtime: FIXED_MTIME }, b);
  tar.finalize();
  await done;
  return submitted(sipId, tarPath, sha256(fs.readFileSync(tarPath)));
}

const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(2000)]);
const GIF = Buffer.concat([Buffer.from('GIF89a'), crypto.randomBytes(300)]);
const photo: FixtureFile = { path: 'photo.jpg', bytes: JPEG, mimeType: 'image/jpeg' };
const notes: FixtureFile = { path: 'notes/readme.txt', bytes: Buffer.from('Scanned 2024 by the test archive.\n'), mimeType: 'text/plain' };

/** A SIP of the sample collection built by custody's own SIP builder. */
async function builtSip(root: string, objectId: string): Promise<Sip> {
  const work = path.join(root, 'work', objectId);
  const { metadata, files } = await folderSource(path.join(REPO_ROOT, 'examples', 'collection')).download(objectId, work);
  const sipId = `${objectId}.a1.test`;
  const built = await buildSip({
    sipId,
    objectId,
    sourceDir: work,
    files,
    metadata,
    algorithms: ['sha256', 'sha512'],
    sourceOrganization: 'test archive',
    agent: { name: 'custody', version: 'test' },
    outputPath: path.join(root, `${sipId}.tar`),
    now: new Date(),
  });
  return submitted(sipId, built.tarPath, built.tarSha256);
}

async function verdictOf(client: PreservationService, sipId: string): Promise<Verdict> {
  for (let i = 0; i < 200; i++) {
    const v = await client.verdict(sipId);
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no verdict for ${sipId} in 10 s`);
}

function assertValidIngestReport(xml: string, file: string): void {
  fs.writeFileSync(file, xml);
  const lint = spawnSync('xmllint', ['--noout', '--nonet', '--schema', INGEST_REPORT_XSD, file], {
    encoding: 'utf8',
    env: { ...process.env, XML_CATALOG_FILES: CATALOG },
  });
  assert.equal(lint.status, 0, `${file} is not a valid ingest report:\n${lint.stderr}`);
}

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('reference preservation service', function () {
  this.timeout(60_000);
  let root: string;
  let sips: string;
  let dataDir: string;
  let service: RunningReferenceService;
  let client: PreservationService;
  const start = async () => {
    service = await startReferenceService({ port: 0, dataDir, pollIntervalMs: 50 });
    client = referencePreservationService({ url: service.url, transfer: new FileStorage(path.join(dataDir, 'transfer')) });
  };
  const submissions = async () =>
    (await getJson(`${service.url}/api/2.0/ingest/submissions`)).body.data as Array<{ sipId: string; count: number; transfers: number; sha256: string }>;

  before(async () => {
    assert.ok(spawnSync('sh', ['-c', 'command -v xmllint']).status === 0, 'xmllint is not on PATH: apt-get install libxml2-utils');
    assert.ok(fs.existsSync(CATALOG), `the schema catalog is missing: ${CATALOG}`);
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-test-'));
    sips = path.join(root, 'sips');
    fs.mkdirSync(sips);
    dataDir = path.join(root, 'service');
    await start();
  });
  after(async () => {
    await service.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const decided: Verdict[] = [];

  it('accepts a valid SIP and publishes a report that validates against ingest_report.xsd', async () => {
    const sip = await fixtureSip(sips, 'good-1', [photo, notes]);
    assert.deepEqual(await client.submit(sip), { alreadySubmitted: false });
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'accepted');
    assert.deepEqual(v.reasons, []);
    const xml = await client.report(sip.sipId);
    assertValidIngestReport(xml, path.join(root, 'good-1.report.xml'));
    assert.match(
      xml,
      /<eventDetail>Validation compilation of submission information package<\/eventDetail>\s*<eventOutcomeInformation>\s*<eventOutcome>success</,
    );
    assert.match(xml, /<objectIdentifierValue>good-1-[0-9a-f-]{36}\.tar<\/objectIdentifierValue>/);
    const status = await getJson(`${service.url}/api/2.0/ingest/status/good-1`);
    assert.deepEqual(
      { ...status.body, decidedAt: undefined },
      { sipId: 'good-1', status: 'accepted', sha256: sip.sha256, reasons: [], reportUrl: v.reportUrl, decidedAt: undefined },
    );
    assert.equal(await (await fetch(v.reportUrl)).text(), xml, 'reportUrl serves the report');
  });

  it('rejects a SIP whose file does not match its checksum, naming the file', async () => {
    const sip = await fixtureSip(sips, 'rot-1', [photo, notes], {
      damage: (f) => (f === photo ? Buffer.concat([f.bytes.subarray(0, 100), Buffer.from([f.bytes[100] ^ 1]), f.bytes.subarray(101)]) : f.bytes),
    });
    await client.submit(sip);
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'rejected');
    assert.ok(v.reasons.includes('manifest-sha256.txt: checksum mismatch for data/photo.jpg'), v.reasons.join('\n'));
    assert.ok(!v.reasons.some((r) => r.includes('readme.txt')), 'the intact file is not blamed');
    const xml = await client.report(sip.sipId);
    assertValidIngestReport(xml, path.join(root, 'rot-1.report.xml'));
    assert.match(xml, /<eventType>fixity check<\/eventType>[\s\S]*?<eventOutcome>failure<\/eventOutcome>[\s\S]*?checksum mismatch for data\/photo\.jpg/);
  });

  it('rejects a GIF: its format is not on the accepted list', async () => {
    const sip = await fixtureSip(sips, 'gif-1', [photo, { path: 'anim.gif', bytes: GIF, mimeType: 'image/gif' }]);
    await client.submit(sip);
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'rejected');
    assert.deepEqual(v.reasons, ['file data/anim.gif: format image/gif is not on the accepted list']);
    const xml = await client.report(sip.sipId);
    assertValidIngestReport(xml, path.join(root, 'gif-1.report.xml'));
    assert.match(xml, /<eventDetail>Digital object validation<\/eventDetail>\s*<eventOutcomeInformation>\s*<eventOutcome>failure</);
  });

  it('rejects a METS that is not schema-valid, with the line and the error', async () => {
    const sip = await fixtureSip(sips, 'schema-1', [photo], { editMets: (x) => x.replace(/premis:size>/g, 'premis:sise>') });
    await client.submit(sip);
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'rejected');
    assert.equal(v.reasons.length, 1, v.reasons.join('\n'));
    assert.match(v.reasons[0], /^data\/mets\.xml is not valid against METS 1\.12\.1\/PREMIS 2\.3\/DC: line \d+: .*sise.*not expected/);
  });

  it('writes a well-formed, schema-valid report when reasons echo a name with a control character (item 12)', async () => {
    const bell: FixtureFile = { path: 'bell\u0007.txt', bytes: Buffer.from('ding\n'), mimeType: 'text/plain' };
    const sip = await fixtureSip(sips, 'ctrl-1', [photo, bell], { damage: (f) => (f === bell ? Buffer.from('dong\n') : f.bytes) });
    await client.submit(sip);
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'rejected');
    assert.ok(v.reasons.includes('manifest-sha256.txt: checksum mismatch for data/bell\u0007.txt'), v.reasons.join('\n'));
    const xml = await client.report(sip.sipId);
    assert.ok(!xml.includes('\u0007'), 'the raw character is not in the XML');
    assert.ok(xml.includes('checksum mismatch for data/bell\\u0007.txt'), 'the name is shown escaped');
    assertValidIngestReport(xml, path.join(root, 'ctrl-1.report.xml'));
  });

  it('sees only complete transfers: a retry after a submit killed mid-way leaves one package and no partial (item 17)', async () => {
    const sip = await fixtureSip(sips, 'killed-1', [photo, notes]);
    const transferDir = path.join(dataDir, 'transfer');
    // A submitter killed with SIGKILL half-way through writing the tar into the transfer folder.
    const half = fs.readFileSync(sip.tarPath).subarray(0, 1024);
    const code = `
      const { Readable } = require('node:stream');
      const { FileStorage } = require(${JSON.stringify(path.join(REPO_ROOT, 'storage', 'file-storage.ts'))});
      const stuck = new Readable({ read() {} });
      stuck.push(Buffer.from(${JSON.stringify(half.toString('base64'))}, 'base64'));
      void new FileStorage(${JSON.stringify(transferDir)}).put('killed-1.tar', () => stuck, { size: ${sip.size}, sha256: '${sip.sha256}' });
    `;
    const child = spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['-e', code], { stdio: 'inherit' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const written = () => fs.readdirSync(transferDir).filter((n) => fs.statSync(path.join(transferDir, n)).size > 0);
    while (written().length === 0) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    assert.equal(written().length, 1, 'the killed attempt left its partial file');

    assert.deepEqual(await client.submit(sip), { alreadySubmitted: false });
    const v = await verdictOf(client, sip.sipId);
    decided.push(v);
    assert.equal(v.status, 'accepted', v.reasons.join('\n'));
    assert.deepEqual(
      fs.readdirSync(transferDir).filter((n) => n !== 'killed-1.tar'),
      [],
      'nothing but the complete package in the transfer folder',
    );
    const taken = (await submissions()).filter((s) => s.sipId === 'killed-1');
    assert.deepEqual(
      taken.map((s) => [s.count, s.sha256]),
      [[1, sip.sha256]],
    );
  });

  it("judges the SIPs of custody's own builder: the sample collection's GIF is rejected", async () => {
    const letter = await builtSip(root, 'mus-0003');
    const gif = await builtSip(root, 'mus-0007');
    await client.submit(letter);
    await client.submit(gif);
    const accepted = await verdictOf(client, letter.sipId);
    const rejected = await verdictOf(client, gif.sipId);
    decided.push(accepted, rejected);
    assert.deepEqual([accepted.status, accepted.reasons], ['accepted', []]);
    assert.deepEqual([rejected.status, rejected.reasons], ['rejected', ['file data/moonrise-animation.gif: format image/gif is not on the accepted list']]);
  });

  it('counts a SIP transferred twice with the same bytes as one submission', async () => {
    const sip = await fixtureSip(sips, 'good-1', [photo, notes]);
    const before = (await submissions()).find((s) => s.sipId === 'good-1')!;
    assert.deepEqual(await client.submit(sip), { alreadySubmitted: true });
    // Another sender drops the same bytes in the folder: received, but not a new submission.
    fs.copyFileSync(path.join(sips, 'good-1.tar'), path.join(dataDir, 'transfer', 'good-1.tar'));
    for (let i = 0; i < 100 && fs.existsSync(path.join(dataDir, 'transfer', 'good-1.tar')); i++) await new Promise((r) => setTimeout(r, 20));
    const after = (await submissions()).find((s) => s.sipId === 'good-1')!;
    assert.deepEqual([after.count, after.transfers], [1, before.transfers + 1]);
    for (const id of ['rot-1', 'gif-1', 'mus-0003.a1.test']) assert.equal((await submissions()).find((s) => s.sipId === id)?.count, 1, id);
    assert.equal((await client.verdict('good-1'))?.status, 'accepted', 'the repeat changed nothing');
    const listed = (await client.submissions()).find((s) => s.sipId === 'good-1');
    assert.deepEqual([listed?.sha256, listed?.size], [sip.sha256, sip.size], 'the client lists what the service keeps (custody reconcile compares it)');
  });

  it('rejects other bytes under a SIP id already taken, as a conflict in its report', async () => {
    const other = await fixtureSip(fs.mkdtempSync(path.join(root, 'other-')), 'gif-1', [photo]);
    assert.deepEqual(await client.submit(other), { alreadySubmitted: false }, 'the client sends it: the service decides');
    let v: Verdict | null = null;
    for (let i = 0; i < 200 && v?.reasons[0]?.includes('conflicts') !== true; i++) {
      await new Promise((r) => setTimeout(r, 25));
      v = await client.verdict('gif-1');
    }
    assert.equal(v?.status, 'rejected');
    assert.match(v.reasons[0], new RegExp(`^transfer gif-1\\.tar conflicts with the SIP received under that id .*sha256 is ${other.sha256}`));
    assertValidIngestReport(await client.report('gif-1'), path.join(root, 'gif-1.conflict.xml'));
    const sub = (await submissions()).find((s) => s.sipId === 'gif-1')!;
    assert.equal(sub.count, 2, 'a conflicting transfer is a second submission');
    assert.notEqual(sub.sha256, other.sha256, 'the service keeps the SIP it received first');
    decided.push(v);
  });

  it('lists verdicts decided after a time, oldest first, and nothing after the last', async () => {
    const all = await client.verdictsSince(new Date(0));
    assert.deepEqual(
      all.map((v) => [v.sipId, v.status, v.decidedAt]),
      decided.map((v) => [v.sipId, v.status, v.decidedAt]),
    );
    const rest = await client.verdictsSince(new Date(all[1].decidedAt));
    assert.deepEqual(
      rest.map((v) => v.sipId),
      decided.slice(2).map((v) => v.sipId),
      'since is exclusive',
    );
    assert.deepEqual(await client.verdictsSince(new Date(all.at(-1)!.decidedAt)), []);
    const rejected = await getJson(`${service.url}/api/2.0/ingest/reports?status=rejected&since=1970-01-01T00:00:00Z`);
    assert.deepEqual(
      (rejected.body.data as Verdict[]).map((v) => v.sipId),
      decided.filter((v) => v.status === 'rejected').map((v) => v.sipId),
    );
  });

  it('answers bad requests with 400 naming the parameter, and unknown SIPs plainly', async () => {
    const since = await getJson(`${service.url}/api/2.0/ingest/reports?since=yesterday`);
    assert.equal(since.status, 400);
    assert.match(String(since.body.error), /^parameter since: "yesterday" is not an ISO 8601 date-time/);
    const status = await getJson(`${service.url}/api/2.0/ingest/reports?status=pending`);
    assert.equal(status.status, 400);
    assert.match(String(status.body.error), /^parameter status: "pending"/);
    assert.deepEqual((await getJson(`${service.url}/api/2.0/ingest/status/nope`)).body, { sipId: 'nope', status: 'unknown' });
    const report = await getJson(`${service.url}/api/2.0/ingest/report/nope`);
    assert.deepEqual([report.status, report.body.error], [404, 'no report for SIP nope']);
    await assert.rejects(client.report('nope'), (e: unknown) => e instanceof PermanentError && e.nonRetryable && e.type === 'ServiceResourceNotFound');
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);
  });

  it('keeps its verdicts, reports and counts across a restart', async () => {
    const reportBefore = await client.report('rot-1');
    const subsBefore = await submissions();
    await service.close();
    await start();
    assert.equal((await client.verdict('good-1'))?.status, 'accepted');
    assert.equal(await client.report('rot-1'), reportBefore);
    assert.deepEqual(await submissions(), subsBefore);
    assert.equal((await client.verdictsSince(new Date(0))).length, decided.length);
  });

  it('validates a SIP that arrived just before a restart once it is back', async () => {
    await service.close();
    const sip = await fixtureSip(sips, 'late-1', [notes]);
    fs.copyFileSync(sip.tarPath, path.join(dataDir, 'transfer', 'late-1.tar.part'));
    fs.renameSync(path.join(dataDir, 'transfer', 'late-1.tar.part'), path.join(dataDir, 'transfer', 'late-1.tar'));
    await start();
    assert.equal((await verdictOf(client, 'late-1')).status, 'accepted');
  });

  it('gives a retryable error naming the URL when it is down', async () => {
    await service.close();
    await assert.rejects(client.verdict('good-1'), (e: Error) => e.message.includes(service.url) && !(e instanceof PermanentError));
    await assert.rejects(client.submit(await fixtureSip(sips, 'down-1', [notes])), (e: Error) => e.message.includes(service.url));
    await start();
  });

  it('refuses a SIP id that is not a plain file name', async () => {
    await assert.rejects(
      client.submit({ ...submitted('good-1', path.join(sips, 'good-1.tar'), 'x'), sipId: '../escape' }),
      (e: unknown) => e instanceof PermanentError && e.type === 'UnsafePath',
    );
  });
});

describe('reference preservation service taking transfers from a bucket', function () {
  this.timeout(60_000);
  it('takes a SIP deposited in S3, verified, validates it and empties the bucket', async () => {
    const s3 = await startTestS3();
    const bucket = await s3.bucket('transfer');
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-s3-'));
    const transfer = openStorage(`s3://${bucket}/incoming`, s3.options);
    const service = await startReferenceService({ port: 0, dataDir: path.join(root, 'service'), pollIntervalMs: 50, transfer });
    try {
      const client = referencePreservationService({ url: service.url, transfer });
      const sip = await builtSip(root, 'mus-0003');
      assert.deepEqual(await client.submit(sip), { alreadySubmitted: false });
      const verdict = await verdictOf(client, sip.sipId);
      assert.equal(verdict.status, 'accepted', verdict.reasons.join('; '));
      const left = [];
      for await (const o of transfer.list('')) left.push(o.key);
      assert.deepEqual(left, [], 'the service removes each transfer it has taken in');
      assert.deepEqual(await client.submit(sip), { alreadySubmitted: true });
      const [received] = (await getJson(`${service.url}/api/2.0/ingest/submissions`)).body.data as Array<{ sha256: string; count: number }>;
      assert.deepEqual([received.sha256, received.count], [sip.sha256, 1]);
    } finally {
      await service.close();
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('reference service state from its first release', () => {
  it('reads the one-status-per-SIP state file into verdicts and reports', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-old-'));
    try {
      fs.mkdirSync(path.join(dataDir, 'reports'));
      fs.writeFileSync(path.join(dataDir, 'reports', 'old-1.xml'), '<premis/>');
      const old = { sipId: 'old-1', sha256: 'ab', transferId: 'old-1-x.tar', count: 1, transfers: 2, firstReceivedAt: '2024-01-01T00:00:00.000Z' };
      const submissions = [{ ...old, status: 'rejected', decidedAt: '2024-01-01T00:00:01.000Z', reasons: ['why'], reportFile: 'reports/old-1.xml' }];
      fs.writeFileSync(path.join(dataDir, 'state.json'), JSON.stringify({ submissions }));
      const service = await startReferenceService({ port: 0, dataDir });
      try {
        const client = referencePreservationService({ url: service.url, transfer: new FileStorage(path.join(dataDir, 'transfer')) });
        assert.deepEqual(await client.verdictsSince(new Date(0)), [
          {
            sipId: 'old-1',
            status: 'rejected',
            decidedAt: '2024-01-01T00:00:01.000Z',
            reasons: ['why'],
            reportUrl: `${service.url}/api/2.0/ingest/report/old-1/old-1-x.tar`,
          },
        ]);
        assert.equal(await client.report('old-1'), '<premis/>');
      } finally {
        await service.close();
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('reference service state log', () => {
  it('keeps each change appended to state.log across a crash, ignores a torn last line, and folds the log into state.json when opened', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-log-'));
    try {
      const sub = (sipId: string, transfers: number): Submission => ({
        sipId,
        sha256: 'ab',
        count: 1,
        transfers,
        firstReceivedAt: '2024-01-01T00:00:00.000Z',
        decisions: [],
      });
      const before = new ServiceState(dataDir);
      before.put(sub('a', 1));
      before.put(sub('b', 1));
      before.put(sub('a', 2));
      // Killed mid-append: a half-written line, never closed.
      fs.appendFileSync(path.join(dataDir, 'state.log'), '{"sipId":"c","sha');
      const after = new ServiceState(dataDir);
      assert.deepEqual(
        after.all().map((s) => [s.sipId, s.transfers]),
        [
          ['a', 2],
          ['b', 1],
        ],
      );
      assert.equal(fs.existsSync(path.join(dataDir, 'state.log')), false);
      assert.deepEqual(
        (JSON.parse(fs.readFileSync(path.join(dataDir, 'state.json'), 'utf8')) as { submissions: Submission[] }).submissions.map((s) => s.sipId),
        ['a', 'b'],
      );
      after.close();
      before.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a log with a broken line before its end, naming the file and line', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-log-'));
    try {
      fs.writeFileSync(path.join(dataDir, 'state.log'), 'not json\n{}\n');
      assert.throws(() => new ServiceState(dataDir), /state\.log line 1 is not JSON/);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('reference service process (main.ts)', function () {
  this.timeout(30_000);
  const main = path.join(REPO_ROOT, 'reference-service', 'main.ts');

  /** main.ts as its own process, once it has announced its first line. */
  async function startMain(dataDir: string) {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', main, '--port', '0', '--data-dir', dataDir], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code} before it listened`)));
    });
    return { child, exited, line };
  }

  it('announces its URL, serves, and stops cleanly on SIGTERM', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-main-'));
    try {
      const { child, exited, line } = await startMain(dataDir);
      const m = /^reference service listening on (http:\/\/127\.0\.0\.1:\d+), taking transfers from (.+)$/.exec(line);
      assert.ok(m, line);
      assert.equal(m[2], path.join(dataDir, 'transfer'));
      assert.equal((await fetch(`${m[1]}/healthz`)).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses a second service on the same data folder, naming the pid of the running one; takes over the lock of a killed one', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-refsvc-lock-'));
    const lockFile = path.join(dataDir, 'service.lock');
    const started: ChildProcess[] = [];
    try {
      const first = await startMain(dataDir);
      started.push(first.child);
      const second = spawnSync(process.execPath, ['--require', 'tsx/cjs', main, '--port', '0', '--data-dir', dataDir], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(second.status, 1, `the second service was not refused: ${second.stdout}`);
      assert.equal(
        second.stderr.trim(),
        `reference service: cannot start on port 0 with data in ${dataDir}: data folder ${dataDir} is in use by another reference service (pid ${first.child.pid}): stop it first, or remove ${lockFile} if pid ${first.child.pid} is not a reference service`,
      );
      assert.equal((await fetch(`${/listening on (\S+),/.exec(first.line)![1]}/healthz`)).status, 200, 'the first one still serves');

      // Killed outright, it leaves its lock behind: the next service takes it over.
      first.child.kill('SIGKILL');
      await first.exited;
      assert.equal(fs.readFileSync(lockFile, 'utf8').trim(), String(first.child.pid));
      const next = await startMain(dataDir);
      started.push(next.child);
      assert.match(next.line, /^reference service listening on/);
      assert.equal(fs.readFileSync(lockFile, 'utf8').trim(), String(next.child.pid));
      next.child.kill('SIGTERM');
      assert.equal(await next.exited, 0);
      assert.ok(!fs.existsSync(lockFile), 'a service that stops gives the lock up');
    } finally {
      for (const child of started) child.kill('SIGKILL');
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('stops with a message naming a bad option', () => {
    const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', main, '--port', 'eighty', '--data-dir', os.tmpdir()], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /bad --port: must be a whole number/);
    const env = { ...process.env, REFERENCE_SERVICE_DATA_DIR: '' };
    const noDir = spawnSync(process.execPath, ['--require', 'tsx/cjs', main], { cwd: REPO_ROOT, encoding: 'utf8', env });
    assert.match(noDir.stderr, /bad REFERENCE_SERVICE_DATA_DIR: must not be empty/);
  });
});
