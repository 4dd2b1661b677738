// Storage locations as configured: a plain path or file://… is a folder, s3://bucket/prefix is S3.
// Kept apart from the clients so that config validation needs no SDK.
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export class StorageUrlError extends Error {}

/** Parses a storage location; throws StorageUrlError naming the location and the problem. */
export function parseStorageUrl(location: string): { kind: 'file'; path: string } | { kind: 's3'; bucket: string; prefix: string } {
  if (location.startsWith('s3://')) {
    const m = /^s3:\/\/([^/?#]+)\/?([^?#]*)$/.exec(location);
    if (!m) throw new StorageUrlError(`storage location "${location}" is not of the form s3://bucket/prefix`);
    const [, bucket, prefix] = m;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new StorageUrlError(`storage location "${location}": "${bucket}" is not a valid bucket name (3-63 lower-case letters, digits, dots, hyphens)`);
    if (prefix.split('/').some((s, i, all) => (s === '' && i < all.length - 1) || s === '.' || s === '..'))
      throw new StorageUrlError(`storage location "${location}": the prefix has an empty, "." or ".." segment`);
    return { kind: 's3', bucket, prefix: prefix.replace(/\/$/, '') };
  }
  if (location.startsWith('file:')) {
    try {
      return { kind: 'file', path: fileURLToPath(location) };
    } catch (e) {
      throw new StorageUrlError(`storage location "${location}" is not a valid file URL: ${(e as Error).message}`);
    }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new StorageUrlError(`storage location "${location}": only file:// and s3:// are supported`);
  if (location === '') throw new StorageUrlError('storage location is empty');
  return { kind: 'file', path: location };
}

/** A configured location, checked so that a typo stops start-up with the setting named. */
export const storageLocation = z.string().superRefine((value, ctx) => {
  try {
    parseStorageUrl(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});
