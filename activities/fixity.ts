// The fixity audit's activities (the auditFixity workflow, started by the `audit-fixity`
// Schedule): take the run's slice of packages after the cursor, and check one package — re-hash
// custody's kept copy, ask each destination that received it for the checksum of what it holds —
// recording each copy that is not as the ledger says as a `fixity-mismatch` or `fixity-missing`
// event. Both are idempotent: a retried check records under the same keys.
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FIXITY_MISMATCH, FIXITY_MISSING, FIXITY_OK, type FixityProblem, type FixitySlice, type PackageFixity } from '../common/fixity';
import { PermanentError } from '../common/errors';
import { FolderDestination, storedNameOf, type Destination } from '../destinations';
import { digesting } from '../storage/digest';
import { joinKey } from '../storage';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

const PAGE = 500;

export function createFixityActivities({ config, ledger, packages, destination }: ActivityDeps) {
  /** Reads `stream` through SHA-256, heartbeating as the bytes move. */
  async function hashOf(stream: Readable, sipId: string): Promise<{ sha256: string; bytes: number }> {
    let last = 0;
    const moving = digesting((bytes) => {
      if (bytes - last >= 8 * 1024 * 1024) {
        last = bytes;
        heartbeat({ sipId, bytes });
      }
    });
    await pipeline(
      stream,
      moving,
      new Writable({
        write: (_chunk, _enc, done) => done(),
      }),
    );
    return moving.digest();
  }

  /** What `dest` holds of `file`; the shared keep-alive heartbeats with these details while it reads or answers. */
  async function presentAt(dest: Destination, file: { name: string; size: number; sha256: string }, sipId: string) {
    heartbeat({ sipId, asking: dest.name });
    return await dest.present(file);
  }

  return mapLibraryErrors({
    /**
     * The packages this run checks: ceil(share × audited packages) of them after `after`, in SIP
     * id order, wrapping to the first at the end (never past where it started), and no more than
     * `maxBytesPerRun` of package bytes (one at least).
     */
    async fixitySlice({ after, share, maxBytesPerRun }: { after?: string; share?: number; maxBytesPerRun?: number }): Promise<FixitySlice> {
      const s = share ?? config.fixity.share;
      if (!(s > 0 && s <= 1)) throw new PermanentError(`fixity share ${s} is not a fraction above 0 and at most 1`, 'BadFixityShare');
      const maxBytes = maxBytesPerRun ?? config.fixity.maxBytesPerRun ?? Infinity;
      const total = await ledger.fixity.count();
      const take = Math.min(total, Math.ceil(s * total));
      const sipIds: string[] = [];
      let bytes = 0;
      let from = after;
      let wrapped = after === undefined;
      while (sipIds.length < take) {
        const want = Math.min(PAGE, take - sipIds.length);
        const page = await ledger.fixity.after(from, want);
        for (const p of page) {
          // Back where this run started: the slice is everything there is.
          if (wrapped && after !== undefined && p.sipId > after) return { sipIds, total };
          if (sipIds.length > 0 && bytes + p.size > maxBytes) return { sipIds, total };
          sipIds.push(p.sipId);
          bytes += p.size;
          from = p.sipId;
        }
        if (page.length < want) {
          if (wrapped) break;
          wrapped = true;
          from = undefined;
        }
        heartbeat({ taken: sipIds.length });
      }
      return { sipIds, total };
    },

    /**
     * Checks one package: custody's kept copy (re-hashed, never a stored checksum) and each copy a
     * destination holds (its own answer for the original bytes: a folder is read back, S3 and
     * HTTP say what they keep). Each copy that differs from the ledger, or is not there, becomes a
     * ledger event keyed by `audit` and the copy; a copy found whole after an open problem, a
     * `fixity-ok` event that resolves it.
     */
    async checkPackageFixity({ sipId, audit }: { sipId: string; audit: string }): Promise<PackageFixity> {
      const pkg = await ledger.getPackage(sipId);
      const result: PackageFixity = { sipId, objectId: pkg?.objectId ?? '', copies: 0, ok: 0, problems: [], bytesRead: 0, unreachable: [] };
      if (!pkg) return result;
      const objectId = pkg.objectId;
      const name = `${objectId}/${sipId}.tar`;
      const rows = (await ledger.deliveries.of(objectId)).filter((r) => r.name === name || r.name === storedNameOf(name, true));
      const open = await ledger.fixity.openProblems(objectId);
      const at = new Date().toISOString();

      async function found(where: string, expected: string, expectedSize: number, got: { sha256: string; size: number } | undefined, destination?: string) {
        result.copies++;
        const key = `fixity:${audit}:${sipId}:${destination ?? 'kept'}`;
        if (got && got.sha256 === expected && got.size === expectedSize) {
          result.ok++;
          if (open.has(where))
            await ledger.recordEvent({ key, objectId, sipId, kind: FIXITY_OK, detail: { where, sipId, destination, sha256: expected, audit }, at });
          return;
        }
        const problem: FixityProblem = {
          kind: got ? FIXITY_MISMATCH : FIXITY_MISSING,
          objectId,
          sipId,
          where,
          ...(destination ? { destination } : {}),
          expected,
          found: got?.sha256 ?? null,
        };
        result.problems.push(problem);
        await ledger.recordEvent({
          key,
          objectId,
          sipId,
          kind: problem.kind,
          detail: { where, sipId, destination, expected, found: problem.found, expectedSize, foundSize: got?.size ?? null, audit },
          at,
        });
      }

      // The kept copy: custody stored it when a rule delivered the package; the rows say it did.
      const key = joinKey(objectId, sipId, `${sipId}.tar`);
      if (await packages.head(key)) {
        const got = await hashOf(await packages.read(key), sipId);
        result.bytesRead += got.bytes;
        await found(packages.urlOf(key), pkg.sha256, pkg.size, { sha256: got.sha256, size: got.bytes });
      } else if (rows.length > 0) await found(packages.urlOf(key), pkg.sha256, pkg.size, undefined);

      for (const row of rows) {
        if (!row.sha256 || (row.state !== 'delivered' && row.state !== 'skipped')) continue;
        let dest: Destination;
        let got: { sha256: string; size: number } | undefined;
        try {
          dest = destination(row.destination);
          got = await presentAt(dest, { name, size: row.size ?? pkg.size, sha256: row.sha256 }, sipId);
        } catch (e) {
          // A destination down or gone is not a fixity finding: a later run asks again.
          result.unreachable.push(`${row.destination}: ${e instanceof Error ? e.message : String(e)}`);
          continue;
        }
        if (got && dest instanceof FolderDestination) result.bytesRead += got.size;
        await found(`${dest.location}/${storedNameOf(name, dest.compress)}`, row.sha256, row.size ?? pkg.size, got, row.destination);
      }
      return result;
    },
  });
}
