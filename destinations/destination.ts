// One place custody delivers files to. Every kind answers the same three questions: what do
// you hold under this name (so a delivery already there is skipped), take these bytes, and what
// did you receive (so a delivery is checked by name, size and checksum after sending).
import type { Readable } from 'node:stream';
import { destinationPathProblem, storedNameOf, type DestinationFile, type Present, type SendResult } from '../common/destinations';
import { DeliveryMismatch, DestinationRefused, type Described } from './errors';
import type { Digest } from './streams';

export interface Destination {
  /** The config name, e.g. "mirror-eu". */
  readonly name: string;
  /** A URL with no secret in it, for logs and the ledger. */
  readonly location: string;
  /** Whether files are gzip-compressed on their way (stored as "<name>.gz"). */
  readonly compress: boolean;
  /**
   * What the destination holds under the file's name now, described as the uncompressed file
   * (see Present), or undefined. isDelivered(file, present) says whether sending can be skipped.
   */
  present(file: DestinationFile): Promise<Present | undefined>;
  /**
   * Streams `open()` to the destination (gzip-compressed on the way when the destination
   * compresses), hashing on the way; `onProgress` gets the bytes read from custody's copy so far.
   * Throws DeliveryMismatch when custody's copy did not read as `file` says.
   */
  send(file: DestinationFile, open: () => Promise<Readable> | Readable, onProgress?: (bytes: number) => void): Promise<SendResult>;
  /**
   * Asks the destination what it received and compares name, size and checksum with `sent`;
   * throws DeliveryMismatch naming the expected, sent and received values on any difference.
   */
  verify(file: DestinationFile, sent: SendResult): Promise<Present>;
}

/** The stored name of `file`, or DestinationRefused when the name could lead outside the destination. */
export function storedName(destination: string, file: DestinationFile, compress: boolean): string {
  const problem = destinationPathProblem(file.name);
  if (problem) throw new DestinationRefused(`${destination}: ${JSON.stringify(file.name)} cannot be delivered: ${problem}`, destination);
  return storedNameOf(file.name, compress);
}

const expectedOf = (file: DestinationFile, compress: boolean): Described => ({
  name: storedNameOf(file.name, compress),
  size: file.size,
  sha256: file.sha256,
  ...(compress ? { beforeGzip: true } : {}),
});

/** Throws DeliveryMismatch when custody's copy did not read as `file` says (it changed, or the caller's size or digest is wrong). */
export function checkSource(dest: Destination, file: DestinationFile, source: Digest, sent: Described): void {
  if (source.bytes !== file.size || source.sha256 !== file.sha256)
    throw new DeliveryMismatch(
      dest.name,
      dest.location,
      expectedOf(file, dest.compress),
      sent,
      undefined,
      `custody's copy read as ${source.bytes} bytes with sha256 ${source.sha256}`,
    );
}

/** Compares what the destination says it received with what was sent (and what was sent with the file); the file as Present when all agree. */
export function checkReceived(dest: Destination, file: DestinationFile, sent: SendResult, received: Described | undefined): Present {
  const expected = expectedOf(file, dest.compress);
  const mismatch = (why: string) => new DeliveryMismatch(dest.name, dest.location, expected, sent, received, why);
  if (sent.name !== expected.name || sent.compressed !== dest.compress)
    throw mismatch('it was sent under another name or compression than this destination uses');
  if (!dest.compress && (sent.size !== file.size || sent.sha256 !== file.sha256)) throw mismatch('the bytes sent are not the file');
  if (!received) throw mismatch('the destination holds nothing under that name');
  if (received.name !== sent.name || received.size !== sent.size || received.sha256 !== sent.sha256)
    throw mismatch('the destination holds other bytes than were sent');
  return { name: expected.name, size: file.size, sha256: file.sha256 };
}
