// Schema validation of a SIP's METS (METS 1.12.1 with PREMIS 2.3 and Dublin Core inside) by
// libxml2 compiled to WebAssembly: no system xmllint, no network. The standard XSDs are
// vendored under schemas/; their imports of each other by URL are pointed at the local copies
// in memory, so the files stay exactly as published.
import fs from 'node:fs';
import path from 'node:path';
import { memoryPages, validateXML, type XMLFileInfo } from 'xmllint-wasm';

const SCHEMAS = path.join(__dirname, 'schemas');
/** Schema URLs the vendored XSDs import, and the local copy of each. */
const LOCAL_COPIES: Record<string, string> = {
  'http://www.loc.gov/standards/xlink/xlink.xsd': 'xlink.xsd',
  'http://www.w3.org/2001/03/xml.xsd': 'xml.xsd',
};
const IMPORTED = ['mets-1-12-1.xsd', 'premis-v2-3.xsd', 'dc.xsd', 'xlink.xsd', 'xml.xsd'];
/** Imports the three vocabularies so PREMIS and DC in mdWrap are checked, not only METS's lax wrapper. */
const ENTRY = 'sip-mets.xsd';
/** A METS of many thousand files runs to tens of MB; libxml2's tree is several times that. */
const MAX_MEMORY = 1024 * memoryPages.MiB;
const MAX_REASONS = 5;

let schemas: { entry: XMLFileInfo; preload: XMLFileInfo[] } | undefined;

function loadSchemas(): NonNullable<typeof schemas> {
  const read = (name: string) => {
    let xsd = fs.readFileSync(path.join(SCHEMAS, name), 'utf8');
    for (const [url, local] of Object.entries(LOCAL_COPIES)) xsd = xsd.split(`schemaLocation="${url}"`).join(`schemaLocation="${local}"`);
    return { fileName: name, contents: xsd };
  };
  return { entry: read(ENTRY), preload: IMPORTED.map(read) };
}

/** Schema errors of the METS document ("line N: message"), at most a few; empty when it is valid. */
export async function metsSchemaErrors(mets: Buffer): Promise<string[]> {
  schemas ??= loadSchemas();
  const input = { fileName: 'mets.xml', contents: new Uint8Array(mets.buffer, mets.byteOffset, mets.length) };
  try {
    const result = await validateXML({ xml: input, schema: schemas.entry, preload: schemas.preload, maxMemoryPages: MAX_MEMORY });
    return result.errors
      .filter((e) => !e.rawMessage.includes('Skipping import'))
      .slice(0, MAX_REASONS)
      .map((e) => (e.loc ? `line ${e.loc.lineNumber}: ${e.message}` : e.message));
  } catch (e) {
    // xmllint's exit code 1 is a document that is not well-formed XML: its parser errors are the reasons.
    const err = e as Error & { code?: number };
    if (err.code !== 1) throw e;
    return err.message
      .split('\n')
      .filter((l) => l.includes('parser error'))
      .slice(0, MAX_REASONS)
      .map((l) => l.replace(/^mets\.xml:(\d+): parser error : /, 'line $1: not well-formed XML: '));
  }
}
