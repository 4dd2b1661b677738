// A real PostgreSQL for the test run: a throw-away cluster on a loopback port under a temp
// folder, started once with the server binaries from Debian's packages (installed by
// scripts/install-test-tools.sh), stopped after the last test. Each caller gets a fresh database.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const PORT = Number(process.env.CUSTODY_TEST_PG_PORT ?? 15432);
let cluster: { dir: string; bin: string; asPostgres: string[] } | undefined;
let databases = 0;

function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : [];
  if (!versions.length)
    throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/install-test-tools.sh (apt-get install postgresql)');
  return path.join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

function startCluster(): NonNullable<typeof cluster> {
  const bin = serverBin();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custody-pg-'));
  // initdb refuses to run as root: as root, the cluster belongs to the postgres user.
  const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
  if (asPostgres.length) execFileSync('chown', ['postgres', dir]);
  const sh = (cmd: string, args: string[]) =>
    execFileSync(asPostgres[0] ?? cmd, asPostgres.length ? [...asPostgres.slice(1), cmd, ...args] : args, { stdio: 'pipe' });
  sh(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  sh(path.join(bin, 'pg_ctl'), [
    '-D',
    path.join(dir, 'data'),
    '-w',
    '-l',
    path.join(dir, 'server.log'),
    '-o',
    `-c listen_addresses=127.0.0.1 -p ${PORT} -k ${dir} -c fsync=off`,
    'start',
  ]);
  return { dir, bin, asPostgres };
}

/** A new, empty database on the test cluster; returns its postgres:// URL. */
export async function freshPostgresDatabase(): Promise<string> {
  cluster ??= startCluster();
  const name = `custody_${process.pid}_${++databases}`;
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${PORT}/postgres` });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return `postgres://postgres@127.0.0.1:${PORT}/${name}`;
}

export function stopPostgres(): void {
  if (!cluster) return;
  const { dir, bin, asPostgres } = cluster;
  const args = ['-D', path.join(dir, 'data'), '-m', 'fast', '-w', 'stop'];
  execFileSync(asPostgres[0] ?? path.join(bin, 'pg_ctl'), asPostgres.length ? [...asPostgres.slice(1), path.join(bin, 'pg_ctl'), ...args] : args, {
    stdio: 'pipe',
  });
  fs.rmSync(dir, { recursive: true, force: true });
  cluster = undefined;
}
