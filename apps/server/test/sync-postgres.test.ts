/**
 * The sync, receipts, to-device and e2e-key suites on PostgreSQL (typing lives in memory, so its
 * suite runs on SQLite only): the same tests as on SQLite, each suite against its own database
 * of a throwaway cluster (test/postgres.ts).
 */
import { describe } from 'vitest';

import { keysSuite } from './keys-e2e-suite.ts';
import { postgresDatabases } from './postgres.ts';
import { receiptsSuite } from './receipts-read-markers-suite.ts';
import { syncSuite } from './sync-core-suite.ts';
import { toDeviceSuite } from './to-device-messaging-suite.ts';

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['sync', 'receipts', 'todevice', 'keys']);

describe('on PostgreSQL', () => {
  syncSuite(on('sync'));
  receiptsSuite(on('receipts'));
  toDeviceSuite(on('todevice'));
  keysSuite(on('keys'));
});
