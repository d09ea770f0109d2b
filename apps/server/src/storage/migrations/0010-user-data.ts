import type { Migration } from '../migrate.ts';

/**
 * Per-user data beside the account: profiles, account data (global rows have `room_id` ''),
 * stored filters, push rules and presence (services/profile, account-data, filters, push-rules,
 * presence). Account data and presence carry the stream position of their last write so `/sync`
 * can return what changed after a token.
 */
export const migration: Migration = {
  statements: [
    `CREATE TABLE profiles (
      user_id TEXT PRIMARY KEY,
      displayname TEXT,
      avatar_url TEXT
    )`,
    `CREATE TABLE account_data (
      user_id TEXT NOT NULL,
      room_id TEXT NOT NULL,
      type TEXT NOT NULL,
      content TEXT NOT NULL,
      stream_position BIGINT NOT NULL,
      PRIMARY KEY (user_id, room_id, type)
    )`,
    'CREATE INDEX account_data_by_position ON account_data (user_id, stream_position)',
    `CREATE TABLE filters (
      user_id TEXT NOT NULL,
      filter_id TEXT NOT NULL,
      filter_json TEXT NOT NULL,
      PRIMARY KEY (user_id, filter_id)
    )`,
    `CREATE TABLE push_rules (
      user_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      rule_id TEXT NOT NULL,
      priority BIGINT NOT NULL,
      rule_json TEXT NOT NULL,
      PRIMARY KEY (user_id, kind, rule_id)
    )`,
    `CREATE TABLE push_rule_overrides (
      user_id TEXT NOT NULL,
      kind TEXT NOT NULL,
      rule_id TEXT NOT NULL,
      enabled INTEGER,
      actions_json TEXT,
      PRIMARY KEY (user_id, kind, rule_id)
    )`,
    `CREATE TABLE presence (
      user_id TEXT PRIMARY KEY,
      presence TEXT NOT NULL,
      status_msg TEXT,
      last_active_ts BIGINT NOT NULL,
      stream_position BIGINT NOT NULL
    )`,
    'CREATE INDEX presence_by_position ON presence (stream_position)',
    `CREATE TABLE media (
      media_id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL,
      content_type TEXT NOT NULL,
      filename TEXT,
      size BIGINT NOT NULL,
      sha256 TEXT NOT NULL,
      created_ts BIGINT NOT NULL
    )`,
  ],
};
