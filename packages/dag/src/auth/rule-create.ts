/**
 * Rule 1 of the authorization rules: `m.room.create` (rooms/v10.md, v11.md, v12.md).
 */
import type { DagEvent } from '../event.ts';
import type { RoomVersionRules } from '../room-versions.ts';
import { type AuthOutcome, allow, reject } from './outcome.ts';
import { isValidUserId, serverNameOf } from './user-id.ts';

/**
 * Room version identifiers the spec defines (rooms/index "Room version grammar" lists 1–12);
 * rule 1.3 rejects only versions that are not *recognised*, whether or not we support them.
 */
const RECOGNISED_ROOM_VERSIONS: ReadonlySet<string> = new Set(
  Array.from({ length: 12 }, (_, i) => String(i + 1)),
);

/** Rule 1: checks an `m.room.create` event; it never depends on room state. */
export function checkCreate(event: DagEvent, rules: RoomVersionRules): AuthOutcome {
  const auth = rules.authorization;
  // 1.1 If it has any prev_events, reject.
  if (event.prev_events.length > 0) {
    return reject('create-has-prev-events', 'rule 1.1: m.room.create has prev_events');
  }
  if (auth.roomCreateEventIdAsRoomId) {
    // v12 1.2 If the event has a room_id, reject.
    if (event.room_id !== undefined) {
      return reject('create-has-room-id', 'rule 1.2 (v12): m.room.create has a room_id');
    }
  } else {
    // v10/v11 1.2 If the domain of the room_id does not match the domain of the sender, reject.
    const roomServer = event.room_id === undefined ? undefined : serverNameOf(event.room_id);
    if (roomServer === undefined || roomServer !== serverNameOf(event.sender)) {
      return reject(
        'create-room-id-domain-mismatch',
        'rule 1.2: room_id domain does not match sender domain',
      );
    }
  }
  // 1.3 If content.room_version is present and is not a recognised version, reject.
  const version = event.content['room_version'];
  if (
    version !== undefined &&
    (typeof version !== 'string' || !RECOGNISED_ROOM_VERSIONS.has(version))
  ) {
    return reject('create-unknown-room-version', 'rule 1.3: unrecognised content.room_version');
  }
  // v10 1.4 "If content has no creator property, reject" (rooms/v10.md; v11 uses the sender
  // instead). Only the property's presence is required, whatever its value, as Synapse checks it
  // (`creator not in content`).
  if (!auth.useRoomCreateSender && !Object.hasOwn(event.content, 'creator')) {
    return reject('create-missing-creator', 'rule 1.4 (v10): content.creator is missing');
  }
  // v12 1.4 additional_creators, if present, must be an array of valid user IDs.
  if (auth.additionalRoomCreators && event.content['additional_creators'] !== undefined) {
    const extra = event.content['additional_creators'];
    if (!Array.isArray(extra) || !extra.every((id) => isValidUserId(id))) {
      return reject(
        'create-invalid-additional-creators',
        'rule 1.4 (v12): additional_creators is not an array of valid user IDs',
      );
    }
  }
  return allow();
}
