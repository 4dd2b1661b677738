// One version of a dataset in its source, as the repository-copy pipeline reads it:
// `<dataset>/v<version>/<type>/` holds the files (flat: a deposition has no folders) and
// `<dataset>/v<version>/dataset.json` the deposit metadata. Reading it checks the guards and takes
// each file's SHA-256 and MD5, the digests the upload must reproduce.
import crypto from 'node:crypto';
import { z } from 'zod';
import type { CopyType, DepositMetadata } from '../common/copies';
import { PermanentError } from '../common/errors';
import { joinKey, type Storage } from '../storage';

export interface DatasetGuards {
  maxTotalBytes: number;
  maxFiles: number;
  allowZeroLengthFiles: boolean;
}

export interface DatasetFile {
  name: string;
  /** The key in the source storage. */
  key: string;
  size: number;
  sha256: string;
  md5: string;
}

export interface DatasetVersion {
  files: DatasetFile[];
  totalBytes: number;
  metadata: DepositMetadata;
}

const metadataSchema = z.strictObject({
  title: z.string().trim().min(1),
  description: z.string().trim().min(1),
  upload_type: z.string().min(1).default('dataset'),
  creators: z.array(z.strictObject({ name: z.string().trim().min(1), affiliation: z.string().optional() })).min(1),
});

export const versionPrefix = (datasetId: string, version: number): string => joinKey(datasetId, `v${version}`);

/** The file list and metadata, with the guards checked, before any byte is read. */
export async function listDatasetVersion(
  source: Storage,
  datasetId: string,
  version: number,
  type: CopyType,
  guards: DatasetGuards,
): Promise<{ files: Array<Omit<DatasetFile, 'sha256' | 'md5'>>; totalBytes: number; metadata: DepositMetadata }> {
  const metadata = await readDatasetMetadata(source, datasetId, version);
  const prefix = joinKey(versionPrefix(datasetId, version), type) + '/';
  const files: Array<Omit<DatasetFile, 'sha256' | 'md5'>> = [];
  let totalBytes = 0;
  for await (const o of source.list(prefix)) {
    const name = o.key.slice(prefix.length);
    if (name.includes('/'))
      throw new PermanentError(`${type} of ${datasetId} v${version}: "${name}" is in a subfolder; a deposition holds files by name only`, 'CopyGuard');
    if (o.size === 0 && !guards.allowZeroLengthFiles)
      throw new PermanentError(`${type} of ${datasetId} v${version}: "${name}" is empty (zero-length files are not deposited)`, 'CopyGuard');
    files.push({ name, key: o.key, size: o.size });
    totalBytes += o.size;
    if (files.length > guards.maxFiles)
      throw new PermanentError(`${type} of ${datasetId} v${version}: more than ${guards.maxFiles} files, the deposit API's limit per deposition`, 'CopyGuard');
  }
  if (files.length === 0) throw new PermanentError(`${type} of ${datasetId} v${version}: no files under ${source.location}/${prefix}`, 'InvalidDataset');
  if (totalBytes > guards.maxTotalBytes)
    throw new PermanentError(`${type} of ${datasetId} v${version}: ${totalBytes} bytes, over the limit of ${guards.maxTotalBytes}`, 'CopyGuard');
  return { files, totalBytes, metadata };
}

/** Both digests in one pass over the file's bytes. */
export async function digestFile(source: Storage, key: string, onProgress?: (bytes: number) => void): Promise<{ sha256: string; md5: string; size: number }> {
  const sha256 = crypto.createHash('sha256');
  const md5 = crypto.createHash('md5');
  let size = 0;
  for await (const chunk of await source.read(key)) {
    const b = chunk as Buffer;
    sha256.update(b);
    md5.update(b);
    size += b.length;
    onProgress?.(size);
  }
  return { sha256: sha256.digest('hex'), md5: md5.digest('hex'), size };
}

/** The version's dataset.json as the deposit's metadata: one small read, no listing. */
export async function readDatasetMetadata(source: Storage, datasetId: string, version: number): Promise<DepositMetadata> {
  const where = `${source.location}/${versionPrefix(datasetId, version)}`;
  const key = joinKey(versionPrefix(datasetId, version), 'dataset.json');
  if (!(await source.head(key))) throw new PermanentError(`${datasetId} v${version}: no dataset.json in ${where}`, 'InvalidDataset');
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of await source.read(key)) {
    chunks.push(c as Buffer);
    bytes += (c as Buffer).length;
    if (bytes > 1024 * 1024) throw new PermanentError(`${datasetId} v${version}: dataset.json is over 1 MiB`, 'InvalidDataset');
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw new PermanentError(`${datasetId} v${version}: dataset.json is not JSON: ${(e as Error).message}`, 'InvalidDataset');
  }
  const parsed = metadataSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('; ');
    throw new PermanentError(`${datasetId} v${version}: dataset.json: ${problems}`, 'InvalidDataset');
  }
  return { ...parsed.data, version: `v${version}` };
}
