/**
 * Room upgrades (client-server-api "Room Upgrades") over real HTTP: the old room gets a
 * tombstone and restricted power levels, the new room (versions 10, 11 and 12) names its
 * predecessor, has the transferable state and bans copied, and takes over the local aliases and
 * the directory listing; a user without the power to upgrade changes nothing. Responses are
 * checked against the spec's OpenAPI schemas.
 */
import { upgradeSuite } from './rooms-upgrade-suite.ts';

// On SQLite; push-keys-rooms-postgres.test.ts runs the same suite on PostgreSQL.
upgradeSuite();
