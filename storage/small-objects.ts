// Small records (JSON between stages, XML reports) kept in a storage beside the big files.
import crypto from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Storage } from './storage';

export async function putBytes(storage: Storage, key: string, bytes: Buffer): Promise<void> {
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  await storage.put(key, () => Readable.from([bytes]), { size: bytes.length, sha256 });
}

export async function putJson(storage: Storage, key: string, value: unknown): Promise<void> {
  await putBytes(storage, key, Buffer.from(JSON.stringify(value, null, 2)));
}

/** The parsed JSON at `key`, or undefined when there is none. */
export async function getJson<T>(storage: Storage, key: string): Promise<T | undefined> {
  if (!(await storage.head(key))) return undefined;
  return JSON.parse((await buffer(await storage.read(key))).toString('utf8')) as T;
}
