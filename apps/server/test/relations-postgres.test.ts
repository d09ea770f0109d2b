/** The event relationship tests (relations-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { relationsSuite } from './relations-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['relations']);

relationsSuite(on('relations'));
