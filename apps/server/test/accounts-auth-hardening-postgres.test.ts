/** The accounts and auth hardening tests on PostgreSQL (a throwaway cluster, test/postgres.ts). */
import { authHardeningSuite } from './accounts-auth-hardening-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['auth']);

authHardeningSuite(on('auth'));
