/** Spaces, room summaries and jump to date (spaces-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { spacesSuite } from './spaces-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['spaces']);

spacesSuite(on('spaces'));
