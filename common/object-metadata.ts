// The object.json that sits beside an object's files in the source. Shared by the
// source (which validates it), the SIP builder (Dublin Core in METS) and the ledger.
import { z } from 'zod';

// Characters XML 1.0 cannot carry, even escaped: C0 controls but tab, CR and LF; lone
// surrogates; U+FFFE and U+FFFF. Every text here ends up in the METS, so none may hold them.
const NON_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** The first character of `text` that XML 1.0 cannot carry, as U+XXXX, or undefined. */
export function firstNonXmlChar(text: string): string | undefined {
  const m = NON_XML_CHAR.exec(text);
  return m ? `U+${m[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}` : undefined;
}

/** A string the METS can carry: refused, naming the character, when XML 1.0 cannot. */
const text = () =>
  z.string().superRefine((s, ctx) => {
    const bad = firstNonXmlChar(s);
    if (bad) ctx.addIssue({ code: 'custom', message: `contains ${bad}, a character XML 1.0 (the METS) cannot carry` });
  });

const isoDate = text().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO 8601 date or date-time' });

export const objectIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may contain only letters, digits, ".", "_" and "-", and must start with a letter or digit');

export const objectMetadataSchema = z.object({
  id: objectIdSchema,
  title: text().min(1),
  creators: z.array(text().min(1)).default([]),
  /** Dates of the work itself (dc:date), free-form but usually ISO years or dates. */
  dates: z.array(text().min(1)).default([]),
  /** When the source last changed this object; enqueue re-takes objects modified since their last preservation. */
  modifiedAt: isoDate,
  rights: text().min(1).optional(),
  description: text().optional(),
  subjects: z.array(text()).default([]),
  type: text().optional(),
  language: text().optional(),
  publisher: text().optional(),
  identifiers: z.array(text()).default([]),
});

export type ObjectMetadata = z.infer<typeof objectMetadataSchema>;

/** One payload file of an object, as listed by the source. `path` is relative, with '/' separators. */
export interface SourceFile {
  path: string;
  size: number;
}
