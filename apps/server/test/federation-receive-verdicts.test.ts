/**
 * The verdicts inbound `/send` stores, on SQLite (federation-receive-verdicts-suite.ts; the
 * same suite runs on PostgreSQL in federation-receive-verdicts-postgres.test.ts).
 */
import { receiveVerdictsSuite } from './federation-receive-verdicts-suite.ts';

receiveVerdictsSuite();
