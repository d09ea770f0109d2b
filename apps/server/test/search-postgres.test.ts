/** The server-side search tests (search-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { searchSuite } from './search-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['search']);

searchSuite(on('search'));
