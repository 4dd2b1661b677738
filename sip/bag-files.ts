// The BagIt tag files (RFC 8493): bagit.txt, bag-info.txt and the (tag)manifests.

export const BAGIT_TXT = Buffer.from('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n', 'utf8');

/** RFC 8493 §2.1.3: CR, LF and % in a manifest's file path are percent-encoded. */
export function encodeManifestPath(p: string): string {
  return p.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Manifest lines `<checksum> <path>`, sorted by path so the bytes do not depend on input order. */
export function manifest(entries: Array<{ path: string; checksum: string }>): Buffer {
  const lines = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((e) => `${e.checksum} ${encodeManifestPath(e.path)}\n`);
  return Buffer.from(lines.join(''), 'utf8');
}

export interface BagInfo {
  sourceOrganization: string;
  externalIdentifier: string;
  externalDescription?: string;
  internalSenderIdentifier: string;
  baggingDate: Date;
  payloadBytes: number;
  payloadFiles: number;
  softwareAgent: string;
}

/** bag-info.txt; a value never spans lines (a newline in a title would start a bogus label). */
export function bagInfo(info: BagInfo): Buffer {
  const oneLine = (v: string) => v.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  const fields: Array<[string, string | undefined]> = [
    ['Source-Organization', info.sourceOrganization],
    ['External-Identifier', info.externalIdentifier],
    ['External-Description', info.externalDescription],
    ['Internal-Sender-Identifier', info.internalSenderIdentifier],
    ['Bagging-Date', info.baggingDate.toISOString().slice(0, 10)],
    ['Bag-Software-Agent', info.softwareAgent],
    ['Bag-Size', humanSize(info.payloadBytes)],
    ['Payload-Oxum', `${info.payloadBytes}.${info.payloadFiles}`],
  ];
  const text = fields
    .filter((f): f is [string, string] => f[1] !== undefined && oneLine(f[1]) !== '')
    .map(([label, value]) => `${label}: ${oneLine(value)}\n`)
    .join('');
  return Buffer.from(text, 'utf8');
}

function humanSize(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}
