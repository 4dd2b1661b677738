// The chaos run's collection: copies of the sample objects in examples/collection under new ids,
// each with a text file of a random size beside its own files, so sizes are mixed. A share carry
// a file of a format custody does not package (frozen before packaging), and every copy of
// mus-0007 holds the animated GIF the reference service rejects.
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../../config/config';
import type { Random } from './random';

export type Expected = 'confirmed' | 'rejected' | 'frozen';

export interface ChaosObject {
  id: string;
  expected: Expected;
  /** What a frozen object's reason must start with. */
  reason?: string;
  bytes: number;
  /** What the harness did to it, for the report of an item that ended otherwise. */
  note?: string;
}

const TEMPLATES = fs.readdirSync(path.join(REPO_ROOT, 'examples', 'collection')).sort();
const REJECTED = new Set(['mus-0007']);
/** A WordPerfect file: no sniffable signature, so custody sees application/octet-stream. */
const UNSUPPORTED = { name: 'legacy-catalogue.wpd', bytes: Buffer.from('\xffWPC legacy catalogue entry\n', 'latin1') };

export function writeChaosCollection(dir: string, count: number, random: Random, maxExtraBytes: number): ChaosObject[] {
  const objects: ChaosObject[] = [];
  for (let i = 1; i <= count; i++) {
    const id = `chaos-${String(i).padStart(4, '0')}`;
    const template = TEMPLATES[random.int(TEMPLATES.length)]!;
    const target = path.join(dir, id);
    fs.cpSync(path.join(REPO_ROOT, 'examples', 'collection', template), target, { recursive: true });
    const metaFile = path.join(target, 'object.json');
    fs.writeFileSync(metaFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(metaFile, 'utf8')), id }));
    // Mostly small, now and then large: the size decides how long a kill or an outage has to land.
    const extra = random.next() < 0.1 ? maxExtraBytes : 1 + random.int(Math.max(1, Math.floor(maxExtraBytes / 50)));
    fs.writeFileSync(path.join(target, 'notes.txt'), `${id} `.repeat(Math.ceil(extra / (id.length + 1))).slice(0, extra));
    let expected: Expected = REJECTED.has(template) ? 'rejected' : 'confirmed';
    let reason: string | undefined;
    if (random.next() < 0.08) {
      fs.writeFileSync(path.join(target, UNSUPPORTED.name), UNSUPPORTED.bytes);
      expected = 'frozen';
      reason = 'UnsupportedFormat';
    }
    let bytes = 0;
    for (const rel of fs.readdirSync(target, { recursive: true, encoding: 'utf8' })) bytes += fs.statSync(path.join(target, rel)).size;
    objects.push({ id, expected, reason, bytes });
  }
  return objects;
}
