// object.json, the metadata beside each object's files, whatever the source keeps them in.
import { objectMetadataSchema, type ObjectMetadata } from '../common/object-metadata';

export const METADATA_FILE = 'object.json';
// object.json is read whole; anything this large is not metadata.
export const MAX_METADATA_BYTES = 1024 * 1024;

/** Parses object.json text; returns the metadata or a message listing every problem with its path. */
export function parseMetadata(text: string, folderName: string): ObjectMetadata | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return `${METADATA_FILE} is not valid JSON: ${(e as Error).message}`;
  }
  const parsed = objectMetadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    return `${METADATA_FILE} is invalid: ${issues.join('; ')}`;
  }
  if (parsed.data.id !== folderName) {
    return `${METADATA_FILE} has id "${parsed.data.id}" but its folder is named "${folderName}"`;
  }
  return parsed.data;
}
