// What the deposit service does to depositions, as Zenodo's deposit API does it: drafts whose
// metadata and files change freely, publication (which freezes them and mints a DOI), and new
// versions of a published one (a draft of the same concept that starts with its files). Every
// refusal is an ApiError carrying Zenodo's error shape.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { DepositionFiles, StoredDeposition, StoredFile } from './store';

/** A refusal in Zenodo's shape: `{ status, message, errors?: [{ field, message }] }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: { field?: string; message: string }[],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  body(): Record<string, unknown> {
    return { status: this.status, message: this.message, ...(this.errors ? { errors: this.errors } : {}) };
  }
}

/** Zenodo's upload types. */
const UPLOAD_TYPES = ['publication', 'poster', 'presentation', 'dataset', 'image', 'video', 'software', 'lesson', 'physicalobject', 'other'];
const TEST_DOI_PREFIX = '10.5072';

export const doiOf = (id: number) => `${TEST_DOI_PREFIX}/zenodo.${id}`;

/** Field errors as Zenodo reports them when a deposition cannot be published. */
export function metadataErrors(metadata: Record<string, unknown>): { field: string; message: string }[] {
  const errors: { field: string; message: string }[] = [];
  const missing = 'Missing data for required field.';
  for (const field of ['title', 'description'] as const) {
    const v = metadata[field];
    if (v === undefined || v === null || v === '') errors.push({ field: `metadata.${field}`, message: missing });
    else if (typeof v !== 'string') errors.push({ field: `metadata.${field}`, message: 'Not a valid string.' });
  }
  const type = metadata.upload_type;
  if (type === undefined || type === null || type === '') errors.push({ field: 'metadata.upload_type', message: missing });
  else if (typeof type !== 'string' || !UPLOAD_TYPES.includes(type))
    errors.push({ field: 'metadata.upload_type', message: `Not a valid choice: one of ${UPLOAD_TYPES.join(', ')}.` });
  const creators = metadata.creators;
  if (!Array.isArray(creators) || creators.length === 0) errors.push({ field: 'metadata.creators', message: missing });
  else
    creators.forEach((c: unknown, i) => {
      const name = typeof c === 'object' && c !== null ? (c as { name?: unknown }).name : undefined;
      if (typeof name !== 'string' || !name.trim()) errors.push({ field: `metadata.creators.${i}.name`, message: missing });
    });
  return errors;
}

export function fileJson(base: string, d: StoredDeposition, f: StoredFile) {
  return {
    id: f.id,
    filename: f.key,
    filesize: f.size,
    checksum: f.md5,
    links: {
      self: `${base}/api/deposit/depositions/${d.id}/files/${f.id}`,
      download: `${base}/api/files/${d.bucket}/${encodeURIComponent(f.key)}`,
    },
  };
}

export class Depositions {
  constructor(
    private readonly files: DepositionFiles,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  get(id: number): StoredDeposition {
    const d = this.files.get(id);
    if (!d) throw new ApiError(404, 'PID does not exist.');
    return d;
  }

  private draftOf(concept: number): StoredDeposition | undefined {
    return this.files.all().find((d) => d.conceptrecid === concept && d.state === 'unsubmitted');
  }

  private latestPublished(concept: number): StoredDeposition | undefined {
    return this.files
      .all()
      .filter((d) => d.conceptrecid === concept && d.state === 'done')
      .at(-1);
  }

  /** Zenodo's JSON of a deposition, its links absolute on `base` (the request's own host). */
  json(base: string, d: StoredDeposition) {
    const self = `${base}/api/deposit/depositions/${d.id}`;
    const published = d.state === 'done';
    const latestDraft = this.draftOf(d.conceptrecid) ?? this.latestPublished(d.conceptrecid) ?? d;
    const latest = this.latestPublished(d.conceptrecid);
    return {
      id: d.id,
      conceptrecid: String(d.conceptrecid),
      record_id: d.id,
      created: d.created,
      modified: d.modified,
      owner: 1,
      state: d.state,
      submitted: published,
      title: typeof d.metadata.title === 'string' ? d.metadata.title : '',
      metadata: published ? { ...d.metadata, doi: doiOf(d.id) } : d.metadata,
      files: d.files.map((f) => fileJson(base, d, f)),
      ...(published ? { doi: doiOf(d.id), doi_url: `https://doi.org/${doiOf(d.id)}`, conceptdoi: doiOf(d.conceptrecid) } : {}),
      links: {
        self,
        html: `${base}/deposit/${d.id}`,
        bucket: `${base}/api/files/${d.bucket}`,
        files: `${self}/files`,
        publish: `${self}/actions/publish`,
        newversion: `${self}/actions/newversion`,
        discard: `${self}/actions/discard`,
        edit: `${self}/actions/edit`,
        latest_draft: `${base}/api/deposit/depositions/${latestDraft.id}`,
        latest_draft_html: `${base}/deposit/${latestDraft.id}`,
        ...(latest ? { latest: `${base}/api/records/${latest.id}` } : {}),
        ...(published ? { record: `${base}/api/records/${d.id}`, doi: `https://doi.org/${doiOf(d.id)}` } : {}),
      },
    };
  }

  async create(metadata: Record<string, unknown>): Promise<StoredDeposition> {
    const conceptrecid = await this.files.allocateId();
    const id = await this.files.allocateId();
    const at = this.now();
    const d: StoredDeposition = { id, conceptrecid, bucket: crypto.randomUUID(), created: at, modified: at, state: 'unsubmitted', metadata, files: [] };
    return this.files.update(conceptrecid, () => ({ write: [d], result: d }));
  }

  /** Runs `change` on a draft, in its concept's queue; published depositions are refused with `refusal`. */
  private changeDraft<T>(
    id: number,
    refusal: string,
    change: (
      d: StoredDeposition,
    ) => Promise<{ write?: StoredDeposition[]; remove?: number[]; result: T }> | { write?: StoredDeposition[]; remove?: number[]; result: T },
  ): Promise<T> {
    const concept = this.get(id).conceptrecid;
    return this.files.update(concept, () => {
      const d = this.get(id);
      if (d.state !== 'unsubmitted') throw new ApiError(403, refusal);
      return change(d);
    });
  }

  updateMetadata(id: number, metadata: Record<string, unknown>): Promise<StoredDeposition> {
    return this.changeDraft(
      id,
      'Deposition is published: its metadata cannot be changed (Zenodo needs actions/edit first, which this service does not offer).',
      (d) => {
        const next = { ...d, metadata, modified: this.now() };
        return { write: [next], result: next };
      },
    );
  }

  delete(id: number): Promise<void> {
    return this.changeDraft(id, 'A published deposition cannot be deleted.', (d) => ({ remove: [d.id], result: undefined }));
  }

  publish(id: number): Promise<StoredDeposition> {
    return this.changeDraft(id, 'Deposition is already published.', (d) => {
      if (d.files.length === 0) throw new ApiError(400, 'Missing uploaded files. To publish a deposition, upload at least one file.');
      const errors = metadataErrors(d.metadata);
      if (errors.length) throw new ApiError(400, 'Validation error.', errors);
      const at = this.now();
      const next: StoredDeposition = { ...d, state: 'done', publishedAt: at, modified: at };
      return { write: [next], result: next };
    });
  }

  /**
   * A new version of a published deposition: a draft of the same concept holding its metadata
   * and copies of its files. Answers the deposition asked about (its `links.latest_draft` names
   * the draft); while a draft of the concept exists, asking again makes no other (Zenodo's rule).
   */
  newVersion(id: number): Promise<StoredDeposition> {
    const concept = this.get(id).conceptrecid;
    return this.files.update(concept, async () => {
      const d = this.get(id);
      if (d.state !== 'done') throw new ApiError(400, 'Only a published deposition can have a new version: publish this one first.');
      if (this.draftOf(concept)) return { result: d };
      const source = this.latestPublished(concept) ?? d;
      const draftId = await this.files.allocateId();
      const bucket = crypto.randomUUID();
      const dir = this.files.bucketPath(bucket);
      const files: StoredFile[] = [];
      for (const f of source.files) {
        const copy = { ...f, id: crypto.randomUUID() };
        // Stored bytes are never changed in place (a replacement is a new file), so a link is a safe copy.
        await fs.promises
          .link(this.files.blobPath(source.bucket, f.id), `${dir}/${copy.id}`)
          .catch(() => fs.promises.copyFile(this.files.blobPath(source.bucket, f.id), `${dir}/${copy.id}`));
        files.push(copy);
      }
      // The draft's DOI is minted when it is published, not inherited.
      const metadata = { ...source.metadata };
      delete metadata.doi;
      const at = this.now();
      const draft: StoredDeposition = { id: draftId, conceptrecid: concept, bucket, created: at, modified: at, state: 'unsubmitted', metadata, files };
      return { write: [draft], result: d };
    });
  }

  /** Records an upload whose bytes are complete at `tmp`, replacing a file of the same name. */
  commitUpload(bucket: string, key: string, tmp: string, size: number, md5: string, mimetype: string): Promise<StoredFile> {
    const owner = this.files.byBucketId(bucket);
    if (!owner) throw new ApiError(404, 'Bucket does not exist.');
    return this.changeDraft(owner.id, 'Bucket is locked for modifications: the deposition is published.', async (d) => {
      const file: StoredFile = { id: crypto.randomUUID(), key, size, md5, mimetype, created: this.now() };
      await fs.promises.rename(tmp, this.files.blobPath(bucket, file.id));
      const replaced = d.files.find((f) => f.key === key);
      const next = { ...d, files: [...d.files.filter((f) => f.key !== key), file], modified: this.now() };
      return { write: [next], result: { file, replaced } };
    }).then(async ({ file, replaced }) => {
      if (replaced) await fs.promises.rm(this.files.blobPath(bucket, replaced.id), { force: true });
      return file;
    });
  }

  deleteFile(id: number, fileId: string): Promise<void> {
    return this.changeDraft(id, 'Bucket is locked for modifications: the deposition is published.', (d) => {
      const gone = d.files.find((f) => f.id === fileId);
      if (!gone) throw new ApiError(404, 'File does not exist.');
      return { write: [{ ...d, files: d.files.filter((f) => f !== gone), modified: this.now() }], result: gone };
    }).then((gone) => fs.promises.rm(this.files.blobPath(this.get(id).bucket, gone.id), { force: true }));
  }
}
