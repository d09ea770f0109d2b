/** The user directory tests (user-directory-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { userDirectorySuite } from './user-directory-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['userdirectory']);

userDirectorySuite(on('userdirectory'));
