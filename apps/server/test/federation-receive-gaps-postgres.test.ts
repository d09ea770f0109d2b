/**
 * Filling gaps from a hostile peer, on PostgreSQL (federation-receive-gaps-suite.ts against a
 * throwaway cluster, test/postgres.ts).
 */
import { receiveGapsSuite } from './federation-receive-gaps-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['gaps']);

receiveGapsSuite(on('gaps'));
