/** Erasure at deactivation on PostgreSQL (a throwaway cluster, test/postgres.ts). */
import { accountErasureSuite } from './account-erasure-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['erasure']);

accountErasureSuite(on('erasure'));
