/** The keys e2e tests on SQLite (and on PostgreSQL in sync-postgres.test.ts). */
import { keysSuite } from './keys-e2e-suite.ts';

keysSuite(() => ({}));
