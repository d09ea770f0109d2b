import type { Migration } from '../migrate.ts';

/** A redaction drops the redacted event's push actions (services/push) by event ID. */
export const migration: Migration = {
  statements: ['CREATE INDEX event_push_actions_by_event ON event_push_actions (event_id)'],
};
