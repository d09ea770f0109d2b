/**
 * PDU format checks: the shape a PDU must have before it is hashed, signed or authorised
 * (spec server-server-api PDU schemas `pdu_v4`/`pdu_v11`/`pdu_v12`, client-server-api "Size
 * limits", appendices "Identifier Grammar").
 *
 * Checks run cheapest first, so a malformed event fails before the size check encodes it.
 */
import { encodeCanonicalJsonBytes } from '@weft/canonical-json';
import { computeEventId, type JsonObject } from '@weft/signing';

import { isValidUserId, utf8Length } from './auth/user-id.ts';
import { DagError } from './errors.ts';
import type { DagEvent } from './event.ts';
import type { RoomVersionRules } from './room-versions.ts';

/** The complete event, as canonical JSON, must not exceed 65,536 bytes (CS API "Size limits"). */
export const MAX_PDU_BYTES = 65_536;
/** `type`, `state_key`, room/event/user IDs must not exceed 255 bytes. */
export const MAX_IDENTIFIER_BYTES = 255;
/** `auth_events` holds at most 10 event IDs (`pdu_v4` schema). */
export const MAX_AUTH_EVENTS = 10;
/** `prev_events` holds at most 20 event IDs (`pdu_v4` schema). */
export const MAX_PREV_EVENTS = 20;

/** Options of {@link checkPduFormat}. */
export interface PduFormatOptions {
  /**
   * The event ID, if the caller already knows it. Otherwise a PDU's own `event_id` key is used
   * (stored events, fixtures), and when it has none, as room versions 4+ send them, the ID is
   * computed from the reference hash (`computeEventId` of `@weft/signing`, rooms/fragments/
   * v4-event-ids.md). An `event_id` key is trusted as given, so strip it from untrusted input.
   */
  readonly eventId?: string;
  /**
   * Require `hashes.sha256` and `signatures` (default `true`, as on the wire). Set `false` for
   * events built locally before signing, or for test fixtures without them.
   */
  readonly requireHashesAndSignatures?: boolean;
  /**
   * The PDU's size as canonical JSON, when the caller encoded it already (`@weft/signing`
   * `encodeEventForVerification`, which also gives the ID): the size check takes it instead of
   * encoding the whole event once more. It must be the size of this very PDU.
   */
  readonly canonicalBytes?: number;
}

type Json = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return 'non-integer number';
  return typeof value;
}

/**
 * Checks that `pdu` is a well-formed PDU of room version `rules` and returns its
 * {@link DagEvent} view.
 *
 * @throws DagError `missing-key`, `wrong-type`, `invalid-identifier`, `invalid-json` or
 *   `event-too-large`, with the offending `path`.
 */
export function checkPduFormat(
  pdu: unknown,
  rules: RoomVersionRules,
  options: PduFormatOptions = {},
): DagEvent {
  if (typeof rules?.eventFormat !== 'object') {
    throw new TypeError('checkPduFormat: rules must be a RoomVersionRules object');
  }
  if (!isObject(pdu)) {
    throw new DagError('wrong-type', 'a PDU must be a JSON object', {
      expected: 'object',
      got: typeName(pdu),
    });
  }
  const eventId = options.eventId ?? pdu['event_id'];
  const context = { eventId: typeof eventId === 'string' ? eventId : undefined };

  const field = (path: string, expected: string, ok: (v: unknown) => boolean): unknown => {
    const value = pdu[path];
    if (value === undefined) {
      throw new DagError('missing-key', `PDU is missing ${path}`, { ...context, path, expected });
    }
    if (!ok(value)) {
      throw new DagError('wrong-type', `PDU ${path} must be ${expected}`, {
        ...context,
        path,
        expected,
        got: typeName(value),
      });
    }
    return value;
  };
  const identifier = (path: string, value: string, sigil: string): void => {
    if (utf8Length(value) > MAX_IDENTIFIER_BYTES || (sigil !== '' && !value.startsWith(sigil))) {
      throw new DagError('invalid-identifier', `PDU ${path} is not a valid identifier`, {
        ...context,
        path,
        expected: `${sigil === '' ? 'a string' : `"${sigil}…"`} of at most 255 bytes`,
        got: `${utf8Length(value)} bytes`,
      });
    }
  };
  const isString = (v: unknown): boolean => typeof v === 'string';
  const isInteger = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v);
  const isEventIdList = (v: unknown): boolean => Array.isArray(v) && v.every(isString);

  let id: string | undefined;
  if (options.eventId !== undefined) {
    if (typeof options.eventId !== 'string') {
      throw new TypeError('checkPduFormat: options.eventId must be a string');
    }
    id = options.eventId;
  } else if (pdu['event_id'] !== undefined) {
    id = field('event_id', 'a string', isString) as string;
  }
  if (id !== undefined) identifier('event_id', id, '$');

  const type = field('type', 'a string', isString) as string;
  identifier('type', type, '');
  const sender = field('sender', 'a user ID', isString) as string;
  if (!isValidUserId(sender)) {
    throw new DagError('invalid-identifier', 'PDU sender is not a valid user ID', {
      ...context,
      path: 'sender',
      expected: '@localpart:server_name of at most 255 bytes',
    });
  }
  const content = field('content', 'an object', isObject) as Json;
  const originServerTs = field('origin_server_ts', 'an integer', isInteger) as number;
  // depth_v6: an integer no greater than 2^53 - 1 (canonical JSON range); never negative.
  const depth = field('depth', 'a non-negative integer', (v) => isInteger(v) && (v as number) >= 0);

  const authEvents = field('auth_events', 'an array of event IDs', isEventIdList) as string[];
  const prevEvents = field('prev_events', 'an array of event IDs', isEventIdList) as string[];
  checkIdList(authEvents, 'auth_events', MAX_AUTH_EVENTS, identifier, context);
  checkIdList(prevEvents, 'prev_events', MAX_PREV_EVENTS, identifier, context);

  // room_id: required, except on v12 create events, which have none (pdu_v12, MSC4291).
  const isV12Create = rules.eventFormat.createEventHasNoRoomId && type === 'm.room.create';
  let roomId: string | undefined;
  if (!isV12Create || pdu['room_id'] !== undefined) {
    roomId = field('room_id', 'a room ID', isString) as string;
    identifier('room_id', roomId, '!');
  }

  let stateKey: string | undefined;
  if (pdu['state_key'] !== undefined) {
    stateKey = field('state_key', 'a string', isString) as string;
    identifier('state_key', stateKey, '');
  }

  // redacts: top level before v11, inside content from v11 (MSC2174).
  let redacts: string | undefined;
  if (type === 'm.room.redaction') {
    const holder = rules.eventFormat.redactsInContent ? content : pdu;
    const path = rules.eventFormat.redactsInContent ? 'content.redacts' : 'redacts';
    const value = holder['redacts'];
    if (value !== undefined) {
      if (typeof value !== 'string') {
        throw new DagError('wrong-type', `PDU ${path} must be an event ID`, {
          ...context,
          path,
          expected: 'a string',
          got: typeName(value),
        });
      }
      identifier(path, value, '$');
      redacts = value;
    }
  }

  if (options.requireHashesAndSignatures ?? true) {
    field('hashes', 'an object with a sha256 string', (v) => isObject(v) && isString(v['sha256']));
    field(
      'signatures',
      'an object of server → key ID → signature',
      (v) =>
        isObject(v) &&
        Object.values(v).every((keys) => isObject(keys) && Object.values(keys).every(isString)),
    );
  }

  // Room versions 4+: the event ID is `$` + the URL-safe reference hash.
  if (id === undefined) {
    try {
      id = computeEventId(pdu as JsonObject, rules.id);
    } catch (cause) {
      throw new DagError('invalid-json', 'PDU event ID cannot be computed', { cause });
    }
  }

  // Size limit last: it encodes the whole event (client-server-api "Size limits").
  let size: number;
  try {
    size = options.canonicalBytes ?? encodeCanonicalJsonBytes(pdu).length;
  } catch (cause) {
    throw new DagError('invalid-json', 'PDU is not encodable as canonical JSON', {
      ...context,
      cause,
    });
  }
  if (size > MAX_PDU_BYTES) {
    throw new DagError('event-too-large', 'PDU exceeds 65536 bytes of canonical JSON', {
      ...context,
      expected: `at most ${MAX_PDU_BYTES} bytes`,
      got: `${size} bytes`,
    });
  }

  return {
    event_id: id,
    ...(roomId === undefined ? {} : { room_id: roomId }),
    sender,
    type,
    ...(stateKey === undefined ? {} : { state_key: stateKey }),
    content,
    prev_events: prevEvents,
    auth_events: authEvents,
    depth: depth as number,
    origin_server_ts: originServerTs,
    ...(redacts === undefined ? {} : { redacts }),
  };
}

function checkIdList(
  ids: readonly string[],
  path: string,
  max: number,
  identifier: (path: string, value: string, sigil: string) => void,
  context: { eventId: string | undefined },
): void {
  if (ids.length > max) {
    throw new DagError('wrong-type', `PDU ${path} lists more than ${max} events`, {
      ...context,
      path,
      expected: `at most ${max} event IDs`,
      got: `${ids.length}`,
    });
  }
  ids.forEach((value, i) => {
    identifier(`${path}[${i}]`, value, '$');
  });
}
