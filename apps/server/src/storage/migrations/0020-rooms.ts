import type { Migration } from '../migrate.ts';

/**
 * Rooms (services/rooms): events as signed PDUs with their stream positions, state groups stored
 * as deltas, current state, memberships, forward extremities, transaction IDs, aliases and the
 * public room directory.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE rooms (
      room_id TEXT PRIMARY KEY,
      room_version TEXT NOT NULL,
      creator TEXT NOT NULL,
      created_ts BIGINT NOT NULL,
      is_public INTEGER NOT NULL DEFAULT 0,
      current_state_group BIGINT,
      max_depth BIGINT NOT NULL DEFAULT 0
    )`,
    // pdu: the event JSON exactly as signed/received (federation serves it as is).
    // stream_position is NULL for outliers and rejected or soft-failed events (never synced).
    // state_group: the room state after this event.
    // unsigned: server-local unsigned data computed at persist time (replaces_state, prev_content).
    `CREATE TABLE events (
      event_id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL,
      stream_position BIGINT UNIQUE,
      depth BIGINT NOT NULL,
      type TEXT NOT NULL,
      state_key TEXT,
      sender TEXT NOT NULL,
      origin_server_ts BIGINT NOT NULL,
      pdu TEXT NOT NULL,
      unsigned TEXT,
      state_group BIGINT,
      outlier INTEGER NOT NULL DEFAULT 0,
      rejected INTEGER NOT NULL DEFAULT 0,
      soft_failed INTEGER NOT NULL DEFAULT 0,
      redacted_by TEXT,
      sender_device TEXT,
      txn_id TEXT
    )`,
    'CREATE INDEX events_by_room_position ON events (room_id, stream_position)',
    'CREATE INDEX events_membership ON events (type, state_key, stream_position)',
    // A state group is the full room state at some point, stored as its entries minus those of
    // prev_group (a delta); chain_length counts deltas back to a full snapshot.
    `CREATE TABLE state_groups (
      group_id {{serial}},
      room_id TEXT NOT NULL,
      prev_group BIGINT,
      chain_length INTEGER NOT NULL
    )`,
    `CREATE TABLE state_group_entries (
      group_id BIGINT NOT NULL,
      type TEXT NOT NULL,
      state_key TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (group_id, type, state_key)
    )`,
    `CREATE TABLE room_current_state (
      room_id TEXT NOT NULL,
      type TEXT NOT NULL,
      state_key TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (room_id, type, state_key)
    )`,
    `CREATE TABLE room_memberships (
      room_id TEXT NOT NULL,
      user_id TEXT NOT NULL,
      membership TEXT NOT NULL,
      event_id TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      forgotten INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (room_id, user_id)
    )`,
    'CREATE INDEX room_memberships_by_user ON room_memberships (user_id, membership)',
    `CREATE TABLE room_forward_extremities (
      room_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (room_id, event_id)
    )`,
    `CREATE TABLE event_txn_ids (
      user_id TEXT NOT NULL,
      device_id TEXT NOT NULL,
      txn_id TEXT NOT NULL,
      event_id TEXT NOT NULL,
      PRIMARY KEY (user_id, device_id, txn_id)
    )`,
    `CREATE TABLE room_aliases (
      room_alias TEXT PRIMARY KEY,
      room_id TEXT NOT NULL,
      creator TEXT NOT NULL
    )`,
    'CREATE INDEX room_aliases_by_room ON room_aliases (room_id)',
  ],
};
