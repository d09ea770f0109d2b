/**
 * The verdicts inbound `/send` stores, on PostgreSQL (federation-receive-verdicts-suite.ts
 * against a throwaway cluster, test/postgres.ts).
 */
import { receiveVerdictsSuite } from './federation-receive-verdicts-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['verdicts']);

receiveVerdictsSuite(on('verdicts'));
