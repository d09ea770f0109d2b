import type { Migration } from '../migrate.ts';

/**
 * Invites received over federation for rooms this server is not in (services/federation/
 * membership): the `invite_room_state` the inviting server sent, shown to the invitee in
 * `/sync` as `invite_state` until they join or reject (spec server-server-api "Inviting to a
 * room"). The invite event itself is stored in `events` like any other.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE federation_invites (
      room_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      inviter_server TEXT NOT NULL,
      invite_state TEXT NOT NULL,
      PRIMARY KEY (room_id, user_id)
    )`,
  ],
};
