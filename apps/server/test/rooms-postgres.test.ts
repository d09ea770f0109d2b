/**
 * The room endpoints on PostgreSQL: the same suite as rooms-api.test.ts against a throwaway
 * PostgreSQL cluster (test/postgres.ts).
 */
import { postgresDatabases } from './postgres.ts';
import { roomsApiSuite } from './rooms-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['rooms']);

roomsApiSuite(on('rooms'));
