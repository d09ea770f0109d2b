/**
 * The libolm binary message encoding (Olm spec, "The Olm Message Format",
 * https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-message-format).
 *
 * A message is a version byte (3) followed by key/value fields. Each key is a varint tag whose low
 * three bits give the value type (0 = varint integer, 2 = length-prefixed bytes). A normal message
 * ends with an 8-byte truncated HMAC over every byte before it; a pre-key message has no MAC of
 * its own and wraps a complete normal message.
 *
 * Decoding follows libolm: fields may come in any order, unknown fields are skipped, and missing
 * required fields are an error. Bounds are checked before every read so hostile input can only
 * produce a `RatchetError('bad-message-format')`.
 */
import { RatchetError } from '../errors.ts';
import { FieldReader } from '../message-fields.ts';

/** Olm protocol version byte ("The version byte is \x03"). */
export const OLM_VERSION = 3;
/** Length of the truncated HMAC-SHA-256 appended to normal messages (Olm "Version 1"). */
export const MAC_LENGTH = 8;
/** Curve25519 public key length. */
export const KEY_LENGTH = 32;

// Field tags: (field number << 3) | wire type.
const RATCHET_KEY_TAG = 0x0a;
const COUNTER_TAG = 0x10;
const CIPHERTEXT_TAG = 0x22;
const ONE_TIME_KEY_TAG = 0x0a;
const BASE_KEY_TAG = 0x12;
const IDENTITY_KEY_TAG = 0x1a;
const MESSAGE_TAG = 0x22;

// libolm stores the chain index in a uint32 (every varint field is refused above it).
const MAX_COUNTER = 0xffffffff;

/** A decoded normal (type 1) message. `authenticated` is every byte the MAC covers. */
export interface NormalMessage {
  readonly version: number;
  readonly ratchetKey: Uint8Array;
  readonly counter: number;
  readonly ciphertext: Uint8Array;
  readonly authenticated: Uint8Array;
  readonly mac: Uint8Array;
}

/** A decoded pre-key (type 0) message; `message` is the embedded normal message, still encoded. */
export interface PreKeyMessage {
  readonly version: number;
  readonly oneTimeKey: Uint8Array;
  readonly baseKey: Uint8Array;
  readonly identityKey: Uint8Array;
  readonly message: Uint8Array;
}

function malformed(reason: string, context: Record<string, number> = {}): RatchetError {
  return new RatchetError('bad-message-format', `malformed Olm message: ${reason}`, { context });
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
  while (value >= 0x80) {
    out[pos++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[pos++] = value;
  return pos;
}

function writeBytes(out: Uint8Array, pos: number, tag: number, bytes: Uint8Array): number {
  out[pos++] = tag;
  pos = writeVarint(out, pos, bytes.length);
  out.set(bytes, pos);
  return pos + bytes.length;
}

/**
 * Lays out a normal message with room for its MAC: returns the buffer (MAC bytes left zero) and
 * the length the MAC covers. The caller computes the MAC over `buffer.subarray(0, macOffset)`.
 * With `into` large enough, the message is written at its start and `buffer` is a view of it
 * (no allocation); otherwise `buffer` is a fresh array.
 */
export function encodeNormalMessage(
  ratchetKey: Uint8Array,
  counter: number,
  ciphertext: Uint8Array,
  into?: Uint8Array,
): { buffer: Uint8Array; macOffset: number } {
  const macOffset =
    1 +
    1 +
    varintLength(ratchetKey.length) +
    ratchetKey.length +
    1 +
    varintLength(counter) +
    1 +
    varintLength(ciphertext.length) +
    ciphertext.length;
  const length = macOffset + MAC_LENGTH;
  const buffer =
    into !== undefined && into.length >= length
      ? into.subarray(0, length).fill(0, macOffset)
      : new Uint8Array(length);
  buffer[0] = OLM_VERSION;
  let pos = writeBytes(buffer, 1, RATCHET_KEY_TAG, ratchetKey);
  buffer[pos++] = COUNTER_TAG;
  pos = writeVarint(buffer, pos, counter);
  writeBytes(buffer, pos, CIPHERTEXT_TAG, ciphertext);
  return { buffer, macOffset };
}

/** Encodes a pre-key message in libolm's field order: one-time key, base key, identity key, message. */
export function encodePreKeyMessage(
  oneTimeKey: Uint8Array,
  baseKey: Uint8Array,
  identityKey: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  const fields = [oneTimeKey, baseKey, identityKey, message];
  let length = 1;
  for (const field of fields) length += 1 + varintLength(field.length) + field.length;
  const out = new Uint8Array(length);
  out[0] = OLM_VERSION;
  let pos = writeBytes(out, 1, ONE_TIME_KEY_TAG, oneTimeKey);
  pos = writeBytes(out, pos, BASE_KEY_TAG, baseKey);
  pos = writeBytes(out, pos, IDENTITY_KEY_TAG, identityKey);
  writeBytes(out, pos, MESSAGE_TAG, message);
  return out;
}

function checkVersion(input: Uint8Array): void {
  if (input.length === 0) throw malformed('empty message');
  const version = input[0] as number;
  if (version !== OLM_VERSION) {
    throw new RatchetError('unsupported-version', 'unsupported Olm message version', {
      context: { expected: OLM_VERSION, got: version },
    });
  }
}

function requireKey(bytes: Uint8Array | undefined, name: string): Uint8Array {
  if (bytes === undefined) throw malformed(`missing ${name}`);
  if (bytes.length !== KEY_LENGTH) {
    throw malformed(`${name} has the wrong length`, { length: bytes.length });
  }
  return bytes;
}

/** Decodes a normal message (version, ratchet key, chain index, ciphertext, 8-byte MAC). */
export function decodeNormalMessage(input: Uint8Array): NormalMessage {
  if (input.length < 1 + MAC_LENGTH) throw malformed('too short', { length: input.length });
  checkVersion(input);
  const end = input.length - MAC_LENGTH;
  let ratchetKey: Uint8Array | undefined;
  let counter: number | undefined;
  let ciphertext: Uint8Array | undefined;
  const fields = new FieldReader(input, 1, end, MAX_COUNTER, malformed);
  while (fields.next()) {
    const tag = fields.tag;
    if ((tag & 7) === 2) {
      if (tag === RATCHET_KEY_TAG) ratchetKey = fields.bytes();
      else if (tag === CIPHERTEXT_TAG) ciphertext = fields.bytes();
    } else if (tag === COUNTER_TAG) {
      counter = fields.value;
    }
  }
  if (counter === undefined) throw malformed('missing chain index');
  if (ciphertext === undefined) throw malformed('missing ciphertext');
  return {
    version: OLM_VERSION,
    ratchetKey: requireKey(ratchetKey, 'ratchet key'),
    counter,
    ciphertext,
    authenticated: input.subarray(0, end),
    mac: input.subarray(end),
  };
}

/** Decodes a pre-key message (one-time key, base key, identity key, embedded message). */
export function decodePreKeyMessage(input: Uint8Array): PreKeyMessage {
  checkVersion(input);
  let oneTimeKey: Uint8Array | undefined;
  let baseKey: Uint8Array | undefined;
  let identityKey: Uint8Array | undefined;
  let message: Uint8Array | undefined;
  const fields = new FieldReader(input, 1, input.length, MAX_COUNTER, malformed);
  while (fields.next()) {
    const tag = fields.tag;
    if ((tag & 7) !== 2) continue;
    if (tag === ONE_TIME_KEY_TAG) oneTimeKey = fields.bytes();
    else if (tag === BASE_KEY_TAG) baseKey = fields.bytes();
    else if (tag === IDENTITY_KEY_TAG) identityKey = fields.bytes();
    else if (tag === MESSAGE_TAG) message = fields.bytes();
  }
  if (message === undefined) throw malformed('missing embedded message');
  return {
    version: OLM_VERSION,
    oneTimeKey: requireKey(oneTimeKey, 'one-time key'),
    baseKey: requireKey(baseKey, 'base key'),
    identityKey: requireKey(identityKey, 'identity key'),
    message,
  };
}
