// One S3 transfer in its own process, so the benchmark can read this process's peak RSS.
// Usage: storage-child.ts <mode> <file> <s3://bucket/prefix> <endpoint>; prints one JSON line.
// Modes: sdk-upload / sdk-download (the SDK as a hand-rolled uploader uses it: defaults, no
// verification) and custody-put / custody-get (custody's storage: SHA-256 while moving, verified).
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';
import { openStorage, parseStorageUrl, sha256OfFile } from '../storage';

async function main() {
  const [mode, file, location, endpoint] = process.argv.slice(2);
  const parsed = parseStorageUrl(location);
  if (parsed.kind !== 's3') throw new Error(`${location} is not an s3:// location`);
  const key = 'bench/object.bin';
  const rssBefore = process.resourceUsage().maxRSS;
  const started = process.hrtime.bigint();
  if (mode === 'sdk-upload' || mode === 'sdk-download') {
    const client = new S3Client({ endpoint, forcePathStyle: true });
    const Key = `${parsed.prefix}/${key}`;
    if (mode === 'sdk-upload') {
      await new Upload({ client, params: { Bucket: parsed.bucket, Key, Body: fs.createReadStream(file) }, partSize: 16 * 1024 * 1024, queueSize: 2 }).done();
    } else {
      const out = await client.send(new GetObjectCommand({ Bucket: parsed.bucket, Key }));
      await pipeline(out.Body as Readable, fs.createWriteStream(`${file}.download`));
    }
  } else {
    const storage = openStorage(location, { endpoint, forcePathStyle: true, partSize: 16 * 1024 * 1024 });
    if (mode === 'custody-put') {
      // As the download and package stages do: the digest first, then the verified upload.
      const sha256 = await sha256OfFile(file);
      await storage.put(key, () => fs.createReadStream(file), { size: fs.statSync(file).size, sha256 });
    } else {
      await storage.getFile(key, `${file}.download`);
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ seconds, maxRssKiB: process.resourceUsage().maxRSS, baselineRssKiB: rssBefore }));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
