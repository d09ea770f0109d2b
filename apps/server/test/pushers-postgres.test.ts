/** The pusher tests (pushers-suite.ts) on PostgreSQL (test/postgres.ts). */
import { postgresDatabases } from './postgres.ts';
import { pushersSuite } from './pushers-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['pushers']);

pushersSuite(on('pushers'));
