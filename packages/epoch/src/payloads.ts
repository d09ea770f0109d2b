/**
 * Key-sharing payloads in their Matrix form (spec: client-server API, End-to-End Encryption,
 * "Protocol definitions": `m.room_key`, `m.forwarded_room_key`, `m.room_key.withheld`, and the
 * `OlmPlaintext` wrapper of `m.olm.v1.curve25519-aes-sha2`).
 */
import { EpochError, typeName } from './errors.ts';
import { MEGOLM_ALGORITHM } from './policy.ts';
import type {
  DeviceInfo,
  OlmPlaintext,
  OwnDevice,
  RoomKeyWithheldContent,
  WithheldCode,
} from './types.ts';

/** Weft's marker on `m.room_key`: the receiver deletes the key once its message is decrypted. */
export const SINGLE_USE_FIELD = 'org.weft.single_use';

/** `m.room_key` content. */
export type RoomKeyContent = {
  readonly algorithm: typeof MEGOLM_ALGORITHM;
  readonly room_id: string;
  readonly session_id: string;
  readonly session_key: string;
  readonly shared_history: boolean;
  readonly [SINGLE_USE_FIELD]?: true;
};

/** `m.forwarded_room_key` content. */
export type ForwardedRoomKeyContent = {
  readonly algorithm: typeof MEGOLM_ALGORITHM;
  readonly room_id: string;
  readonly sender_key: string;
  readonly session_id: string;
  readonly session_key: string;
  readonly sender_claimed_ed25519_key: string;
  readonly forwarding_curve25519_key_chain: readonly string[];
  readonly shared_history: boolean;
};

export function roomKeyContent(
  roomId: string,
  sessionId: string,
  sessionKey: string,
  sharedHistory: boolean,
  singleUse: boolean,
): RoomKeyContent {
  return {
    algorithm: MEGOLM_ALGORITHM,
    room_id: roomId,
    session_id: sessionId,
    session_key: sessionKey,
    shared_history: sharedHistory,
    ...(singleUse ? { [SINGLE_USE_FIELD]: true as const } : {}),
  };
}

/**
 * The creator of a session forwarding it from an earlier index: the chain is empty because no
 * device stands between the creator and the recipient.
 */
export function forwardedRoomKeyContent(
  own: OwnDevice,
  roomId: string,
  sessionId: string,
  exportedKey: string,
  sharedHistory: boolean,
): ForwardedRoomKeyContent {
  return {
    algorithm: MEGOLM_ALGORITHM,
    room_id: roomId,
    sender_key: own.curve25519,
    session_id: sessionId,
    session_key: exportedKey,
    sender_claimed_ed25519_key: own.ed25519,
    forwarding_curve25519_key_chain: [],
    shared_history: sharedHistory,
  };
}

/** `m.room_key.withheld`; for `m.no_olm` the spec wants no `room_id` / `session_id`. */
export function withheldContent(
  own: OwnDevice,
  code: WithheldCode,
  roomId: string,
  sessionId: string,
): RoomKeyWithheldContent {
  const reason = WITHHELD_REASONS[code];
  if (code === 'm.no_olm') {
    return { algorithm: MEGOLM_ALGORITHM, sender_key: own.curve25519, code, reason };
  }
  return {
    algorithm: MEGOLM_ALGORITHM,
    room_id: roomId,
    session_id: sessionId,
    sender_key: own.curve25519,
    code,
    reason,
  };
}

/** Human-readable reasons; the spec's text for each code. */
const WITHHELD_REASONS: Readonly<Record<WithheldCode, string>> = {
  'm.blacklisted': 'You have been blocked by the sender.',
  'm.unverified': 'The sender only shares keys with verified devices.',
  'm.unauthorised': 'You are not allowed to have this key.',
  'm.unavailable': 'The sender does not have this key.',
  'm.no_olm': 'Unable to establish a secure channel.',
};

/** The spec's `OlmPlaintext` around a key payload, binding sender and recipient keys. */
export function olmPlaintext(
  own: OwnDevice,
  device: DeviceInfo,
  type: string,
  content: Readonly<Record<string, unknown>>,
): OlmPlaintext {
  return {
    type,
    content,
    sender: own.userId,
    recipient: device.userId,
    recipient_keys: { ed25519: device.ed25519 },
    keys: { ed25519: own.ed25519 },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a required string field, or throws `invalid-content` naming it. */
export function stringField(record: Record<string, unknown>, key: string, path: string): string {
  const value = record[key];
  if (typeof value !== 'string' || value === '') {
    throw new EpochError('invalid-content', `${path}.${key} must be a non-empty string`, {
      path: `${path}.${key}`,
      expected: 'string',
      got: typeName(value),
    });
  }
  return value;
}

/** Checks that `value` is a JSON object, or throws `invalid-content`. */
export function recordAt(value: unknown, path: string): Record<string, unknown> {
  if (!isRecord(value)) {
    throw new EpochError('invalid-content', `${path} must be an object`, {
      path,
      got: typeName(value),
    });
  }
  return value;
}
