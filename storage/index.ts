// Opens a storage by its URL: a plain path or file://… is a folder, s3://bucket/prefix is S3.
import { parseStorageUrl } from '../config/storage-location';
import { FileStorage } from './file-storage';
import { S3Storage, s3Client, type S3Options } from './s3-storage';
import type { Storage } from './storage';

export { ChecksumMismatch, compareKeys, joinKey, type Storage, type StoredObject } from './storage';
export { FileStorage } from './file-storage';
export type { S3Options } from './s3-storage';
export { sha256OfFile } from './digest';
export { parseStorageUrl, storageLocation } from '../config/storage-location';

export function openStorage(location: string, s3: S3Options): Storage {
  const parsed = parseStorageUrl(location);
  if (parsed.kind === 'file') return new FileStorage(parsed.path);
  return new S3Storage(s3Client(s3), parsed.bucket, parsed.prefix, s3.partSize);
}
