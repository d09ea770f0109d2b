/** Ignoring users (ignored-users-suite.ts) on PostgreSQL (test/postgres.ts). */
import { ignoredUsersSuite } from './ignored-users-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['ignored_users']);

ignoredUsersSuite(on('ignored_users'));
