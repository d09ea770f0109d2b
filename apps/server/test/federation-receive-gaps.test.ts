/**
 * Filling gaps from a hostile peer, on SQLite (federation-receive-gaps-suite.ts; the same suite
 * runs on PostgreSQL in federation-receive-gaps-postgres.test.ts).
 */
import { receiveGapsSuite } from './federation-receive-gaps-suite.ts';

receiveGapsSuite();
