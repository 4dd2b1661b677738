// The delivery activities: list what an item consists of (with the checksums custody holds),
// and deliver it to one destination — ask for what is there first and skip what matches, send
// the rest, verify name, size and checksum of what arrived. The ledger keeps one row per item and
// destination; a delayed destination's row says until when.
import path from 'node:path';
import { Context } from '@temporalio/activity';
import ms from 'ms';
import type { DeliveryItem, DestinationOutcome } from '../common/delivery';
import { PermanentError } from '../common/errors';
import { DeliveryMismatch, DestinationRefused, isDelivered } from '../destinations';
import { joinKey } from '../storage';
import { heartbeat, mapLibraryErrors, type ActivityDeps } from './shared';

export interface DeliveryFile {
  /** The key in custody's storage. */
  key: string;
  /** The name at the destination. */
  name: string;
  size: number;
  sha256: string;
}

export function createDeliveryActivities(deps: ActivityDeps) {
  const { ledger, config } = deps;
  const storageOf = (item: DeliveryItem) => (item.storage === 'packages' ? deps.packages : deps.site);

  /** When Temporal will try a failed delivery again: the retry policy's backoff for this attempt. */
  function nextTry(attempt: number): string {
    const r = config.delivery.retry;
    const delay = Math.min(ms(r.initialInterval) * r.backoffCoefficient ** (attempt - 1), ms(r.maximumInterval));
    return new Date(Date.now() + delay).toISOString();
  }

  /**
   * A kept package's SHA-256 is in the ledger since its SIP was built: hashing a tar of gigabytes
   * again to learn it would read it twice. send() hashes what it reads against this value, so a
   * kept copy damaged since is refused, not delivered.
   */
  async function checksumOf(item: DeliveryItem, key: string): Promise<string> {
    const pkg = item.storage === 'packages' ? await ledger.getPackage(path.posix.basename(key, '.tar')) : undefined;
    return pkg?.sha256 ?? (await storageOf(item).sha256Of(key));
  }

  const activities = {
    async listDeliveryFiles({ item, destinations }: { item: DeliveryItem; destinations: string[] }): Promise<DeliveryFile[]> {
      const storage = storageOf(item);
      const prefix = item.prefix.endsWith('/') ? item.prefix : `${item.prefix}/`;
      const files: DeliveryFile[] = [];
      for await (const o of storage.list(prefix)) {
        files.push({ key: o.key, name: joinKey(item.as, o.key.slice(prefix.length)), size: o.size, sha256: await checksumOf(item, o.key) });
        heartbeat({ listed: files.length });
      }
      if (!files.length) throw new PermanentError(`nothing to deliver for ${item.itemId}: ${storage.location}/${prefix} is empty`, 'NothingToDeliver');
      const at = new Date().toISOString();
      for (const d of destinations) await ledger.deliveries.set(item.itemId, d, { state: 'pending', at, attempts: 0, lastError: null, delayedUntil: null });
      return files;
    },

    async deliverToDestination({ item, destination, files }: { item: DeliveryItem; destination: string; files: DeliveryFile[] }): Promise<DestinationOutcome> {
      const attempts = Context.current().info.attempt;
      const storage = storageOf(item);
      await ledger.deliveries.set(item.itemId, destination, { state: 'pending', at: new Date().toISOString(), attempts });
      let sent = 0;
      let last: { name: string; size: number; sha256: string } | undefined;
      try {
        const target = deps.destination(destination);
        for (const f of files) {
          const file = { name: f.name, size: f.size, sha256: f.sha256 };
          const present = await target.present(file);
          if (isDelivered(file, present)) {
            last = present;
            continue;
          }
          const result = await target.send(
            file,
            () => storage.read(f.key),
            (bytes) => heartbeat({ file: f.name, bytes, sent }),
          );
          last = await target.verify(file, result);
          sent++;
        }
      } catch (e) {
        const at = new Date().toISOString();
        const message = e instanceof Error ? e.message : String(e);
        // A content problem or a refusal: not retried blindly, but recorded for the operator.
        const permanent =
          e instanceof DeliveryMismatch
            ? new PermanentError(message, 'DeliveryMismatch')
            : e instanceof DestinationRefused
              ? new PermanentError(message, 'DestinationRefused')
              : e instanceof PermanentError
                ? e
                : undefined;
        if (permanent) {
          await ledger.deliveries.set(item.itemId, destination, { state: 'failed', at, lastError: message, delayedUntil: null });
          throw permanent;
        }
        await ledger.deliveries.set(item.itemId, destination, { state: 'delayed', at, lastError: message, delayedUntil: nextTry(attempts) });
        throw e;
      }
      const state = sent ? 'delivered' : 'skipped';
      const one = files.length === 1 ? last : undefined;
      await ledger.deliveries.set(item.itemId, destination, {
        state,
        at: new Date().toISOString(),
        lastError: null,
        delayedUntil: null,
        name: one?.name ?? item.as,
        size: one?.size ?? files.reduce((n, f) => n + f.size, 0),
        ...(one ? { sha256: one.sha256 } : {}),
      });
      return { destination, state, files: files.length, sent };
    },
  };
  return mapLibraryErrors(activities);
}
