// Receives one file upload: the request body streamed to a temp file in the bucket's folder,
// hashed on the way, never held whole in memory. The temp file is removed if the body does not
// arrive whole, so a cut upload leaves nothing the deposition could name.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { UploadFault } from './faults';

export interface ReceivedUpload {
  tmp: string;
  size: number;
  md5: string;
}

/** Holds each chunk back until the rate allows it: the sender sees TCP back-pressure, as from a slow link. */
class Throttle extends Transform {
  private sent = 0;
  private readonly started = Date.now();
  constructor(
    private readonly bytesPerSecond: number,
    private readonly signal: AbortSignal,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.sent += chunk.length;
    const due = this.started + (this.sent / this.bytesPerSecond) * 1000 - Date.now();
    if (due <= 0) return done(null, chunk);
    sleep(due, undefined, { signal: this.signal }).then(
      () => done(null, chunk),
      (e: unknown) => done(e as Error),
    );
  }
}

/** Counts and hashes the bytes; drops the connection once `resetAfterBytes` have passed (the cut-upload fault). */
class Meter extends Transform {
  size = 0;
  private readonly hash = crypto.createHash('md5');
  constructor(
    private readonly resetAfterBytes: number | undefined,
    private readonly socket: { destroy(): void },
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    this.hash.update(chunk);
    if (this.resetAfterBytes !== undefined && this.size >= this.resetAfterBytes) {
      this.socket.destroy();
      return done(new Error(`connection dropped after ${this.size} bytes (a fault set through /_faults)`));
    }
    done(null, chunk);
  }
  md5(): string {
    return this.hash.digest('hex');
  }
}

let tmpCounter = 0;

export async function receiveUpload(req: http.IncomingMessage, dir: string, fault: UploadFault, signal: AbortSignal): Promise<ReceivedUpload> {
  const tmp = path.join(dir, `.tmp-${process.pid}-${++tmpCounter}-${crypto.randomUUID()}`);
  const meter = new Meter(fault.resetAfterBytes, req.socket);
  try {
    // flush: the bytes are on disk before the file is renamed into place and recorded.
    const file = fs.createWriteStream(tmp, { flush: true });
    if (fault.bytesPerSecond) await pipeline(req, new Throttle(fault.bytesPerSecond, signal), meter, file);
    else await pipeline(req, meter, file);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) !== meter.size) throw new Error(`the body had ${meter.size} bytes, content-length said ${declared}`);
    return { tmp, size: meter.size, md5: meter.md5() };
  } catch (e) {
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}

const MIME_TYPES: Record<string, string> = {
  '.txt': 'text/plain',
  '.csv': 'text/csv',
  '.json': 'application/json',
  '.xml': 'application/xml',
  '.pdf': 'application/pdf',
  '.zip': 'application/zip',
  '.tar': 'application/x-tar',
  '.gz': 'application/gzip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};

/** Guessed from the name, as Zenodo does. */
export function mimetypeOf(filename: string): string {
  return MIME_TYPES[path.extname(filename).toLowerCase()] ?? 'application/octet-stream';
}
