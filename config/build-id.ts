// Every output carries the build id of the worker that made it, so what a bad deployment
// produced can be found again. CUSTODY_BUILD_ID wins; then the id `npm run build` stamped into
// dist/ (a deployment may have no git); else package version + git commit of the checkout.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from './config';

let cached: string | undefined;

export function custodyVersion(): string {
  return (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export function buildId(): string {
  // Read each time: a test runs two builds' workers in one process one after the other.
  if (process.env.CUSTODY_BUILD_ID) return process.env.CUSTODY_BUILD_ID;
  if (cached) return cached;
  const stamped = path.join(REPO_ROOT, 'dist', 'build-id');
  if (__filename.endsWith('.js') && existsSync(stamped)) return (cached = readFileSync(stamped, 'utf8').trim());
  let commit = 'nogit';
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    // Not a checkout (an installed package): the version alone identifies the build.
  }
  cached = `${custodyVersion()}+${commit}`;
  return cached;
}
