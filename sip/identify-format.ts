// File format identification from a file's first bytes (its magic number). Text has no magic
// number, so for bytes that look like text the extension decides between the text formats.
// The builder passes the first chunk it already read for copying: no file is read twice.

export interface FileFormat {
  mimeType: string;
  /** Name of the format as PREMIS formatName carries it. */
  formatName: string;
}

/** How many leading bytes identification looks at. */
export const IDENTIFY_SAMPLE_BYTES = 8192;

const OCTET_STREAM: FileFormat = { mimeType: 'application/octet-stream', formatName: 'Unknown binary' };

const startsWith = (b: Uint8Array, sig: number[], at = 0) => b.length >= at + sig.length && sig.every((x, i) => b[at + i] === x);
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

const MAGIC: Array<{ test: (b: Uint8Array) => boolean; format: FileFormat }> = [
  { test: (b) => startsWith(b, [0xff, 0xd8, 0xff]), format: { mimeType: 'image/jpeg', formatName: 'JPEG' } },
  { test: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), format: { mimeType: 'image/png', formatName: 'PNG' } },
  {
    test: (b) => startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]),
    format: { mimeType: 'image/tiff', formatName: 'TIFF' },
  },
  { test: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')), format: { mimeType: 'image/gif', formatName: 'GIF' } },
  { test: (b) => startsWith(b, ascii('%PDF-')), format: { mimeType: 'application/pdf', formatName: 'PDF' } },
  {
    test: (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WAVE'), 8),
    format: { mimeType: 'audio/wav', formatName: 'WAVE' },
  },
  {
    // Local file header, or the end-of-central-directory record of an empty archive.
    test: (b) => startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06]),
    format: { mimeType: 'application/zip', formatName: 'ZIP' },
  },
];

const TEXT_BY_EXTENSION: Record<string, FileFormat> = {
  csv: { mimeType: 'text/csv', formatName: 'CSV' },
  xml: { mimeType: 'application/xml', formatName: 'XML' },
  json: { mimeType: 'application/json', formatName: 'JSON' },
  html: { mimeType: 'text/html', formatName: 'HTML' },
  htm: { mimeType: 'text/html', formatName: 'HTML' },
};
const PLAIN_TEXT: FileFormat = { mimeType: 'text/plain', formatName: 'Plain text' };
const XML = TEXT_BY_EXTENSION.xml;

/**
 * Identifies a file's format from its first bytes (pass at least IDENTIFY_SAMPLE_BYTES, or the
 * whole file when shorter) and its path.
 */
export function identifyFormat(head: Uint8Array, filePath: string): FileFormat {
  const sample = head.subarray(0, IDENTIFY_SAMPLE_BYTES);
  for (const { test, format } of MAGIC) if (test(sample)) return format;
  const extension = /\.([^./]+)$/.exec(filePath)?.[1]?.toLowerCase() ?? '';
  if (!looksLikeText(sample)) return OCTET_STREAM;
  const byExtension = TEXT_BY_EXTENSION[extension];
  if (byExtension) return byExtension;
  if (/^(\uFEFF)?\s*<\?xml[\s?]/.test(new TextDecoder().decode(sample.subarray(0, 256)))) return XML;
  // An empty file has no content to judge: only a text extension makes it text.
  if (sample.length === 0 && extension !== 'txt') return OCTET_STREAM;
  return PLAIN_TEXT;
}

/** UTF-8 (so ASCII too) without NUL bytes or other control characters than tab, CR, LF, FF. */
function looksLikeText(sample: Uint8Array): boolean {
  for (const b of sample) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return false;
  try {
    // stream: true tolerates a multi-byte character cut at the sample's end.
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true });
    return true;
  } catch {
    return false;
  }
}
