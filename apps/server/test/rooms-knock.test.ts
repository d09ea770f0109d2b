/**
 * Knocking (client-server-api "Knocking on rooms") over real HTTP: a user knocks on a room whose
 * join rule is `knock` (or `knock_restricted`), sees it in `/sync`'s `rooms.knock` with
 * `knock_state`, cannot join on their own, and gets in once a member invites them. Rooms that do
 * not allow knocking refuse it (the authorization rules of @weft/dag). Responses are checked
 * against the spec's OpenAPI schemas.
 */
import { knockSuite } from './rooms-knock-suite.ts';

// On SQLite; push-keys-rooms-postgres.test.ts runs the same suite on PostgreSQL.
knockSuite();
