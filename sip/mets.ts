// The METS document of a SIP: Dublin Core from object.json, PREMIS 2.3 (one object per file
// with its fixity, size and format; the packing event; custody as the agent), a fileSec and a
// structMap that mirrors the payload's folders. Validates against METS 1.12.1 (see the test).
import { PermanentError } from '../common/errors';
import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces';
import type { ObjectMetadata } from '../common/object-metadata';
import type { ChecksumAlgorithm, PackagedFile } from '../common/sip';
import { PREMIS_NS, PREMIS_SCHEMA, addPremisAgent, addPremisEvent, premisIdentifier } from './premis';

const NS = {
  mets: 'http://www.loc.gov/METS/',
  premis: PREMIS_NS,
  dc: 'http://purl.org/dc/elements/1.1/',
  xlink: 'http://www.w3.org/1999/xlink',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
};

// Schema locations let a validator check the PREMIS and DC inside mdWrap/xmlData (which METS
// itself only checks "laxly"): with them, one xmllint call validates all three vocabularies.
const SCHEMA_LOCATION = [
  NS.mets,
  'http://www.loc.gov/standards/mets/mets.xsd',
  NS.premis,
  PREMIS_SCHEMA,
  NS.dc,
  'http://dublincore.org/schemas/xmls/qdc/dc.xsd',
].join(' ');

/** The names METS CHECKSUMTYPE and PREMIS messageDigestAlgorithm use. */
export const ALGORITHM_NAME: Record<ChecksumAlgorithm, string> = { md5: 'MD5', sha256: 'SHA-256', sha512: 'SHA-512' };

export interface MetsInput {
  sipId: string;
  objectId: string;
  metadata: ObjectMetadata;
  /** Payload files other than the METS itself, paths relative to data/. */
  files: PackagedFile[];
  algorithms: ChecksumAlgorithm[];
  sourceOrganization: string;
  agent: { name: string; version: string };
  now: Date;
}

/** The METS document as UTF-8 bytes. Deterministic: the same input gives the same bytes. */
export function buildMets(input: MetsInput): Buffer {
  const { sipId, objectId, metadata, files, algorithms, sourceOrganization, agent, now } = input;
  const created = now.toISOString();
  const agentId = `${agent.name}-${agent.version}`;
  const eventId = `${sipId}:creation`;
  const fileIds = files.map((_, i) => `file-${String(i + 1).padStart(6, '0')}`);
  const techIds = files.map((_, i) => `tech-${String(i + 1).padStart(6, '0')}`);
  // METS prefers the strongest digest for its single CHECKSUM attribute.
  const metsChecksum = (['sha512', 'sha256', 'md5'] as const).find((a) => algorithms.includes(a));

  // object.json and file names are refused before download when they hold a character XML 1.0
  // cannot carry; should one get here all the same, no METS is written rather than a broken one.
  const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: refuseNonXmlChar });
  const mets = doc.ele(NS.mets, 'mets:mets', {
    'xmlns:premis': NS.premis,
    'xmlns:dc': NS.dc,
    'xmlns:xlink': NS.xlink,
    'xmlns:xsi': NS.xsi,
    'xsi:schemaLocation': SCHEMA_LOCATION,
    OBJID: objectId,
    LABEL: metadata.title,
    ...(metadata.type ? { TYPE: metadata.type } : {}),
  });

  const hdr = mets.ele(NS.mets, 'mets:metsHdr', { CREATEDATE: created, RECORDSTATUS: 'submission' });
  hdr.ele(NS.mets, 'mets:agent', { ROLE: 'CREATOR', TYPE: 'ORGANIZATION' }).ele(NS.mets, 'mets:name').txt(sourceOrganization);
  hdr.ele(NS.mets, 'mets:agent', { ROLE: 'CREATOR', TYPE: 'OTHER', OTHERTYPE: 'SOFTWARE' }).ele(NS.mets, 'mets:name').txt(`${agent.name} ${agent.version}`);
  hdr.ele(NS.mets, 'mets:metsDocumentID').txt(`${sipId}/data/mets.xml`);

  const dc = wrap(mets.ele(NS.mets, 'mets:dmdSec', { ID: 'dmd-object', CREATED: created }), 'DC');
  const dcEle = (name: string, values: Array<string | undefined>) => {
    for (const v of values) if (v !== undefined && v !== '') dc.ele(NS.dc, `dc:${name}`).txt(v);
  };
  dcEle('title', [metadata.title]);
  dcEle('creator', metadata.creators);
  dcEle('subject', metadata.subjects);
  dcEle('description', [metadata.description]);
  dcEle('publisher', [metadata.publisher]);
  dcEle('date', metadata.dates);
  dcEle('type', [metadata.type]);
  dcEle('identifier', [objectId, ...metadata.identifiers.filter((i) => i !== objectId)]);
  dcEle('language', [metadata.language]);
  dcEle('rights', [metadata.rights]);

  const amd = mets.ele(NS.mets, 'mets:amdSec', { ID: 'amd-sip' });
  files.forEach((file, i) => {
    const object = wrap(amd.ele(NS.mets, 'mets:techMD', { ID: techIds[i], CREATED: created }), 'PREMIS:OBJECT').ele(NS.premis, 'premis:object', {
      'xsi:type': 'premis:file',
      version: '2.3',
    });
    premisIdentifier(object, 'object', 'local', `${sipId}/data/${file.path}`);
    const chars = object.ele(NS.premis, 'premis:objectCharacteristics');
    chars.ele(NS.premis, 'premis:compositionLevel').txt('0');
    for (const alg of algorithms) {
      const fixity = chars.ele(NS.premis, 'premis:fixity');
      fixity.ele(NS.premis, 'premis:messageDigestAlgorithm').txt(ALGORITHM_NAME[alg]);
      fixity.ele(NS.premis, 'premis:messageDigest').txt(file.checksums[alg] ?? '');
      fixity.ele(NS.premis, 'premis:messageDigestOriginator').txt(agent.name);
    }
    chars.ele(NS.premis, 'premis:size').txt(String(file.size));
    chars.ele(NS.premis, 'premis:format').ele(NS.premis, 'premis:formatDesignation').ele(NS.premis, 'premis:formatName').txt(file.formatName);
    object.ele(NS.premis, 'premis:originalName').txt(file.path);
    premisIdentifier(object, 'linkingEvent', 'local', eventId);
  });

  addPremisEvent(wrap(amd.ele(NS.mets, 'mets:digiprovMD', { ID: 'event-creation', CREATED: created }), 'PREMIS:EVENT'), {
    id: eventId,
    type: 'creation',
    dateTime: created,
    detail: `SIP ${sipId} packed as a BagIt bag with ${algorithms.map((a) => ALGORITHM_NAME[a]).join(', ')} manifests`,
    outcome: 'success',
    agent: { type: 'local', value: agentId },
  });
  addPremisAgent(wrap(amd.ele(NS.mets, 'mets:digiprovMD', { ID: 'agent-software', CREATED: created }), 'PREMIS:AGENT'), {
    type: 'local',
    value: agentId,
    name: `${agent.name} ${agent.version}`,
  });

  const grp = mets.ele(NS.mets, 'mets:fileSec').ele(NS.mets, 'mets:fileGrp', { USE: 'payload' });
  files.forEach((file, i) => {
    const attrs: Record<string, string> = {
      ID: fileIds[i],
      MIMETYPE: file.mimeType,
      SIZE: String(file.size),
      ADMID: `${techIds[i]} event-creation`,
    };
    if (metsChecksum) {
      attrs.CHECKSUM = file.checksums[metsChecksum] ?? '';
      attrs.CHECKSUMTYPE = ALGORITHM_NAME[metsChecksum];
    }
    grp.ele(NS.mets, 'mets:file', attrs).ele(NS.mets, 'mets:FLocat', { LOCTYPE: 'URL', 'xlink:type': 'simple', 'xlink:href': relativeUrl(file.path) });
  });

  const root = mets
    .ele(NS.mets, 'mets:structMap', { TYPE: 'physical' })
    .ele(NS.mets, 'mets:div', { TYPE: 'object', LABEL: metadata.title, DMDID: 'dmd-object', ADMID: 'event-creation agent-software' });
  addFolder(root, folderTree(files.map((f, i) => ({ path: f.path, fileId: fileIds[i] }))));

  return Buffer.from(doc.end({ prettyPrint: true }), 'utf8');
}

function refuseNonXmlChar(char: string): never {
  const code = `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
  throw new PermanentError(`the METS would contain ${code}, a character XML 1.0 cannot carry (in object.json or a file name)`, 'InvalidObjectMetadata');
}

function wrap(section: XMLBuilder, mdType: 'DC' | 'PREMIS:OBJECT' | 'PREMIS:EVENT' | 'PREMIS:AGENT'): XMLBuilder {
  const attrs: Record<string, string> = { MDTYPE: mdType };
  if (mdType.startsWith('PREMIS')) attrs.MDTYPEVERSION = '2.3';
  return section.ele(NS.mets, 'mets:mdWrap', attrs).ele(NS.mets, 'mets:xmlData');
}

/** The file's URL relative to mets.xml, which sits in data/ beside the payload. */
function relativeUrl(filePath: string): string {
  return filePath.split('/').map(encodeURIComponent).join('/');
}

interface Folder {
  files: string[];
  folders: Map<string, Folder>;
}

function folderTree(files: Array<{ path: string; fileId: string }>): Folder {
  const root: Folder = { files: [], folders: new Map() };
  for (const f of files) {
    const parts = f.path.split('/');
    let at = root;
    for (const name of parts.slice(0, -1)) {
      let next = at.folders.get(name);
      if (!next) at.folders.set(name, (next = { files: [], folders: new Map() }));
      at = next;
    }
    at.files.push(f.fileId);
  }
  return root;
}

function addFolder(div: XMLBuilder, folder: Folder): void {
  // METS wants a div's fptr children before its nested divs.
  for (const fileId of folder.files) div.ele(NS.mets, 'mets:fptr', { FILEID: fileId });
  for (const [name, sub] of folder.folders) addFolder(div.ele(NS.mets, 'mets:div', { TYPE: 'folder', LABEL: name }), sub);
}
