// A small element tree over fast-xml-parser's ordered output. JATS is mixed content (a title
// can hold <italic>, an author's contrib holds prose between elements), so document order and
// the text between elements must survive parsing; the ordered output keeps both, and this
// turns it into something a checker can walk.
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface XmlElement {
  name: string;
  attrs: ReadonlyMap<string, string>;
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

export class XmlMalformed extends Error {
  override readonly name = 'XmlMalformed';
  constructor(
    readonly file: string,
    readonly detail: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}${column !== undefined ? `:${column}` : ''}` : ''}: not well-formed XML: ${detail}`);
  }
}

// fast-xml-parser does no I/O: a DOCTYPE's external DTD is never fetched, and an external
// entity declaration is an error. Internal entities are expanded within these bounds (the
// parser ignores entities that refer to other entities, so growth is linear, not a billion laughs).
const ENTITY_LIMITS = { enabled: true, maxEntitySize: 10_000, maxEntityCount: 1_000, maxTotalExpansions: 1_000_000, maxExpandedLength: 10_000_000 };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: ENTITY_LIMITS,
  // JATS DTDs declare the HTML/ISO character entities (&nbsp;, &ndash;…), and numeric
  // references are only decoded with this on.
  htmlEntities: true,
  // Deep but legitimate nesting (lists in tables in boxed text in sub-articles).
  maxNestedTags: 500,
});

/** Parses a whole document; throws XmlMalformed with the line and column where it can. */
export function parseXml(text: string, file: string): XmlElement {
  const verdict = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (verdict !== true) throw new XmlMalformed(file, verdict.err.msg, verdict.err.line, verdict.err.col);
  let ordered: unknown;
  try {
    ordered = parser.parse(text);
  } catch (err) {
    throw new XmlMalformed(file, (err as Error).message);
  }
  const roots = toNodes(ordered).filter((node): node is XmlElement => typeof node !== 'string');
  if (roots.length !== 1) throw new XmlMalformed(file, `expected one root element, found ${roots.length}`);
  return roots[0];
}

function toNodes(ordered: unknown): XmlNode[] {
  if (!Array.isArray(ordered)) return [];
  const nodes: XmlNode[] = [];
  for (const item of ordered as Record<string, unknown>[]) {
    for (const [key, value] of Object.entries(item)) {
      if (key === ':@') continue;
      if (key === '#text') nodes.push(String(value));
      else if (!key.startsWith('?') && !key.startsWith('!')) {
        const attrs = new Map<string, string>();
        const raw = item[':@'];
        if (raw && typeof raw === 'object') for (const [name, v] of Object.entries(raw)) attrs.set(name, String(v));
        nodes.push({ name: key, attrs, children: toNodes(value) });
      }
    }
  }
  return nodes;
}

export function childElements(element: XmlElement, name?: string): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== 'string' && (name === undefined || c.name === name));
}

export function firstChild(element: XmlElement | undefined, name: string): XmlElement | undefined {
  return element ? childElements(element, name)[0] : undefined;
}

/** Every descendant element named `name`, in document order, not descending into `stopAt` elements. */
export function descendants(element: XmlElement, name: string, stopAt: readonly string[] = []): XmlElement[] {
  const found: XmlElement[] = [];
  const walk = (e: XmlElement) => {
    for (const child of childElements(e)) {
      if (child.name === name) found.push(child);
      if (!stopAt.includes(child.name)) walk(child);
    }
  };
  walk(element);
  return found;
}

/** The element's text with whitespace collapsed, leaving out the elements named in `skip`. */
export function textOf(element: XmlElement | undefined, skip: readonly string[] = []): string {
  if (!element) return '';
  const parts: string[] = [];
  const walk = (e: XmlElement) => {
    for (const child of e.children) {
      if (typeof child === 'string') parts.push(child);
      else if (!skip.includes(child.name)) walk(child);
    }
  };
  walk(element);
  return parts.join('').replace(/\s+/g, ' ').trim();
}
