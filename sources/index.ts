import { openStorage, parseStorageUrl, type S3Options } from '../storage';
import { folderSource } from './folder-source';
import type { ObjectSource } from './object-source';
import { storageSource } from './storage-source';

export * from './object-source';
export { folderSource } from './folder-source';
export { storageSource } from './storage-source';

/**
 * The source at a location: a folder gets the folder source, which also follows symlinks and
 * refuses those that leave an object's folder; anything else is read through its storage.
 */
export function openSource(location: string, s3: S3Options): ObjectSource {
  const parsed = parseStorageUrl(location);
  return parsed.kind === 'file' ? folderSource(parsed.path) : storageSource(openStorage(location, s3));
}
