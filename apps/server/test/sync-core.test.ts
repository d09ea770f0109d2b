/** The sync core tests on SQLite (and on PostgreSQL in sync-postgres.test.ts). */
import { syncSuite } from './sync-core-suite.ts';

syncSuite(() => ({}));
