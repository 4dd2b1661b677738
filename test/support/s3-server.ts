// A real S3 API server for the test run: Versity Gateway (built by scripts/get-versitygw.sh)
// serving a temp folder on a loopback port, started once and stopped after the last test.
// Each caller gets fresh buckets; the credentials reach custody the standard way, through
// AWS_* environment variables, as they would in production.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { REPO_ROOT } from '../../config/config';
import type { S3Options, Storage } from '../../storage';
import { putBytes } from '../../storage/small-objects';

const PORT = Number(process.env.CUSTODY_TEST_S3_PORT ?? 17070);
export const S3_ACCESS_KEY = 'custody-test-access';
export const S3_SECRET_KEY = 'custody-test-secret-do-not-log';

let server: { child: ChildProcess; dir: string; bin: string } | undefined;
let buckets = 0;

export interface TestS3 {
  endpoint: string;
  /** What custody's config takes (storage.s3). */
  options: S3Options;
  /** The standard AWS environment a worker process is given. */
  env: Record<string, string>;
  /** The folder the gateway serves: one sub-folder per bucket. */
  dir: string;
  /** A new, empty bucket; returns its name. */
  bucket(label: string): Promise<string>;
  client(): S3Client;
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`versitygw exited with ${child.exitCode}: ${fs.readFileSync(log, 'utf8')}`);
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(1000) });
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`versitygw did not answer on ${endpoint} within 30 s: ${fs.readFileSync(log, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function spawnGateway(bin: string, dir: string): ChildProcess {
  const out = fs.openSync(path.join(dir, 'versitygw.log'), 'a');
  const child = spawn(bin, ['--access', S3_ACCESS_KEY, '--secret', S3_SECRET_KEY, '--port', `127.0.0.1:${PORT}`, 'posix', path.join(dir, 'buckets')], {
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  return child;
}

/** Sets the AWS_* variables in this process so the SDK's standard chain finds them. */
export async function startTestS3(): Promise<TestS3> {
  const endpoint = `http://127.0.0.1:${PORT}`;
  if (!server) {
    const bin = execFileSync(path.join(REPO_ROOT, 'scripts', 'get-versitygw.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-s3-'));
    fs.mkdirSync(path.join(dir, 'buckets'));
    server = { child: spawnGateway(bin, dir), dir, bin };
    await waitUntilAnswering(endpoint, server.child, path.join(dir, 'versitygw.log'));
  }
  const env = { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_REGION: 'us-east-1' };
  Object.assign(process.env, env);
  const options: S3Options = { endpoint, region: 'us-east-1', forcePathStyle: true };
  const client = () =>
    new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY } });
  const dir = path.join(server.dir, 'buckets');
  return {
    endpoint,
    options,
    env,
    dir,
    client,
    async bucket(label) {
      const name = `${label}-${process.pid}-${++buckets}`.toLowerCase();
      const c = client();
      await c.send(new CreateBucketCommand({ Bucket: name }));
      c.destroy();
      return name;
    },
  };
}

export function stopTestS3(): void {
  if (!server) return;
  server.child.kill('SIGTERM');
  fs.rmSync(server.dir, { recursive: true, force: true });
  server = undefined;
}

/**
 * Stops the S3 server (its API refuses connections) and returns what starts it again on the
 * same port with the same buckets and objects: an outage, as a chaos run makes one.
 */
export async function pauseTestS3(): Promise<() => Promise<void>> {
  const running = server;
  if (!running) throw new Error('the test S3 server is not running');
  await new Promise<void>((resolve) => {
    if (running.child.exitCode !== null || running.child.signalCode !== null) return resolve();
    running.child.once('exit', () => resolve());
    running.child.kill('SIGTERM');
  });
  return async () => {
    running.child = spawnGateway(running.bin, running.dir);
    await waitUntilAnswering(`http://127.0.0.1:${PORT}`, running.child, path.join(running.dir, 'versitygw.log'));
  };
}

/**
 * Serves an existing folder over S3, each sub-folder a bucket, on `port` until stop(): a benchmark's
 * generated source read through a bucket without uploading it first.
 */
export async function serveFolderOverS3(dir: string, port: number): Promise<{ options: S3Options; env: Record<string, string>; stop: () => void }> {
  const bin = execFileSync(path.join(REPO_ROOT, 'scripts', 'get-versitygw.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const log = path.join(os.tmpdir(), `custody-versitygw-${port}.log`);
  const out = fs.openSync(log, 'w');
  const child = spawn(bin, ['--access', S3_ACCESS_KEY, '--secret', S3_SECRET_KEY, '--port', `127.0.0.1:${port}`, 'posix', dir], {
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitUntilAnswering(endpoint, child, log);
  return {
    options: { endpoint, region: 'us-east-1', forcePathStyle: true },
    env: { AWS_ACCESS_KEY_ID: S3_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY, AWS_REGION: 'us-east-1', BENCH_S3_ENDPOINT: endpoint },
    stop: () => child.kill('SIGTERM'),
  };
}

/** Copies example objects into a storage, one prefix per object. */
export async function uploadExamples(storage: Storage, ids: string[]): Promise<void> {
  for (const id of ids) {
    const dir = path.join(REPO_ROOT, 'examples', 'collection', id);
    for (const rel of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      const file = path.join(dir, rel);
      if (fs.statSync(file).isFile()) await putBytes(storage, `${id}/${rel.split(path.sep).join('/')}`, fs.readFileSync(file));
    }
  }
}
