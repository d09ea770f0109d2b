/**
 * A real PostgreSQL for tests: `startPostgres()` runs a throwaway cluster from Debian's packages
 * (`/usr/lib/postgresql/<version>/bin`) in a temporary directory, listening on 127.0.0.1 on a
 * free port with trust auth; `stop()` shuts it down and deletes it. PostgreSQL refuses to run as
 * root, so as root the cluster is run as the `postgres` user (`runuser -u postgres --`) in a
 * directory chowned to it. With `WEFT_POSTGRES_URL` set, that server is used instead.
 *
 * Missing binaries are an error, never a skip: the storage suite must run on PostgreSQL.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

import type { TestServerOptions } from './harness.ts';
// Below the kernel's ephemeral range: a port it picked could go to another test's connection.
import { freePort } from './spawn.ts';

export interface TestPostgres {
  /** A connection string for `database` (created by {@link TestPostgres.createDatabase}). */
  url(database: string): string;
  /** Creates a fresh, empty database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  if (version === undefined) {
    throw new Error(
      'PostgreSQL is not installed: the storage suite needs /usr/lib/postgresql/<version>/bin ' +
        '(apt-get install postgresql, or scripts/provision.sh), or WEFT_POSTGRES_URL',
    );
  }
  return join(root, version, 'bin');
}

/** `runuser` lives in an sbin directory, which a non-login PATH may lack. */
function runuserPath(): string {
  return ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find(existsSync) ?? 'runuser';
}

/** Runs a PostgreSQL binary, as the `postgres` user when we are root. */
function run(binary: string, args: readonly string[]): void {
  const asRoot = process.getuid?.() === 0;
  const [command, argv] = asRoot
    ? [runuserPath(), ['-u', 'postgres', '--', binary, ...args]]
    : [binary, [...args]];
  execFileSync(command, argv, { stdio: 'pipe' });
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function handle(adminUrl: string, stop: () => Promise<void>): TestPostgres {
  return {
    url: (database) => withDatabase(adminUrl, database),
    async createDatabase(name) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new RangeError(`bad database name ${name}`);
      await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${name}`);
      await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
      return withDatabase(adminUrl, name);
    },
    stop,
  };
}

/** Starts a throwaway cluster (or connects to `WEFT_POSTGRES_URL`). */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env['WEFT_POSTGRES_URL'];
  if (external !== undefined && external !== '') return handle(external, async () => {});

  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), 'weft-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    // A UTF-8 locale whatever the environment's: LOWER folds non-ASCII letters only in one.
    run(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'weft',
      '-A',
      'trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
    ]);
    run(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off`,
      '-l',
      join(dir, 'log'),
      '-w',
      'start',
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = async () => {
    try {
      run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  return handle(`postgresql://weft@127.0.0.1:${port}/postgres`, stop);
}

/**
 * Registers hooks that start a throwaway cluster with one database per name (before the calling
 * file's suites: hooks registered first run first, and unwind last, so the cluster outlives the
 * servers) and returns `on(name)`, the server options of a suite that should use that database.
 */
export function postgresDatabases<Name extends string>(
  names: readonly Name[],
): (name: Name) => () => TestServerOptions {
  let postgres: TestPostgres | undefined;
  const urls = new Map<string, string>();
  beforeAll(async () => {
    postgres = await startPostgres();
    for (const name of names) {
      urls.set(name, await postgres.createDatabase(`${name}_${process.pid}`));
    }
  }, 60_000);
  afterAll(async () => {
    await postgres?.stop();
  });
  return (name) => () => ({
    file: { database: { backend: 'postgres', connection_string: urls.get(name) ?? '' } },
  });
}
