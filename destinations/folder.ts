// A folder destination: a local or mounted folder (an NFS share, a removable disk). Files are
// written through a partial file renamed into place, so a killed send leaves nothing under the
// name. A folder has no checksum API: what it holds is hashed by reading it back (and, for a
// compressed copy, decompressing it), so no sidecar file can disagree with the bytes.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import type { DestinationFile, Present, SendResult } from '../common/destinations';
import { writeFileVerified } from '../storage/digest';
import { checkReceived, checkSource, storedName, type Destination } from './destination';
import { DestinationError, DestinationRefused, DestinationUnavailable, type Described } from './errors';
import { digestsOf, outgoing } from './streams';

/** Errors that say "not allowed here" rather than "not now". */
const REFUSING = new Set(['EACCES', 'EPERM', 'EROFS', 'EISDIR', 'ENOTDIR', 'ENAMETOOLONG', 'EEXIST']);

export class FolderDestination implements Destination {
  readonly root: string;
  readonly location: string;

  constructor(
    readonly name: string,
    root: string,
    readonly compress: boolean,
  ) {
    this.root = path.resolve(root);
    this.location = pathToFileURL(this.root).href;
  }

  private pathOf(stored: string): string {
    return path.join(this.root, ...stored.split('/'));
  }

  /**
   * The path of `stored`, refused when a symlink under the root would take it outside: the name
   * itself was checked, but a folder on the way may be a link. The deepest part that exists is
   * resolved, before anything is created under it.
   */
  private async insidePathOf(stored: string): Promise<string> {
    const target = this.pathOf(stored);
    let root: string;
    try {
      root = await fs.promises.realpath(this.root);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return target; // created whole by the first send
      throw this.failure(e, 'resolving its root');
    }
    for (let p = target; p.startsWith(this.root); p = path.dirname(p)) {
      let real: string;
      try {
        real = await fs.promises.realpath(p);
      } catch (e) {
        if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '') && p !== this.root) continue;
        throw this.failure(e, `resolving ${stored}`);
      }
      if (real !== root && !real.startsWith(root + path.sep))
        throw new DestinationRefused(`${this.name} (${this.location}): ${stored} leads outside the folder, to ${real}, through a symbolic link`, this.name);
      return target;
    }
    return target;
  }

  /** The stored bytes' digests, or undefined when there is no file under the name. */
  private async read(stored: string): Promise<{ stored: Described; original?: Described } | undefined> {
    let stream: Readable;
    try {
      const handle = await fs.promises.open(await this.insidePathOf(stored), 'r');
      if (!(await handle.stat()).isFile()) {
        await handle.close();
        return undefined;
      }
      stream = handle.createReadStream();
    } catch (e) {
      if (['ENOENT', 'ENOTDIR'].includes((e as NodeJS.ErrnoException).code ?? '')) return undefined;
      throw this.failure(e, `reading ${stored}`);
    }
    try {
      const d = await digestsOf(stream, this.compress);
      return {
        stored: { name: stored, size: d.stored.bytes, sha256: d.stored.sha256 },
        ...(d.original ? { original: { name: stored, size: d.original.bytes, sha256: d.original.sha256 } } : {}),
      };
    } catch (e) {
      throw this.failure(e, `reading ${stored}`);
    }
  }

  async present(file: DestinationFile): Promise<Present | undefined> {
    const got = await this.read(storedName(this.name, file, this.compress));
    // A compressed copy that is not gzip is described by its own bytes: it matches no file, so it is sent again.
    return got && (got.original ?? got.stored);
  }

  async send(file: DestinationFile, open: () => Promise<Readable> | Readable, onProgress?: (bytes: number) => void): Promise<SendResult> {
    const stored = storedName(this.name, file, this.compress);
    const target = await this.insidePathOf(stored);
    const out = await outgoing(open, this.compress, onProgress);
    try {
      // The check runs before the rename: a copy of custody's file that read wrong never lands under the name.
      const got = await writeFileVerified(out.body, target, () => {
        const { source, sent } = out.digests();
        checkSource(this, file, source, { name: stored, size: sent.bytes, sha256: sent.sha256 });
      });
      return { name: stored, size: got.bytes, sha256: got.sha256, compressed: this.compress };
    } catch (e) {
      throw out.sourceError() ?? this.failure(e, `writing ${stored}`);
    }
  }

  async verify(file: DestinationFile, sent: SendResult): Promise<Present> {
    const got = await this.read(storedName(this.name, file, this.compress));
    return checkReceived(this, file, sent, got?.stored);
  }

  private failure(e: unknown, doing: string): unknown {
    if (e instanceof DestinationError) return e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) return e; // not the folder's: custody's own stream, say
    const message = `${this.name} (${this.location}): ${doing}: ${(e as Error).message}`;
    // A share that went away (EIO, ENOTCONN, ESTALE) or a full disk may come back; a permission will not.
    return REFUSING.has(code)
      ? new DestinationRefused(message, this.name, undefined, { cause: e })
      : new DestinationUnavailable(message, this.name, { cause: e });
  }
}
