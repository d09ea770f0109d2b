/** The receipts read markers tests on SQLite (and on PostgreSQL in sync-postgres.test.ts). */
import { receiptsSuite } from './receipts-read-markers-suite.ts';

receiptsSuite(() => ({}));
