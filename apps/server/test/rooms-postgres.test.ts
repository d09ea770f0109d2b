/**
 * The room endpoints on PostgreSQL: the same suite as rooms-api.test.ts against a throwaway
 * PostgreSQL cluster started from Debian's packages (as the `postgres` user when the tests run
 * as root, since PostgreSQL refuses to run as root), on a Unix socket in a temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll } from 'vitest';

import { roomsApiSuite } from './rooms-suite.ts';

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  if (version === undefined)
    throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  return join(root, version, 'bin');
}

let dir = '';
let bin = '';
const runAs = (): { uid?: number; gid?: number } => {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
};

beforeAll(() => {
  bin = postgresBin();
  dir = mkdtempSync(join(tmpdir(), 'weft-rooms-pg-'));
  const user = runAs();
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid ?? user.uid);
  execFileSync(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-U', 'weft', '-A', 'trust'], {
    ...user,
    stdio: 'ignore',
  });
  execFileSync(
    join(bin, 'pg_ctl'),
    [
      '-D',
      join(dir, 'data'),
      '-o',
      `-k ${dir} -c listen_addresses='' -p 5432 -c fsync=off`,
      '-l',
      join(dir, 'log'),
      '-w',
      'start',
    ],
    { ...user, stdio: 'ignore' },
  );
}, 60_000);

afterAll(() => {
  if (dir === '') return;
  try {
    execFileSync(join(bin, 'pg_ctl'), ['-D', join(dir, 'data'), '-m', 'immediate', 'stop'], {
      ...runAs(),
      stdio: 'ignore',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

roomsApiSuite(() => ({
  file: {
    database: {
      backend: 'postgres',
      connection_string: `postgresql://weft@localhost:5432/postgres?host=${dir}`,
    },
  },
}));
