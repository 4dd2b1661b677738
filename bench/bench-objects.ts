// The benchmarks' input objects: N MiB of random bytes in 8 files under .data/bench/, generated
// once and reused by every later run.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const BENCH = path.resolve(__dirname, '..', '.data', 'bench');
const MiB = 1024 * 1024;

export function ensureObject(sizeMiB: number): string {
  const dir = path.join(BENCH, `object-${sizeMiB}MiB`);
  const fileSize = (sizeMiB / 8) * MiB;
  const names = Array.from({ length: 8 }, (_, i) => `file-${i + 1}.bin`);
  if (names.every((n) => fs.statSync(path.join(dir, n), { throwIfNoEntry: false })?.size === fileSize)) return dir;
  console.log(`generating ${sizeMiB} MiB of random data in ${dir} (once)…`);
  fs.mkdirSync(dir, { recursive: true });
  const chunk = Buffer.allocUnsafe(4 * MiB);
  for (const n of names) {
    const fd = fs.openSync(path.join(dir, n), 'w');
    for (let done = 0; done < fileSize; done += chunk.length) fs.writeSync(fd, crypto.randomFillSync(chunk), 0, Math.min(chunk.length, fileSize - done));
    fs.closeSync(fd);
  }
  return dir;
}
