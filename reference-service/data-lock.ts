// One reference service per data folder: two would both rewrite state.json from their own
// memory, and the verdicts of one would be lost. The lock is a file holding the service's pid.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export class DataFolderInUse extends Error {}

export interface DataFolderLock {
  release(): void;
}

/** A running process, also one of another user (EPERM). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function holderOf(lockFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(lockFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Creates the lock file with our pid in one step (link of a complete file): no reader sees it empty. */
function tryCreate(lockFile: string): boolean {
  const tmp = `${lockFile}.${process.pid}.${crypto.randomUUID()}`;
  fs.writeFileSync(tmp, `${process.pid}\n`);
  try {
    fs.linkSync(tmp, lockFile);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Takes `<dataDir>/service.lock`. A lock left by a process that is gone (a service killed before
 * it could release it) is taken over; a running holder is named.
 */
export function lockDataFolder(dataDir: string): DataFolderLock {
  const lockFile = path.join(dataDir, 'service.lock');
  for (;;) {
    if (tryCreate(lockFile)) return { release: () => releaseIfOurs(lockFile) };
    const holder = holderOf(lockFile);
    if (holder !== undefined && isRunning(holder))
      throw new DataFolderInUse(
        `data folder ${dataDir} is in use by another reference service (pid ${holder}): stop it first, or remove ${lockFile} if pid ${holder} is not a reference service`,
      );
    // Stale (or unreadable, from a crash while it was written): the next round takes it.
    fs.rmSync(lockFile, { force: true });
  }
}

function releaseIfOurs(lockFile: string): void {
  if (holderOf(lockFile) === process.pid) fs.rmSync(lockFile, { force: true });
}
