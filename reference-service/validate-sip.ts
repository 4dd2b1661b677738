// What the reference service checks in a SIP, the way a national service does: a complete
// BagIt bag whose every checksum matches, a schema-valid METS with the required fields, and
// only accepted file formats. Streams the tar once; only tag files and the METS are kept.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { extract } from 'tar-stream';
import { metsSchemaErrors } from './mets-schema';

const ALGORITHMS = ['md5', 'sha1', 'sha256', 'sha512'] as const;
type Alg = (typeof ALGORITHMS)[number];
/** Tag files and the METS are read into memory; anything bigger is not a tag file. */
const MAX_KEPT_BYTES = 64 * 1024 * 1024;
/** Where custody puts the METS, then where other builders do. */
const METS_CANDIDATES = ['data/mets.xml', 'mets.xml'];

export const DEFAULT_ACCEPTED_FORMATS = ['image/jpeg', 'image/png', 'image/tiff', 'application/pdf', 'text/plain', 'text/csv', 'application/xml', 'text/xml'];

/** The checks in the order the service runs them; each becomes one event of the ingest report. */
export const CHECKS = ['unpacking', 'fixity', 'mets-schema', 'mets-features', 'formats'] as const;
export type CheckName = (typeof CHECKS)[number];

export interface CheckResult {
  check: CheckName;
  /** Why the check failed; empty when it passed. */
  reasons: string[];
  /** True when an earlier failure left nothing to check. */
  skipped?: boolean;
}

interface Member {
  size: number;
  digests: Record<Alg, string>;
  kept?: Buffer;
}

async function readMembers(tarPath: string): Promise<{ tops: Set<string>; members: Map<string, Member> }> {
  const tops = new Set<string>();
  const members = new Map<string, Member>();
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    // `tar -C bag .` writes a leading "./" entry: it is no top-level folder of its own.
    const [top, ...rest] = header.name
      .replace(/^\.(\/|$)/, '')
      .replace(/\/$/, '')
      .split('/');
    if (top) tops.add(top);
    if (header.type !== 'file' || rest.length === 0) {
      stream.resume();
      stream.on('end', next);
      return;
    }
    const name = rest.join('/');
    const hashes = ALGORITHMS.map((a) => crypto.createHash(a));
    const keep = (!name.startsWith('data/') || METS_CANDIDATES.includes(name)) && (header.size ?? 0) <= MAX_KEPT_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (data: unknown) => {
      const c = data as Buffer;
      size += c.length;
      for (const h of hashes) h.update(c);
      if (keep) chunks.push(c);
    });
    stream.on('end', () => {
      const digests = Object.fromEntries(ALGORITHMS.map((a, i) => [a, hashes[i].digest('hex')])) as Record<Alg, string>;
      members.set(name, { size, digests, kept: keep ? Buffer.concat(chunks) : undefined });
      next();
    });
  });
  await new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
    const input = fs.createReadStream(tarPath);
    input.on('error', reject);
    input.pipe(ex);
  });
  return { tops, members };
}

/** BagIt manifest lines: `<checksum> <path>`, the path percent-encoding only CR, LF and %. */
function parseManifest(text: string): Array<{ sum: string; file: string }> {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l) => {
      const m = /^(\S+)\s+(.+)$/.exec(l);
      const file = (m?.[2] ?? '').replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
      return { sum: (m?.[1] ?? '').toLowerCase(), file };
    });
}

function checkBag(members: Map<string, Member>): string[] {
  const reasons: string[] = [];
  const payload = [...members.keys()].filter((n) => n.startsWith('data/'));
  const manifests = [...members.keys()].filter((n) => /^manifest-[a-z0-9]+\.txt$/.test(n));
  const bagit = members.get('bagit.txt')?.kept?.toString('utf8');
  if (bagit === undefined) reasons.push('bagit.txt is missing: the SIP is not a BagIt bag');
  else if (!/^BagIt-Version:\s*\d+\.\d+\s*$/m.test(bagit)) reasons.push('bagit.txt has no BagIt-Version');
  if (!members.has('bag-info.txt')) reasons.push('bag-info.txt is missing');
  if (manifests.length === 0) reasons.push('no payload manifest (manifest-<algorithm>.txt) in the bag');
  for (const name of [...manifests, ...[...members.keys()].filter((n) => /^tagmanifest-[a-z0-9]+\.txt$/.test(n))]) {
    const alg = /-([a-z0-9]+)\.txt$/.exec(name)![1] as Alg;
    if (!ALGORITHMS.includes(alg)) {
      reasons.push(`${name}: unsupported checksum algorithm ${alg}`);
      continue;
    }
    const lines = parseManifest(members.get(name)!.kept?.toString('utf8') ?? '');
    const listed = new Set(lines.map((l) => l.file));
    for (const { sum, file } of lines) {
      const m = members.get(file);
      if (!m) reasons.push(`${name}: lists ${file}, which is not in the bag`);
      else if (m.digests[alg] !== sum) reasons.push(`${name}: checksum mismatch for ${file}`);
    }
    if (name.startsWith('manifest-')) for (const f of payload) if (!listed.has(f)) reasons.push(`${name}: payload file ${f} is not listed`);
  }
  const info = members.get('bag-info.txt')?.kept?.toString('utf8') ?? '';
  const oxum = /^Payload-Oxum:\s*(\d+)\.(\d+)\s*$/m.exec(info);
  const bytes = payload.reduce((n, f) => n + members.get(f)!.size, 0);
  if (!oxum) reasons.push('bag-info.txt has no Payload-Oxum');
  else if (Number(oxum[1]) !== bytes || Number(oxum[2]) !== payload.length)
    reasons.push(`bag-info.txt: Payload-Oxum ${oxum[1]}.${oxum[2]} does not match the payload (${bytes}.${payload.length})`);
  return reasons;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
type Node = Record<string, unknown>;
const text = (v: unknown): string => String(v !== null && typeof v === 'object' ? ((v as Node)['#text'] ?? '') : (v ?? '')).trim();

interface MetsFile {
  mimeType: string;
  /** PREMIS fixity and format of the objects the file's ADMID points at (or of every object when it points at none). */
  digests: Set<string>;
  formatNames: string[];
}

interface MetsSummary {
  objId: string;
  titles: string[];
  filesByPath: Map<string, MetsFile>;
}

function readMets(mets: Buffer): MetsSummary | string {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', removeNSPrefix: true }).parse(mets.toString('utf8')) as Node;
  const root = doc.mets as Node | undefined;
  if (!root) return 'has no mets root element';
  const titles = asArray(root.dmdSec as Node | Node[])
    .flatMap((d) => asArray((((d.mdWrap as Node)?.xmlData as Node) ?? {}).title as unknown))
    .map(text)
    .filter(Boolean);

  const premisById = new Map<string, { digests: string[]; formatNames: string[] }>();
  for (const amd of asArray(root.amdSec as Node | Node[])) {
    for (const tech of asArray(amd.techMD as Node | Node[])) {
      const object = ((tech.mdWrap as Node)?.xmlData as Node)?.object as Node | undefined;
      const chars = asArray(object?.objectCharacteristics as Node | Node[]);
      premisById.set(String(tech['@ID'] ?? ''), {
        digests: chars.flatMap((c) => asArray(c.fixity as Node | Node[])).map((f) => text(f.messageDigest).toLowerCase()),
        formatNames: chars.flatMap((c) => asArray(((c.format as Node)?.formatDesignation as Node)?.formatName as unknown)).map(text),
      });
    }
  }
  const everyObject = [...premisById.values()];
  const filesByPath = new Map<string, MetsFile>();
  const visit = (f: Node) => {
    const linked = String(f['@ADMID'] ?? '')
      .split(/\s+/)
      .map((id) => premisById.get(id))
      .filter((p) => p !== undefined);
    const objects = linked.length ? linked : everyObject;
    const href = String((f.FLocat as Node)?.['@href'] ?? '').replace(/^file:\/\//, '');
    const entry: MetsFile = {
      mimeType: String(f['@MIMETYPE'] ?? ''),
      digests: new Set(objects.flatMap((o) => o.digests)),
      formatNames: objects.flatMap((o) => o.formatNames),
    };
    filesByPath.set(safeDecode(href).replace(/^\.?\//, ''), entry);
    for (const sub of asArray(f.file as Node | Node[])) visit(sub);
  };
  for (const grp of asArray((root.fileSec as Node)?.fileGrp as Node | Node[])) for (const f of asArray(grp.file as Node | Node[])) visit(f);
  return { objId: String(root['@OBJID'] ?? '').trim(), titles, filesByPath };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Payload files the METS must describe: every file in data/ but the METS itself. */
function describedPayload(members: Map<string, Member>, metsPath: string): Array<[string, Member]> {
  return [...members].filter(([name]) => name.startsWith('data/') && name !== metsPath);
}

/** The METS href of a payload file: relative to the METS's own folder. */
function hrefOf(name: string, metsPath: string): string {
  return metsPath.startsWith('data/') ? name.slice('data/'.length) : name;
}

function checkMetsFeatures(mets: MetsSummary, members: Map<string, Member>, metsPath: string): string[] {
  const reasons: string[] = [];
  if (!mets.objId) reasons.push(`${metsPath}: the mets element has no OBJID`);
  if (mets.titles.length === 0) reasons.push(`${metsPath}: no dc:title in a dmdSec`);
  for (const [name, member] of describedPayload(members, metsPath)) {
    const file = mets.filesByPath.get(hrefOf(name, metsPath));
    if (!file) reasons.push(`${metsPath}: file ${name} is not described in the fileSec`);
    else if (!(['md5', 'sha1', 'sha256', 'sha512'] as const).some((a) => file.digests.has(member.digests[a])))
      reasons.push(`${metsPath}: no PREMIS object with a matching fixity for file ${name}`);
  }
  return reasons;
}

function checkFormats(mets: MetsSummary, members: Map<string, Member>, metsPath: string, accepted: string[]): string[] {
  const reasons: string[] = [];
  for (const [name] of describedPayload(members, metsPath)) {
    const file = mets.filesByPath.get(hrefOf(name, metsPath));
    if (!file) continue; // already a reason of the METS check
    // PREMIS formatName is free text ('JPEG'); only a MIME-type-like one is judged beside METS MIMETYPE.
    const formats = [...new Set([file.mimeType, ...file.formatNames.filter((n) => /^[a-z]+\/[\w.+-]+/i.test(n))].filter(Boolean))];
    if (formats.length === 0) reasons.push(`file ${name}: no format given (METS MIMETYPE or PREMIS formatName)`);
    for (const f of formats)
      if (!accepted.includes(f.split(';')[0].trim().toLowerCase())) reasons.push(`file ${name}: format ${f} is not on the accepted list`);
  }
  return reasons;
}

/** Runs every check that can run; a check whose input an earlier failure spoilt is skipped. */
export async function validateSip(tarPath: string, accepted: string[] = DEFAULT_ACCEPTED_FORMATS): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const skipRest = () => {
    for (const check of CHECKS) if (!results.some((r) => r.check === check)) results.push({ check, reasons: [], skipped: true });
    return results;
  };
  let read: Awaited<ReturnType<typeof readMembers>>;
  try {
    read = await readMembers(tarPath);
  } catch (e) {
    results.push({ check: 'unpacking', reasons: [`the transfer is not a readable tar file: ${(e as Error).message}`] });
    return skipRest();
  }
  const { tops, members } = read;
  if (tops.size !== 1) {
    results.push({ check: 'unpacking', reasons: [`the tar must hold one top-level folder; it holds ${tops.size} (${[...tops].slice(0, 5).join(', ')})`] });
    return skipRest();
  }
  results.push({ check: 'unpacking', reasons: [] });
  results.push({ check: 'fixity', reasons: checkBag(members) });

  const metsPath = METS_CANDIDATES.find((p) => members.get(p)?.kept);
  if (!metsPath) {
    results.push({ check: 'mets-schema', reasons: [`no METS document: looked for ${METS_CANDIDATES.join(' and ')} in the bag`] });
    return skipRest();
  }
  const metsBytes = members.get(metsPath)!.kept!;
  const schema = (await metsSchemaErrors(metsBytes)).map((e) => `${metsPath} is not valid against METS 1.12.1/PREMIS 2.3/DC: ${e}`);
  results.push({ check: 'mets-schema', reasons: schema });
  if (schema.length) return skipRest();
  const mets = readMets(metsBytes);
  if (typeof mets === 'string') {
    results.push({ check: 'mets-features', reasons: [`${metsPath} ${mets}`] });
    return skipRest();
  }
  results.push({ check: 'mets-features', reasons: checkMetsFeatures(mets, members, metsPath) });
  results.push({ check: 'formats', reasons: checkFormats(mets, members, metsPath, accepted) });
  return results;
}

/** Every reason of every check, in check order. */
export const reasonsOf = (results: CheckResult[]): string[] => results.flatMap((r) => r.reasons);
