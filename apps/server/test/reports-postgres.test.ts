/** The reporting tests (reports-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { reportsSuite } from './reports-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['reports']);

reportsSuite(on('reports'));
