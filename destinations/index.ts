// Opens a delivery destination as config describes it: a folder, an S3 bucket/prefix, or an
// HTTP receiver. Secrets never pass through config: S3 credentials come from the SDK's chain,
// an HTTP token from the environment variable the config names.
import { destinationConfigSchema, type DestinationConfig, type DestinationConfigInput } from '../common/destinations';
import { parseStorageUrl } from '../config/storage-location';
import { S3Storage, s3Client, type S3Options } from '../storage/s3-storage';
import type { Destination } from './destination';
import { DestinationRefused } from './errors';
import { FolderDestination } from './folder';
import { HttpDestination } from './http';
import { S3Destination } from './s3';

export type { Destination } from './destination';
export { DeliveryMismatch, DestinationError, DestinationRefused, DestinationUnavailable } from './errors';
export { FolderDestination } from './folder';
export { HttpDestination, CONTENT_SHA256_HEADER, ORIGINAL_SHA256_HEADER, ORIGINAL_SIZE_HEADER } from './http';
export { S3Destination, ORIGINAL_SHA256, ORIGINAL_SIZE } from './s3';
export {
  destinationConfigSchema,
  destinationListSchema,
  destinationFileSchema,
  isDelivered,
  storedNameOf,
  type DestinationConfig,
  type DestinationConfigInput,
  type DestinationFile,
  type Present,
  type SendResult,
} from '../common/destinations';

export interface OpenDestinationOptions {
  /** Where an http destination's `tokenEnv` is looked up; process.env unless given. */
  env?: Record<string, string | undefined>;
  /** custody's storage.s3 settings: what an s3 destination does not set itself. */
  s3?: Partial<S3Options>;
}

const DEFAULT_HTTP_TIMEOUT_MS = 30_000;

export function openDestination(config: DestinationConfig | DestinationConfigInput, options: OpenDestinationOptions = {}): Destination {
  const c = destinationConfigSchema.parse(config);
  switch (c.kind) {
    case 'folder':
      return new FolderDestination(c.name, c.path, c.compress);
    case 's3': {
      const parsed = parseStorageUrl(c.location);
      if (parsed.kind !== 's3') throw new Error(`destination ${c.name}: ${c.location} is not an s3:// location`);
      const s3: S3Options = {
        endpoint: c.endpoint ?? options.s3?.endpoint,
        region: c.region ?? options.s3?.region,
        forcePathStyle: c.forcePathStyle ?? options.s3?.forcePathStyle ?? false,
        partSize: c.partSize ?? options.s3?.partSize,
      };
      return new S3Destination(c.name, new S3Storage(s3Client(s3), parsed.bucket, parsed.prefix, s3.partSize), c.compress);
    }
    case 'http': {
      let token: string | undefined;
      if (c.tokenEnv !== undefined) {
        token = (options.env ?? process.env)[c.tokenEnv];
        // Refused, not unavailable: no retry sets the variable. Its name is said, never a value.
        if (!token) throw new DestinationRefused(`destination ${c.name}: the environment variable ${c.tokenEnv} (its tokenEnv) is not set`, c.name);
      }
      return new HttpDestination(c.name, { url: c.url, token, timeoutMs: c.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS }, c.compress);
    }
  }
}
