// Reads a SIP tar as a user would check it: each member's bytes, the manifests, the METS.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { extract } from 'tar-stream';

export interface TarMember {
  name: string;
  data: Buffer;
}

/** Small test SIPs only: members are collected in memory. */
/** The files in a tar, from a file path or from its bytes. */
export async function readTar(tar: string | Buffer): Promise<TarMember[]> {
  const members: TarMember[] = [];
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') members.push({ name: header.name, data: Buffer.concat(chunks) });
      next();
    });
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  if (typeof tar === 'string') fs.createReadStream(tar).pipe(ex);
  else ex.end(tar);
  await done;
  return members;
}

export const digest = (alg: string, data: Buffer) => crypto.createHash(alg).update(data).digest('hex');

/** Parses a BagIt manifest into path → checksum. */
export function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const i = line.indexOf(' ');
    out.set(line.slice(i + 1).trim(), line.slice(0, i));
  }
  return out;
}
