// The object.json that sits beside an object's files in the source. Shared by the
// source (which validates it), the SIP builder (Dublin Core in METS) and the ledger.
import { z } from 'zod';

const isoDate = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)), { message: 'must be an ISO 8601 date or date-time' });

export const objectIdSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'may contain only letters, digits, ".", "_" and "-", and must start with a letter or digit');

export const objectMetadataSchema = z.object({
  id: objectIdSchema,
  title: z.string().min(1),
  creators: z.array(z.string().min(1)).default([]),
  /** Dates of the work itself (dc:date), free-form but usually ISO years or dates. */
  dates: z.array(z.string().min(1)).default([]),
  /** When the source last changed this object; enqueue re-takes objects modified since their last preservation. */
  modifiedAt: isoDate,
  rights: z.string().min(1).optional(),
  description: z.string().optional(),
  subjects: z.array(z.string()).default([]),
  type: z.string().optional(),
  language: z.string().optional(),
  publisher: z.string().optional(),
  identifiers: z.array(z.string()).default([]),
});

export type ObjectMetadata = z.infer<typeof objectMetadataSchema>;

/** One payload file of an object, as listed by the source. `path` is relative, with '/' separators. */
export interface SourceFile {
  path: string;
  size: number;
}
