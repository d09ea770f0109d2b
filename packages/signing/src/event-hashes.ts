/**
 * Content hashes, reference hashes, event IDs and (room v12) room IDs.
 *
 * Spec: server-server API "Calculating the content hash for an event" and "Calculating the
 * reference hash for an event" (https://spec.matrix.org/v1.19/server-server-api/#signing-events);
 * rooms/fragments/v4-event-ids.md (event ID = `$` + URL-safe unpadded Base64 of the reference
 * hash); appendices "Room IDs" (v12: the create event's ID with sigil `!`).
 */
import { encodeBase64, encodeBase64Url } from './base64.ts';
import { canonicalBytes, canonicalSha256, sha256 } from './canonical.ts';
import { SigningError } from './errors.ts';
import { CONTENT_HASH_OMITTED_KEYS } from './event-encoding.ts';
import { checkJsonObject, type JsonObject, omitKeys, own } from './json-object.ts';
import { type RedactionRules, redactEvent, redactionRulesFor } from './redaction.ts';

/**
 * Room versions whose room IDs are derived from the `m.room.create` event (rooms/v12.md, "Room
 * IDs no longer include a domain component and are instead a hash of the m.room.create event").
 */
const ROOM_ID_FROM_CREATE_EVENT: ReadonlySet<string> = new Set(['12']);

/**
 * SHA-256 of the event without `unsigned`, `signatures` and `hashes` ("Calculating the content
 * hash for an event") and, as Synapse computes it, without `age_ts`, `outlier` and
 * `destinations` (see {@link CONTENT_HASH_OMITTED_KEYS} for why), as canonical JSON.
 */
export function contentHashBytes(event: JsonObject): Uint8Array {
  return canonicalSha256(omitKeys(event, CONTENT_HASH_OMITTED_KEYS));
}

/**
 * The content hash of an event as unpadded standard Base64: the value of `hashes.sha256`.
 * Covers the complete, unredacted event minus `unsigned`, `signatures`, `hashes` and Synapse's
 * `age_ts`, `outlier`, `destinations`.
 */
export function computeContentHash(event: JsonObject): string {
  checkJsonObject(event, 'event');
  return encodeBase64(contentHashBytes(event));
}

/**
 * The bytes the reference hash covers ("Calculating the reference hash for an event"):
 * 1. redact the event, 2. remove `signatures` and `unsigned`, 3. encode as canonical JSON.
 */
export function referenceHashInput(event: JsonObject, rules: RedactionRules): Uint8Array {
  return canonicalBytes(omitKeys(redactEvent(event, rules), ['signatures', 'unsigned']));
}

function referenceHashBytes(event: JsonObject, roomVersion: string | RedactionRules): Uint8Array {
  checkJsonObject(event, 'event');
  // Step 4: "A sha256 hash is calculated on the resulting JSON object."
  return sha256(referenceHashInput(event, redactionRulesFor(roomVersion)));
}

/** The reference hash of an event as unpadded standard Base64. */
export function computeReferenceHash(
  event: JsonObject,
  roomVersion: string | RedactionRules,
): string {
  return encodeBase64(referenceHashBytes(event, roomVersion));
}

/**
 * The event ID of an event in room versions 4 and later: `$` + URL-safe unpadded Base64 of the
 * reference hash (rooms/fragments/v4-event-ids.md). Room v4+ PDUs carry no `event_id`; if one is
 * present it is hashed like any other key the redaction keeps, as the spec's steps say.
 */
export function computeEventId(event: JsonObject, roomVersion: string | RedactionRules): string {
  return `$${encodeBase64Url(referenceHashBytes(event, roomVersion))}`;
}

/**
 * The room ID a room-v12 `m.room.create` event defines: its event ID with sigil `!` instead of
 * `$` (appendices "Room IDs"; rooms/v12.md auth rule 1.2). Throws `SigningError` with
 * `unsupported-room-version` for versions whose room IDs are not hashes, and `bad-event` unless
 * the event is an `m.room.create` event.
 */
export function computeRoomId(
  createEvent: JsonObject,
  roomVersion: string | RedactionRules,
): string {
  checkJsonObject(createEvent, 'createEvent');
  const rules = redactionRulesFor(roomVersion);
  if (!ROOM_ID_FROM_CREATE_EVENT.has(rules.roomVersion)) {
    throw new SigningError(
      'unsupported-room-version',
      `room version ${JSON.stringify(rules.roomVersion)} does not derive room IDs from the create event`,
    );
  }
  if (own(createEvent, 'type') !== 'm.room.create') {
    throw new SigningError('bad-event', 'room IDs derive only from an m.room.create event', {
      path: '$.type',
    });
  }
  return `!${encodeBase64Url(referenceHashBytes(createEvent, rules))}`;
}
