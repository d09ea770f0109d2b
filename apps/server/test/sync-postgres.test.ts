/**
 * The sync, receipts, to-device and e2e-key suites on PostgreSQL (typing lives in memory, so its
 * suite runs on SQLite only): the same tests as on SQLite, each suite against its own database
 * of a throwaway cluster (test/postgres.ts).
 */
import { afterAll, beforeAll, describe } from 'vitest';

import type { TestServerOptions } from './harness.ts';
import { keysSuite } from './keys-e2e-suite.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { receiptsSuite } from './receipts-read-markers-suite.ts';
import { syncSuite } from './sync-core-suite.ts';
import { toDeviceSuite } from './to-device-messaging-suite.ts';

let postgres: TestPostgres | undefined;
const urls = new Map<string, string>();
const databases = ['sync', 'receipts', 'todevice', 'keys'] as const;

// Registered before the suites' hooks: the cluster starts first and stops after the servers.
beforeAll(async () => {
  postgres = await startPostgres();
  for (const name of databases) {
    urls.set(name, await postgres.createDatabase(`${name}_${process.pid}`));
  }
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

function on(database: (typeof databases)[number]): () => TestServerOptions {
  return () => ({
    file: { database: { backend: 'postgres', connection_string: urls.get(database) ?? '' } },
  });
}

describe('on PostgreSQL', () => {
  syncSuite(on('sync'));
  receiptsSuite(on('receipts'));
  toDeviceSuite(on('todevice'));
  keysSuite(on('keys'));
});
