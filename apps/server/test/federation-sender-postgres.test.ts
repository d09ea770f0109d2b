/**
 * The outbound queue on PostgreSQL (federation-sender-suite.ts against a throwaway cluster,
 * test/postgres.ts): there an EDU's wake-up before COMMIT would read no rows.
 */
import { senderSuite } from './federation-sender-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['sender']);

senderSuite(on('sender'));
