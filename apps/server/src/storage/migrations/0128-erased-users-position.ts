import type { Migration } from '../migrate.ts';

/**
 * The stream position of each erasure (`erase: true`, spec "POST /account/deactivate"): those who
 * join a room after it are served the erased user's events redacted, those who could see them
 * before keep them (services/rooms/erased-senders.ts). An erasure recorded before this column
 * existed gets position 0 — as if it came before every event — so its user's events are served
 * redacted to everyone (the copies of their state events in others' `prev_content` as well):
 * the erasure the user asked for, never less.
 */
export const migration: Migration = {
  statements: [`ALTER TABLE erased_users ADD COLUMN stream_position BIGINT NOT NULL DEFAULT 0`],
};
