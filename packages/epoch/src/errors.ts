/**
 * The one error class of `@weft/epoch`.
 *
 * Refusing a key to a device is not an error: it yields an `m.room_key.withheld` notice. An
 * `EpochError` is thrown for malformed room state or key payloads, and for keys or messages the
 * receiving side must not accept.
 */

const MARKER = Symbol.for('weft.epoch.error');

/** Every reason an `EpochError` is thrown. */
export type EpochErrorCode =
  /** `m.room.encryption` names an algorithm other than `m.megolm.v1.aes-sha2`. */
  | 'unsupported-algorithm'
  /** `m.room.encryption` content (or its `org.weft.policy` field) is malformed. */
  | 'invalid-policy'
  /** A key-sharing payload or an encrypted event is malformed. */
  | 'invalid-content'
  /** An Olm payload was addressed to another user or device. */
  | 'wrong-recipient'
  /** A forwarded key did not come from the device that created the session. */
  | 'untrusted-forward'
  /** A session key's own session ID differs from the one the payload claims. */
  | 'session-mismatch'
  /** A decrypted event or a stored session belongs to another room than the one asked for. */
  | 'room-mismatch'
  /** The room's membership changed during every attempt to share a new key (see `RoomSource`). */
  | 'membership-unsettled'
  /** No key for the session is held (never received, withheld, or deleted by policy). */
  | 'unknown-session'
  /** The Megolm message could not be decrypted with the held key (e.g. index before it). */
  | 'decrypt-failed'
  /** The sending device's user is not joined to the room. */
  | 'not-a-member';

/** Optional context carried by an {@link EpochError}. */
export interface EpochErrorContext {
  /** The room concerned. */
  readonly roomId?: string;
  /** The Megolm session concerned (a public identifier, never key material). */
  readonly sessionId?: string;
  /** Path of the offending field, e.g. `content.org.weft.policy.mode`. */
  readonly path?: string;
  /** What was expected there. */
  readonly expected?: string;
  /** What was found (a type name or public value, never a secret). */
  readonly got?: string;
  /** The underlying error. */
  readonly cause?: unknown;
}

/**
 * Error thrown by `@weft/epoch`. Test with {@link EpochError.isInstance}, which works across
 * duplicated installs where `instanceof` does not. Messages never contain key material.
 */
export class EpochError extends Error {
  /** Why it was thrown. */
  readonly code: EpochErrorCode;
  /** The room concerned, when known. */
  readonly roomId: string | undefined;
  /** The Megolm session concerned, when known. */
  readonly sessionId: string | undefined;
  /** Path of the offending field, when known. */
  readonly path: string | undefined;
  /** What was expected, when known. */
  readonly expected: string | undefined;
  /** What was found, when known. */
  readonly got: string | undefined;
  readonly [MARKER] = true;

  constructor(code: EpochErrorCode, message: string, context: EpochErrorContext = {}) {
    super(message, context.cause === undefined ? undefined : { cause: context.cause });
    this.name = 'EpochError';
    this.code = code;
    this.roomId = context.roomId;
    this.sessionId = context.sessionId;
    this.path = context.path;
    this.expected = context.expected;
    this.got = context.got;
  }

  /** True when `e` is an `EpochError` from any copy of this package. */
  static isInstance(e: unknown): e is EpochError {
    return typeof e === 'object' && e !== null && (e as { [MARKER]?: unknown })[MARKER] === true;
  }
}

/** A short, secret-free description of a value's JSON type, for error context. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return 'non-integer number';
  return typeof value;
}
