// The custody CLI as a user runs it: `bin/custody.js` in its own process, with what it printed
// and its exit code, a failing command included.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../../config/config';

const execFileP = promisify(execFile);

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `custody ARGS` with the test's environment plus `env`; killed after `timeoutMs`. */
export async function custody(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  try {
    const { stdout, stderr } = await execFileP(process.execPath, [path.join(REPO_ROOT, 'bin', 'custody.js'), ...args], {
      env: { ...process.env, ...env },
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** One line on stderr, nothing on stdout, exit 1: how the CLI refuses. */
export function oneLineError(r: CliRun, what: string): string {
  assert.equal(r.code, 1, `${what}: exit code (stdout ${r.stdout})`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${what}: one line: ${r.stderr}`);
  return r.stderr.trimEnd();
}
