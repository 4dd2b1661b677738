// Payload paths come from the source's listing, which custody does not control: a path that
// escapes the object's folder would copy some other file on this machine into a SIP that leaves
// the building. Every path is checked by its text and then by where it really resolves.
import fs from 'node:fs/promises';
import path from 'node:path';
import { PermanentError } from '../common/errors';
import { firstNonXmlChar } from '../common/object-metadata';

const unsafe = (filePath: string, why: string) => new PermanentError(`unsafe payload path ${JSON.stringify(filePath)}: ${why}`, 'UnsafePath');

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

// What a file name must be for custody to keep it faithfully on every file system and in the
// METS: a fixed rule set, the same for every source, checked before any download.

/** NAME_MAX of common file systems: bytes of UTF-8 in one file or folder name. */
export const MAX_NAME_BYTES = 255;
/** PATH_MAX (4096) less its NUL: the longest path the working folders can hold. */
export const MAX_LOCAL_PATH_BYTES = 4095;
/** The longest key S3 takes, in bytes of UTF-8. */
export const MAX_S3_KEY_BYTES = 1024;
/** Where custody puts its METS in the payload (data/mets.xml): no payload file may take that name. */
export const RESERVED_PAYLOAD_PATHS = ['mets.xml'];

const nameFailure = (message: string, type: string) => new PermanentError(message, type);

/** Bytes of a name as text a person can read: printable ASCII as is, every other byte as \xNN. */
export function escapeBytes(name: Buffer): string {
  return [...name].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/** True when the bytes are valid UTF-8 (names are read as bytes: Node would put U+FFFD in their place). */
export function isValidUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refuses, before any download, payload paths custody could not keep faithfully: an unsafe path, a name XML
 * cannot carry, a name or a path longer than the working folders hold (maxPathBytes: the room
 * left under the longest working folder), the METS's own name, and two names that are one on a
 * case-insensitive or Unicode-normalising file system. Throws a PermanentError naming the
 * file(s); its type is one of the automatic-freeze types.
 */
export function checkPayloadNames(paths: string[], maxPathBytes: number): void {
  for (const p of paths) {
    checkPathText(p);
    const bad = firstNonXmlChar(p);
    if (bad) throw nameFailure(`file ${JSON.stringify(p)}: its name contains ${bad}, a character XML 1.0 (the METS) cannot carry`, 'InvalidFileName');
    for (const segment of p.split('/')) {
      const bytes = Buffer.byteLength(segment);
      if (bytes > MAX_NAME_BYTES)
        throw nameFailure(
          `file ${JSON.stringify(p)}: the name ${JSON.stringify(segment)} is ${bytes} bytes of UTF-8, more than the ${MAX_NAME_BYTES} a file system holds in one name`,
          'NameTooLong',
        );
    }
    const bytes = Buffer.byteLength(p);
    if (bytes > maxPathBytes)
      throw nameFailure(
        `file ${JSON.stringify(p)}: its path is ${bytes} bytes of UTF-8, more than the ${maxPathBytes} custody's working folders can hold under them`,
        'NameTooLong',
      );
    if (RESERVED_PAYLOAD_PATHS.includes(p))
      throw nameFailure(
        `file ${JSON.stringify(p)}: the SIP keeps its METS document at data/${p}, so a payload file cannot have that name`,
        'PayloadPathConflict',
      );
  }
  checkNoFoldedCollisions(paths);
}

/** Two names equal after NFC normalisation, or also after case folding, are one name on some file systems. */
function checkNoFoldedCollisions(paths: string[]): void {
  const nfc = (s: string) => s.normalize('NFC');
  const caseless = (s: string) => s.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
  const seen = new Map<string, string>();
  const note = (name: string) => {
    const key = caseless(name);
    const other = seen.get(key);
    if (other === undefined) return void seen.set(key, name);
    if (other === name) return;
    const how = nfc(other) === nfc(name) ? 'after Unicode NFC normalisation' : 'when case is ignored';
    const reason = RESERVED_PAYLOAD_PATHS.includes(other)
      ? `file ${JSON.stringify(name)}: its name is the same as the SIP's METS document data/${other} ${how}`
      : `paths ${JSON.stringify(other)} and ${JSON.stringify(name)} are the same ${how}: a case-insensitive or normalising file system would keep only one of them`;
    throw nameFailure(reason, 'NameCollision');
  };
  for (const reserved of RESERVED_PAYLOAD_PATHS) seen.set(caseless(reserved), reserved);
  for (const p of [...paths].sort()) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) note(parts.slice(0, i).join('/'));
    note(p);
  }
}
