// Payload paths come from the source's listing, which custody does not control: a path that
// escapes the object's folder would copy some other file on this machine into a SIP that leaves
// the building. Every path is checked by its text and then by where it really resolves.
import fs from 'node:fs/promises';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';

const unsafe = (filePath: string, why: string) =>
  ApplicationFailure.nonRetryable(`unsafe payload path ${JSON.stringify(filePath)}: ${why}`, 'UnsafePath');

/** Rejects a listed path by its text alone: absolute, `..`, empty or `.` segments, backslashes, NUL. */
export function checkPathText(filePath: string): void {
  if (filePath.length === 0) throw unsafe(filePath, 'it is empty');
  if (filePath.includes('\0')) throw unsafe(filePath, 'it contains a NUL character');
  if (filePath.startsWith('/') || path.isAbsolute(filePath) || /^[A-Za-z]:/.test(filePath)) throw unsafe(filePath, 'it is absolute');
  if (filePath.includes('\\')) throw unsafe(filePath, "it contains '\\' (paths use '/' separators)");
  const segments = filePath.split('/');
  if (segments.includes('..')) throw unsafe(filePath, "it contains '..'");
  if (segments.some((s) => s === '' || s === '.')) throw unsafe(filePath, "it has an empty or '.' segment");
}

/**
 * Resolves a listed path inside sourceDir through every symlink and returns the real path of a
 * regular file inside the real sourceDir, or throws UnsafePath.
 */
export async function resolvePayloadFile(realSourceDir: string, filePath: string): Promise<string> {
  checkPathText(filePath);
  let real: string;
  try {
    real = await fs.realpath(path.join(realSourceDir, ...filePath.split('/')));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(`payload file ${JSON.stringify(filePath)} is listed but missing (or a dangling symlink) in ${realSourceDir}`);
    }
    throw e;
  }
  if (!real.startsWith(realSourceDir + path.sep)) throw unsafe(filePath, `it resolves to ${real}, outside ${realSourceDir}`);
  const stat = await fs.stat(real);
  if (!stat.isFile()) throw unsafe(filePath, 'it is not a regular file');
  return real;
}
