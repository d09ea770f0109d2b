/**
 * The sync, receipts, to-device and e2e-key suites on PostgreSQL (typing lives in memory, so its
 * suite runs on SQLite only): the same tests as on SQLite, each suite against its own database
 * of a throwaway cluster started from Debian's packages (as the `postgres` user when the tests
 * run as root, since PostgreSQL refuses to run as root), listening only on a Unix socket in a
 * temporary directory.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe } from 'vitest';

import type { TestServerOptions } from './harness.ts';
import { keysSuite } from './keys-e2e-suite.ts';
import { receiptsSuite } from './receipts-read-markers-suite.ts';
import { syncSuite } from './sync-core-suite.ts';
import { toDeviceSuite } from './to-device-messaging-suite.ts';

function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const version = versions.find((v) => existsSync(join(root, v, 'bin', 'initdb')));
  if (version === undefined)
    throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
  return join(root, version, 'bin');
}

const runAs = (): { uid?: number; gid?: number } => {
  if (process.getuid?.() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
};

const PORT = 5433;
let dir = '';
let bin = '';
const databases = ['sync', 'receipts', 'todevice', 'keys'] as const;

beforeAll(() => {
  bin = postgresBin();
  dir = mkdtempSync(join(tmpdir(), 'weft-sync-pg-'));
  const user = runAs();
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid ?? user.uid);
  const data = join(dir, 'data');
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', 'weft', '-A', 'trust'], {
    ...user,
    stdio: 'ignore',
  });
  execFileSync(
    join(bin, 'pg_ctl'),
    [
      '-D',
      data,
      '-o',
      `-k ${dir} -c listen_addresses='' -p ${PORT} -c fsync=off`,
      '-l',
      join(dir, 'log'),
      '-w',
      'start',
    ],
    { ...user, stdio: 'ignore' },
  );
  for (const name of databases) {
    execFileSync(join(bin, 'createdb'), ['-h', dir, '-p', String(PORT), '-U', 'weft', name], {
      ...user,
      stdio: 'ignore',
    });
  }
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

function on(database: (typeof databases)[number]): () => TestServerOptions {
  return () => ({
    file: {
      database: {
        backend: 'postgres',
        connection_string: `postgresql://weft@localhost:${PORT}/${database}?host=${dir}`,
      },
    },
  });
}

describe('on PostgreSQL', () => {
  syncSuite(on('sync'));
  receiptsSuite(on('receipts'));
  toDeviceSuite(on('todevice'));
  keysSuite(on('keys'));
});
