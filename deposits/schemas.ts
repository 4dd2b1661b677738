// The deposit API's answers as custody reads them (Zenodo's JSON shapes). Fields custody does not
// use are kept (loose objects) but not checked, so a richer answer from the real Zenodo passes.
import { z } from 'zod';

export const depositFileSchema = z.looseObject({
  /** The file's id, for DELETE /api/deposit/depositions/:id/files/:fileId. */
  id: z.string(),
  filename: z.string(),
  filesize: z.number().int().min(0),
  /** md5 as hex, without the "md5:" prefix the bucket API uses. */
  checksum: z.string(),
  links: z.record(z.string(), z.string()).optional(),
});
export type DepositFile = z.infer<typeof depositFileSchema>;

export const depositionSchema = z.looseObject({
  id: z.number().int(),
  /** The id shared by every version of one dataset (Zenodo answers it as a string). */
  conceptrecid: z.union([z.string(), z.number()]).transform(String),
  /** "unsubmitted" (a draft), "inprogress", "done" (published). */
  state: z.string(),
  submitted: z.boolean(),
  metadata: z.record(z.string(), z.unknown()),
  doi: z.string().optional(),
  record_id: z.number().int().optional(),
  created: z.string().optional(),
  modified: z.string().optional(),
  files: z.array(depositFileSchema).optional(),
  links: z.looseObject({
    self: z.string(),
    /** Where files are PUT; drafts have it. */
    bucket: z.string().optional(),
    files: z.string().optional(),
    publish: z.string().optional(),
    newversion: z.string().optional(),
    html: z.string().optional(),
    /** The concept's open draft (after newversion), or its latest version. */
    latest_draft: z.string().optional(),
  }),
});
export type Deposition = z.infer<typeof depositionSchema>;

export const bucketObjectSchema = z.looseObject({
  key: z.string(),
  size: z.number().int().min(0),
  /** "md5:<hex>" */
  checksum: z.string().regex(/^md5:[0-9a-f]{32}$/),
  mimetype: z.string().optional(),
});

export const apiErrorSchema = z.looseObject({
  status: z.number().int().optional(),
  message: z.string(),
  errors: z.array(z.looseObject({ field: z.string().optional(), message: z.string() })).optional(),
});
