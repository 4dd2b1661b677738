// The SIP builder alone (no Temporal server): a small object of several formats is packed, and
// the tar is checked the way a user would — GNU tar, bagit.py, xmllint, checksums recomputed here.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import type { ObjectMetadata, SourceFile } from '../common/object-metadata';
import type { ChecksumAlgorithm } from '../common/sip';
import { buildSip, type BuildSipOptions } from '../sip/build-sip';
import { identifyFormat } from '../sip/identify-format';
import { checkPayloadNames } from '../sip/payload-paths';
import { reasonsOf, validateSip } from '../reference-service/validate-sip';
import { AUTO_FREEZE_TYPES } from '../common/preservation';

const SCHEMAS = path.resolve(__dirname, '../../shared/schemas/dpres-xml-schemas/schema_catalogs');
const SIP_ID = 'obj-001.a1.3f2c9e1a';

function requireTool(cmd: string, install: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  assert.ok(found, `${cmd} is not on PATH: ${install}`);
}

const sha = (alg: string, data: Buffer) => crypto.createHash(alg).update(data).digest('hex');

/** A tiny but real PNG (pngjs is not needed for 1×1: the bytes are written here). */
function png(): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(Buffer.from([0, 0]))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const PAYLOAD: Record<string, Buffer> = {
  'scan 1.png': png(),
  'notes/Grüße – 日本.txt': Buffer.from('Plain UTF-8 text: Grüße, 日本語.\n'),
  'notes/deep/er/table.csv': Buffer.from('id,name\n1,Ann\n2,Bob\n'),
  'report.pdf': Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'),
  'photo.jpg': Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), crypto.randomBytes(3000), Buffer.from([0xff, 0xd9])]),
  // Larger than one 1 MiB slot, so a file spans several chunks, and the object is over the 4 MiB
  // below which the builder hashes without its threads.
  'raw/blob.bin': crypto.randomBytes(4.5 * 1024 * 1024),
  [`long/${'a-very-long-folder-name-'.repeat(6)}/file-with-a-long-name.xml`]: Buffer.from('<?xml version="1.0"?>\n<r/>\n'),
  'empty.txt': Buffer.alloc(0),
};

const METADATA: ObjectMetadata = {
  id: 'obj-001',
  title: 'Letters of Ann & Bob <1901>',
  creators: ['Ann Example', 'Bob Example'],
  dates: ['1901'],
  modifiedAt: '2024-03-01T12:00:00Z',
  rights: 'CC BY 4.0',
  description: 'Two letters\nand a photo.',
  subjects: ['correspondence', 'family'],
  type: 'Text',
  language: 'fi',
  publisher: 'Example Museum',
  identifiers: ['urn:nbn:fi:example-1'],
};

describe('SIP builder', function () {
  let root: string;
  let sourceDir: string;
  let files: SourceFile[];

  const options = (over: Partial<BuildSipOptions> = {}): BuildSipOptions => ({
    sipId: SIP_ID,
    objectId: 'obj-001',
    sourceDir,
    files,
    metadata: METADATA,
    algorithms: ['sha256', 'sha512'],
    sourceOrganization: 'Example Museum',
    agent: { name: 'custody', version: '0.1.0' },
    outputPath: path.join(root, 'out', `${SIP_ID}.tar`),
    now: new Date('2024-05-02T10:20:30Z'),
    ...over,
  });

  /** Extracts with GNU tar into a fresh folder and returns the bag's path. */
  const extract = (tarPath: string) => {
    const dir = fs.mkdtempSync(path.join(root, 'x-'));
    execFileSync('tar', ['xf', tarPath, '-C', dir]);
    assert.deepEqual(fs.readdirSync(dir), [SIP_ID], 'one top-level folder named after the SIP');
    return path.join(dir, SIP_ID);
  };

  const parseManifest = (text: string) =>
    new Map(
      text
        .trim()
        .split('\n')
        .map((l) => [l.slice(l.indexOf(' ') + 1), l.slice(0, l.indexOf(' '))] as const),
    );

  before(function () {
    requireTool('tar', 'install GNU tar (apt-get install tar)');
    requireTool('xmllint', "install Debian's libxml2-utils (apt-get install libxml2-utils), or run scripts/install-test-tools.sh");
    requireTool('bagit.py', 'install bagit-python (pip install bagit), or run scripts/install-test-tools.sh and put .tools/bagit/bin on PATH');
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-sip-'));
    sourceDir = path.join(root, 'source');
    for (const [p, data] of Object.entries(PAYLOAD)) {
      fs.mkdirSync(path.join(sourceDir, path.dirname(p)), { recursive: true });
      fs.writeFileSync(path.join(sourceDir, p), data);
    }
    fs.mkdirSync(path.join(root, 'out'));
    files = Object.entries(PAYLOAD).map(([p, data]) => ({ path: p, size: data.length }));
  });

  after(() => root && fs.rmSync(root, { recursive: true, force: true }));

  describe('a default build (sha256 + sha512)', function () {
    let result: Awaited<ReturnType<typeof buildSip>>;
    let bag: string;
    const progress: Array<[number, number]> = [];

    before(async () => {
      result = await buildSip(options({ onProgress: (done, total) => progress.push([done, total]) }));
      bag = extract(result.tarPath);
    });

    it('returns the sha256 and size of the tar as written', () => {
      const tar = fs.readFileSync(result.tarPath);
      assert.equal(result.tarSize, tar.length);
      assert.equal(result.tarSha256, sha('sha256', tar));
      const leftovers = fs.readdirSync(path.dirname(result.tarPath)).filter((f) => f.includes('partial'));
      assert.deepEqual(leftovers, [], 'no temporary file left beside the tar');
    });

    it('is a bag that bagit.py validates', () => {
      const run = spawnSync('bagit.py', ['--validate', bag], { encoding: 'utf8' });
      assert.equal(run.status, 0, `bagit.py --validate failed:\n${run.stderr}`);
    });

    it('has bagit.txt, and bag-info.txt with the right Payload-Oxum and the object identity', () => {
      assert.equal(fs.readFileSync(path.join(bag, 'bagit.txt'), 'utf8'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
      const info = fs.readFileSync(path.join(bag, 'bag-info.txt'), 'utf8');
      const payload = Object.values(PAYLOAD);
      const metsSize = fs.statSync(path.join(bag, 'data', 'mets.xml')).size;
      const bytes = payload.reduce((n, b) => n + b.length, 0) + metsSize;
      assert.match(info, new RegExp(`^Payload-Oxum: ${bytes}\\.${payload.length + 1}$`, 'm'));
      assert.equal(result.payloadBytes, bytes);
      assert.equal(result.payloadFiles, payload.length + 1);
      assert.match(info, /^Bagging-Date: 2024-05-02$/m);
      assert.match(info, /^Source-Organization: Example Museum$/m);
      assert.match(info, /^External-Identifier: obj-001$/m);
      assert.match(info, /^Bag-Software-Agent: custody 0\.1\.0$/m);
    });

    it('lists every payload file in each manifest with a checksum computed here, and no md5 manifest', () => {
      for (const alg of ['sha256', 'sha512']) {
        const m = parseManifest(fs.readFileSync(path.join(bag, `manifest-${alg}.txt`), 'utf8'));
        assert.deepEqual([...m.keys()].sort(), [...Object.keys(PAYLOAD).map((p) => `data/${p}`), 'data/mets.xml'].sort());
        for (const [p, data] of Object.entries(PAYLOAD)) assert.equal(m.get(`data/${p}`), sha(alg, data), `${alg} of ${p}`);
        assert.equal(m.get('data/mets.xml'), sha(alg, fs.readFileSync(path.join(bag, 'data', 'mets.xml'))));
        const tags = parseManifest(fs.readFileSync(path.join(bag, `tagmanifest-${alg}.txt`), 'utf8'));
        assert.deepEqual([...tags.keys()].sort(), ['bag-info.txt', 'bagit.txt', 'manifest-sha256.txt', 'manifest-sha512.txt']);
        for (const [p, sum] of tags) assert.equal(sum, sha(alg, fs.readFileSync(path.join(bag, p))), `tagmanifest-${alg} ${p}`);
      }
      assert.equal(fs.existsSync(path.join(bag, 'manifest-md5.txt')), false);
      assert.equal(fs.existsSync(path.join(bag, 'tagmanifest-md5.txt')), false);
    });

    it('has a METS that validates against METS 1.12.1 with PREMIS 2.3 and Dublin Core', () => {
      const xsd = path.join(root, 'mets-premis-dc.xsd');
      // libxml2 does not follow the document's xsi:schemaLocation when given --schema, so this
      // wrapper imports the three vocabularies (resolved offline through the catalog).
      fs.writeFileSync(
        xsd,
        `<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:custody:test" elementFormDefault="qualified">
  <xs:import namespace="http://www.loc.gov/METS/" schemaLocation="${path.join(SCHEMAS, 'schemas_external/mets/1.12.1/mets-1-12-1.xsd')}"/>
  <xs:import namespace="info:lc/xmlns/premis-v2" schemaLocation="http://www.loc.gov/standards/premis/v2/premis-v2-3.xsd"/>
  <xs:import namespace="http://purl.org/dc/elements/1.1/" schemaLocation="http://dublincore.org/schemas/xmls/qdc/dc.xsd"/>
</xs:schema>
`,
      );
      const mets = path.join(bag, 'data', 'mets.xml');
      // The national service's own METS profile (METS 1.12.1 redefined, PREMIS and DC imported) too.
      for (const schema of [xsd, path.join(SCHEMAS, 'schemas/mets/mets.xsd')]) {
        const run = spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, mets], {
          encoding: 'utf8',
          env: { ...process.env, XML_CATALOG_FILES: path.join(SCHEMAS, 'catalog_main.xml') },
        });
        assert.equal(
          run.status,
          0,
          `xmllint against ${schema}:\n${run.stderr
            .split('\n')
            .filter((l) => !l.includes('Skipping import'))
            .join('\n')}`,
        );
      }
    });

    it('carries the Dublin Core, each file’s PREMIS fixity and format, the creation event and the agent', () => {
      const mets = fs.readFileSync(path.join(bag, 'data', 'mets.xml'), 'utf8');
      assert.ok(mets.includes('<dc:title>Letters of Ann &amp; Bob &lt;1901&gt;</dc:title>'));
      for (const c of METADATA.creators) assert.ok(mets.includes(`<dc:creator>${c}</dc:creator>`));
      assert.ok(mets.includes('<dc:rights>CC BY 4.0</dc:rights>'));
      assert.ok(mets.includes('<dc:identifier>urn:nbn:fi:example-1</dc:identifier>'));
      for (const data of Object.values(PAYLOAD)) {
        for (const alg of ['sha256', 'sha512']) assert.ok(mets.includes(`<premis:messageDigest>${sha(alg, data)}</premis:messageDigest>`));
      }
      assert.match(mets, /<premis:formatName>PNG<\/premis:formatName>/);
      assert.match(mets, /<premis:formatName>JPEG<\/premis:formatName>/);
      assert.match(mets, /<premis:eventType>creation<\/premis:eventType>/);
      assert.match(mets, /<premis:eventDateTime>2024-05-02T10:20:30.000Z<\/premis:eventDateTime>/);
      assert.match(mets, /<premis:agentName>custody 0\.1\.0<\/premis:agentName>/);
      assert.ok(mets.includes('xlink:href="notes/Gr%C3%BC%C3%9Fe%20%E2%80%93%20%E6%97%A5%E6%9C%AC.txt"'));
    });

    it('identifies each file’s format from its bytes', () => {
      const byPath = new Map(result.files.map((f) => [f.path, f]));
      assert.deepEqual(
        Object.keys(PAYLOAD).map((p) => [p, byPath.get(p)?.mimeType]),
        [
          ['scan 1.png', 'image/png'],
          ['notes/Grüße – 日本.txt', 'text/plain'],
          ['notes/deep/er/table.csv', 'text/csv'],
          ['report.pdf', 'application/pdf'],
          ['photo.jpg', 'image/jpeg'],
          ['raw/blob.bin', 'application/octet-stream'],
          [Object.keys(PAYLOAD)[6], 'application/xml'],
          ['empty.txt', 'text/plain'],
        ],
      );
    });

    it('reports progress up to the payload size', () => {
      const total = Object.values(PAYLOAD).reduce((n, b) => n + b.length, 0);
      assert.ok(progress.length >= 3, 'several progress calls');
      assert.deepEqual(progress.at(-1), [total, total]);
    });

    it('gives identical bytes when built again to the same path', async () => {
      const again = await buildSip(options());
      assert.equal(again.tarSha256, result.tarSha256);
      assert.equal(sha('sha256', fs.readFileSync(again.tarPath)), result.tarSha256);
    });
  });

  it('adds md5 manifests only when md5 is requested', async () => {
    const algorithms: ChecksumAlgorithm[] = ['md5', 'sha256', 'sha512'];
    const result = await buildSip(options({ algorithms, outputPath: path.join(root, 'out', 'md5.tar') }));
    const bag = extract(result.tarPath);
    const m = parseManifest(fs.readFileSync(path.join(bag, 'manifest-md5.txt'), 'utf8'));
    for (const [p, data] of Object.entries(PAYLOAD)) assert.equal(m.get(`data/${p}`), sha('md5', data));
    assert.ok(fs.existsSync(path.join(bag, 'tagmanifest-md5.txt')));
    assert.equal(spawnSync('bagit.py', ['--validate', bag]).status, 0);
    assert.match(fs.readFileSync(path.join(bag, 'data', 'mets.xml'), 'utf8'), /<premis:messageDigestAlgorithm>MD5</);
  });

  it('hashes a small object without threads to the same checksums, a file spanning several slots', async () => {
    const small = files.filter((f) => f.path !== 'raw/blob.bin');
    fs.mkdirSync(path.join(sourceDir, 'small'), { recursive: true });
    const mid = crypto.randomBytes(2.5 * 1024 * 1024);
    fs.writeFileSync(path.join(sourceDir, 'small', 'mid.bin'), mid);
    const result = await buildSip(options({ files: [...small, { path: 'small/mid.bin', size: mid.length }], outputPath: path.join(root, 'out', 'small.tar') }));
    assert.equal(result.tarSha256, sha('sha256', fs.readFileSync(result.tarPath)));
    const bag = extract(result.tarPath);
    for (const alg of ['sha256', 'sha512']) {
      const manifest = parseManifest(fs.readFileSync(path.join(bag, `manifest-${alg}.txt`), 'utf8'));
      assert.equal(manifest.get('data/small/mid.bin'), sha(alg, mid), `${alg} of the 2.5 MiB file`);
      assert.equal(manifest.get('data/report.pdf'), sha(alg, PAYLOAD['report.pdf']), `${alg} of a small file`);
    }
  });

  describe('unsafe payload paths', function () {
    const rejects = async (list: SourceFile[], outName: string) => {
      const outputPath = path.join(root, 'out', outName);
      await assert.rejects(buildSip(options({ files: list, outputPath })), (e: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(e.type, 'UnsafePath', e.message);
        assert.equal(e.nonRetryable, true);
        return true;
      });
      assert.equal(fs.existsSync(outputPath), false, 'nothing written');
    };

    it("rejects '..' and absolute paths", async () => {
      fs.writeFileSync(path.join(root, 'secret.txt'), 'secret');
      await rejects([{ path: '../secret.txt', size: 6 }], 'dotdot.tar');
      await rejects([{ path: 'notes/../../secret.txt', size: 6 }], 'dotdot2.tar');
      await rejects([{ path: path.join(root, 'secret.txt'), size: 6 }], 'absolute.tar');
    });

    it('rejects a symlink pointing outside the source folder, and a folder symlinked outside', async () => {
      fs.writeFileSync(path.join(root, 'secret.txt'), 'secret');
      fs.symlinkSync(path.join(root, 'secret.txt'), path.join(sourceDir, 'link.txt'));
      fs.symlinkSync(root, path.join(sourceDir, 'linkdir'));
      try {
        await rejects([...files, { path: 'link.txt', size: 6 }], 'symlink.tar');
        await rejects([{ path: 'linkdir/secret.txt', size: 6 }], 'symlinkdir.tar');
      } finally {
        fs.rmSync(path.join(sourceDir, 'link.txt'));
        fs.rmSync(path.join(sourceDir, 'linkdir'));
      }
    });
  });

  describe('awkward payload names', function () {
    const build = async (name: string, payload: Record<string, string>) => {
      const dir = path.join(root, `awkward-${name}`);
      for (const [p, data] of Object.entries(payload)) {
        fs.mkdirSync(path.join(dir, path.dirname(p)), { recursive: true });
        fs.writeFileSync(path.join(dir, p), data);
      }
      const list = Object.entries(payload).map(([p, data]) => ({ path: p, size: Buffer.byteLength(data) }));
      const result = await buildSip(options({ sourceDir: dir, files: list, outputPath: path.join(root, 'out', `${name}.tar`) }));
      return { result, bag: extract(result.tarPath) };
    };

    it('keeps a 250-byte file name whole in the tar (PAX), and bagit.py validates the bag (item 9)', async () => {
      const long = `${'ä'.repeat(100)}${'n'.repeat(46)}.txt`;
      assert.equal(Buffer.byteLength(long), 250);
      const { result, bag } = await build('long-name', { [long]: 'long name\n' });
      assert.equal(fs.readFileSync(path.join(bag, 'data', long), 'utf8'), 'long name\n');
      const run = spawnSync('bagit.py', ['--validate', bag], { encoding: 'utf8' });
      assert.equal(run.status, 0, `bagit.py --validate failed:\n${run.stderr}`);
      assert.deepEqual(reasonsOf(await validateSip(result.tarPath)), []);
    });

    it('keeps payload files named like bag structure files under data/, and the bag validates (item 13)', async () => {
      const names = ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'tagmanifest-sha256.txt', 'data/mets.xml', 'METS/mets.xml'];
      const { result, bag } = await build('structure-names', Object.fromEntries(names.map((n) => [n, `payload file ${n}\n`])));
      for (const n of names) assert.equal(fs.readFileSync(path.join(bag, 'data', n), 'utf8'), `payload file ${n}\n`, n);
      assert.match(fs.readFileSync(path.join(bag, 'bagit.txt'), 'utf8'), /^BagIt-Version: 1.0/, "the bag's own bagit.txt is untouched");
      const run = spawnSync('bagit.py', ['--validate', bag], { encoding: 'utf8' });
      assert.equal(run.status, 0, `bagit.py --validate failed:\n${run.stderr}`);
      assert.deepEqual(reasonsOf(await validateSip(result.tarPath)), []);
    });

    it('percent-encodes % in manifest paths as RFC 8493 says, and the service validates it (item 14)', async () => {
      // bagit-python 1.9 does not decode %25 when validating (its issue 157), so it is not asked here.
      const { result, bag } = await build('percent', { '100%.txt': 'all of it\n', 'a%0Ab.txt': 'not a newline\n' });
      const lines = fs.readFileSync(path.join(bag, 'manifest-sha256.txt'), 'utf8').trim().split('\n');
      assert.ok(lines.includes(`${sha('sha256', Buffer.from('all of it\n'))} data/100%25.txt`), lines.join('\n'));
      assert.ok(lines.includes(`${sha('sha256', Buffer.from('not a newline\n'))} data/a%250Ab.txt`), lines.join('\n'));
      assert.deepEqual(reasonsOf(await validateSip(result.tarPath)), []);
    });

    it('refuses a payload file at data/mets.xml, where the METS goes', async () => {
      await assert.rejects(build('mets-name', { 'mets.xml': '<x/>' }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(e.type, 'PayloadPathConflict', e.message);
        assert.equal(e.nonRetryable, true);
        assert.ok((AUTO_FREEZE_TYPES as readonly string[]).includes(e.type), 'it freezes the object');
        return true;
      });
    });
  });

  it('identifies formats from magic numbers, with the extension deciding between text formats', () => {
    const ascii = (s: string) => Buffer.from(s, 'latin1');
    const cases: Array<[Buffer, string, string, string]> = [
      [ascii('II*\0rest'), 'a.bin', 'image/tiff', 'TIFF'],
      [ascii('MM\0*rest'), 'a.tif', 'image/tiff', 'TIFF'],
      [ascii('GIF89a...'), 'a', 'image/gif', 'GIF'],
      [ascii('RIFF\x24\0\0\0WAVEfmt '), 'a.wav', 'audio/wav', 'WAVE'],
      [ascii('PK\x03\x04rest'), 'a.docx', 'application/zip', 'ZIP'],
      [ascii('a;b\n1;2\n'), 'a.CSV', 'text/csv', 'CSV'],
      [ascii('<?xml version="1.0"?><a/>'), 'a.dat', 'application/xml', 'XML'],
      [ascii('just words'), 'a.csv.txt', 'text/plain', 'Plain text'],
      [Buffer.from([0, 1, 2, 3, 0xfe]), 'a.txt', 'application/octet-stream', 'Unknown binary'],
      [ascii('\xff\xfe latin-1 is not UTF-8'), 'a.txt', 'application/octet-stream', 'Unknown binary'],
    ];
    for (const [bytes, name, mimeType, formatName] of cases) {
      assert.deepEqual(identifyFormat(bytes, name), { mimeType, formatName }, name);
    }
  });
});

describe('payload name rules (checked before download)', () => {
  const refuses = (paths: string[], type: string, ...fragments: string[]) =>
    assert.throws(
      () => checkPayloadNames(paths, 1000),
      (e: Error & { type?: string; nonRetryable?: boolean }) => {
        assert.equal(e.type, type, e.message);
        assert.equal(e.nonRetryable, true);
        assert.ok((AUTO_FREEZE_TYPES as readonly string[]).includes(type), `${type} freezes the object`);
        for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks ${JSON.stringify(f)}`);
        return true;
      },
    );

  it('takes ordinary, long and non-ASCII names', () => {
    checkPayloadNames(['a.txt', 'Grüße/日本.txt', `${'x'.repeat(255)}`, 'bagit.txt', 'data/mets.xml', '100%.txt'], 1000);
  });

  it('refuses a name over 255 bytes or a path over the room the working folders leave (item 9)', () => {
    const long = 'ö'.repeat(128); // 256 bytes
    refuses([`dir/${long}`], 'NameTooLong', long, 'is 256 bytes of UTF-8, more than the 255');
    const deep = Array.from({ length: 5 }, () => 'd'.repeat(250)).join('/');
    refuses([`${deep}/f.txt`], 'NameTooLong', 'f.txt', 'its path is 1260 bytes of UTF-8, more than the 1000');
  });

  it('refuses a name with a character XML 1.0 cannot carry (item 12)', () => {
    refuses(['ok.txt', 'bell\u0007.txt'], 'InvalidFileName', 'bell\\u0007.txt', 'U+0007');
  });

  it('refuses two names that are one after NFC normalisation or case folding, naming both (item 11)', () => {
    refuses(['café.txt', 'cafe\u0301.txt'], 'NameCollision', '"café.txt"', '"cafe\u0301.txt"', 'after Unicode NFC normalisation');
    refuses(['Photo.JPG', 'photo.jpg'], 'NameCollision', '"Photo.JPG"', '"photo.jpg"', 'when case is ignored');
    refuses(['Scans/a.tif', 'scans/b.tif'], 'NameCollision', '"Scans"', '"scans"');
    refuses(['STRASSE.txt', 'straße.txt'], 'NameCollision', 'STRASSE.txt', 'straße.txt');
  });

  it("refuses the METS's own name at the top, and names that are it on a case-insensitive file system (item 13)", () => {
    refuses(['mets.xml'], 'PayloadPathConflict', '"mets.xml"', 'data/mets.xml');
    refuses(['METS.XML'], 'NameCollision', '"METS.XML"', 'METS document data/mets.xml');
  });
});
