import type { Migration } from '../migrate.ts';

/**
 * History visibility per event (services/rooms/event-visibility.ts) reads a room's
 * `m.room.history_visibility` events and one user's member events in stream order; this index
 * makes both a seek instead of a scan of the room (or of every room's member events).
 */
export const migration: Migration = {
  statements: [
    'CREATE INDEX events_by_room_state_key ON events (room_id, type, state_key, stream_position)',
  ],
};
