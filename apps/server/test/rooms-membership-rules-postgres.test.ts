/**
 * Membership and room-creation rules (rooms-membership-rules-suite.ts) on a throwaway PostgreSQL
 * cluster (test/postgres.ts): the alias race meets PostgreSQL's unique violation there.
 */
import { postgresDatabases } from './postgres.ts';
import { roomsMembershipRulesSuite } from './rooms-membership-rules-suite.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['membership_rules']);

roomsMembershipRulesSuite(on('membership_rules'));
