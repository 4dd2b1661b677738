// Writes the hostile collection: objects with the names and files an outside source really
// sends (names too long, not UTF-8, equal but for case or normalisation, like the bag's own
// files, with control characters; pipes, hard links, symlinks in and out). Not committed: the
// tests generate it into a temp folder, and `hostile-expected-outcomes.json` says how each
// object must end (confirmed, or frozen with a reason matching a pattern).
//   npx tsx examples/generate-hostile.ts [OUT_DIR]     (default examples/hostile, git-ignored)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

type Files = Record<string, string>;

const MODIFIED_AT = '2026-01-15T10:00:00Z';

function writeObject(out: string, id: string, files: Files, metadata: Record<string, unknown> = {}): string {
  const dir = path.join(out, id);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'object.json'), `${JSON.stringify({ id, title: `Hostile case ${id}`, modifiedAt: MODIFIED_AT, ...metadata }, null, 2)}\n`);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

/** Writes every hostile object into `out` (a fresh folder: anything there is replaced). */
export function generateHostile(outDir: string): void {
  const out = path.resolve(outDir);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });

  // Preserved as they are.
  writeObject(out, 'h-long-name', { [`${'ä'.repeat(100)}${'n'.repeat(46)}.txt`]: 'a name of 250 bytes\n' });
  writeObject(out, 'h-structure-names', {
    'bagit.txt': 'payload, not the bag declaration\n',
    'bag-info.txt': 'payload\n',
    'manifest-sha256.txt': 'payload\n',
    'tagmanifest-sha256.txt': 'payload\n',
    'data/mets.xml': '<?xml version="1.0"?>\n<note>payload, one folder below the METS</note>\n',
  });
  writeObject(out, 'h-percent', { '100%.txt': 'percent-encoded in the manifests\n', 'a%0Ab.txt': 'not a newline\n' });
  writeObject(out, 'h-newline', { 'two\nlines.txt': 'a newline in the name\n' });
  writeObject(out, 'h-unicode', { 'Grüße – 日本/notes.txt': 'plain UTF-8 names\n' });
  const linked = writeObject(out, 'h-hard-link', { 'one.txt': 'one file, two names\n' });
  fs.linkSync(path.join(linked, 'one.txt'), path.join(linked, 'two.txt'));
  // A symlinked object folder that stays inside the source (a hidden folder is no object of its own).
  writeObject(path.join(out, '.store'), 'h-symlinked-object', { 'a.txt': 'reached through a symlink\n' });
  fs.symlinkSync(path.join('.store', 'h-symlinked-object'), path.join(out, 'h-symlinked-object'));

  // Frozen with the reason, before download.
  writeObject(out, 'h-mets-name', { 'mets.xml': '<?xml version="1.0"?>\n<mets/>\n', 'a.txt': 'a\n' });
  writeObject(out, 'h-mets-case', { 'METS.XML': '<?xml version="1.0"?>\n<mets/>\n' });
  writeObject(out, 'h-case', { 'Photo.txt': 'upper\n', 'photo.txt': 'lower\n' });
  writeObject(out, 'h-nfc', { 'café.txt': 'composed\n', 'cafe\u0301.txt': 'decomposed\n' });
  const latin1 = writeObject(out, 'h-latin1', { 'ok.txt': 'fine\n' });
  fs.writeFileSync(Buffer.concat([Buffer.from(`${latin1}/caf`), Buffer.from([0xe9]), Buffer.from('.txt')]), 'a Latin-1 name\n');
  // An object folder whose own name is not UTF-8: listed by its escaped bytes, h-latin1-folder-\xe9.
  fs.mkdirSync(Buffer.concat([Buffer.from(`${out}/h-latin1-folder-`), Buffer.from([0xe9])]));
  writeObject(out, 'h-control-title', { 'a.txt': 'a\n' }, { title: 'Bell \u0007 in the title' });
  writeObject(out, 'h-control-description', { 'a.txt': 'a\n' }, { description: 'Escape \u001b[31m in the description' });
  writeObject(out, 'h-control-name', { 'bell\u0007.txt': 'a control character in the name\n' });
  writeObject(out, 'h-backslash', { 'a\\b.txt': 'a backslash in the name\n' });
  const fifo = writeObject(out, 'h-fifo', { 'a.txt': 'a\n' });
  execFileSync('mkfifo', [path.join(fifo, 'pipe')]);
  const escape = writeObject(out, 'h-symlink-out', { 'a.txt': 'a\n' });
  fs.symlinkSync('/etc/hostname', path.join(escape, 'hostname.txt'));
  fs.symlinkSync('/etc', path.join(out, 'h-object-out'));
  // A path the source holds but custody's working folders, deeper than the source, cannot.
  const deep = writeObject(out, 'h-deep-path', { 'a.txt': 'a\n' });
  const room = 4095 - Buffer.byteLength(deep) - 1 - 'f.txt'.length - 8;
  const segments = Array.from({ length: Math.floor(room / 201) }, (_, i) => `${String(i).padStart(3, '0')}${'d'.repeat(197)}`);
  fs.mkdirSync(path.join(deep, ...segments), { recursive: true });
  fs.writeFileSync(path.join(deep, ...segments, 'f.txt'), 'deep\n');
}

if (require.main === module) {
  // examples/hostile by default (git-ignored: the collection is generated, never committed).
  const out = process.argv[2] ?? path.join(__dirname, 'hostile');
  generateHostile(out);
  console.log(`hostile collection written to ${path.resolve(out)}`);
}
