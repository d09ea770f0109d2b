/** The access-token cache tests on PostgreSQL (a throwaway cluster, test/postgres.ts). */
import { tokenCacheSuite } from './accounts-token-cache-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['tokens']);

tokenCacheSuite(on('tokens'));
