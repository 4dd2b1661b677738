// How an `xlink:href` in the article XML finds its file in the package. eLife's XML names
// figures without the extension (`<graphic xlink:href="elife-00353-fig1-v1"/>` for the file
// `elife-00353-fig1-v1.tif`), names the PDF with it (`<self-uri xlink:href="elife-00353-v1.pdf"/>`),
// and older packages leave the `-v<N>` out of some names. The rule, in order, first hit wins:
//   1. exact: a package file whose path is the href;
//   2. extension added: package files whose path is the href plus one extension (`.tif`);
//      several (a TIFF and a JPEG of one figure) all belong to the reference;
//   3. version added: when the href's last segment has no `-v<digits>`, rules 1 and 2 again with
//      `-v<package version>` put before its extension (or at its end).
// Matching is case-sensitive, after putting both sides in Unicode NFC and dropping `./`.
// An href with a URI scheme (`http:`, `doi:`, `mailto:`) or starting with `//` is outside the
// package and not looked up; an absolute path or a `..` segment is refused.

export type HrefResolution =
  | { kind: 'resolved'; files: string[]; rule: 'exact' | 'extension' | 'version' }
  | { kind: 'external' }
  | { kind: 'unsafe'; reason: string }
  | { kind: 'missing'; tried: string[] };

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const VERSION_SUFFIX = /-v[0-9]+$/;

export function normalisePackagePath(p: string): string {
  return p
    .normalize('NFC')
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

export class PackageFiles {
  private readonly paths: Set<string>;
  /** Files by their path without the last extension, for rule 2. */
  private readonly byStem = new Map<string, string[]>();
  constructor(files: Iterable<string>) {
    this.paths = new Set([...files].map(normalisePackagePath));
    for (const file of [...this.paths].sort()) {
      const stem = stripExtension(file);
      if (stem === file) continue;
      const list = this.byStem.get(stem) ?? [];
      list.push(file);
      this.byStem.set(stem, list);
    }
  }

  has(file: string): boolean {
    return this.paths.has(normalisePackagePath(file));
  }

  resolve(href: string, packageVersion: number): HrefResolution {
    const trimmed = href.trim();
    if (trimmed === '') return { kind: 'unsafe', reason: 'empty href' };
    if (SCHEME.test(trimmed) && !/^[A-Za-z]:[\\/]/.test(trimmed)) return { kind: 'external' };
    if (trimmed.startsWith('//')) return { kind: 'external' };
    if (/^[\\/]/.test(trimmed) || /^[A-Za-z]:/.test(trimmed)) return { kind: 'unsafe', reason: 'an absolute path' };
    if (trimmed.includes('\\')) return { kind: 'unsafe', reason: 'a backslash' };
    const wanted = normalisePackagePath(trimmed);
    if (wanted.split('/').includes('..')) return { kind: 'unsafe', reason: "a '..' segment" };

    const direct = this.lookup(wanted);
    if (direct) return direct;
    const tried = [wanted, `${wanted}.*`];
    const name = wanted.split('/').pop() ?? wanted;
    if (!VERSION_SUFFIX.test(stripExtension(name))) {
      const ext = wanted.slice(stripExtension(wanted).length);
      const versioned = `${stripExtension(wanted)}-v${packageVersion}${ext}`;
      const found = this.lookup(versioned);
      if (found) return { ...found, rule: 'version' };
      tried.push(versioned, `${versioned}.*`);
    }
    return { kind: 'missing', tried };
  }

  private lookup(wanted: string): Extract<HrefResolution, { kind: 'resolved' }> | undefined {
    if (this.paths.has(wanted)) return { kind: 'resolved', files: [wanted], rule: 'exact' };
    const withExtension = this.byStem.get(wanted);
    if (withExtension) return { kind: 'resolved', files: [...withExtension], rule: 'extension' };
    return undefined;
  }
}

/** `a/b.tif` → `a/b`; a leading dot (`.hidden`) is a name, not an extension. */
export function stripExtension(p: string): string {
  const slash = p.lastIndexOf('/');
  const dot = p.lastIndexOf('.');
  return dot > slash + 1 ? p.slice(0, dot) : p;
}
