/**
 * The Megolm message encoding.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#message-format
 *
 *   version byte 0x03 | body | 8-byte truncated HMAC-SHA-256 | 64-byte Ed25519 signature
 *
 * The body is protobuf-like: tag 0x08 = Message-Index (varint), tag 0x12 = Cipher-Text
 * (varint length + bytes). Decoding follows libolm: fields may come in any order, unknown fields
 * (varint or length-delimited) are skipped, both known fields are required, and every read is
 * bounds-checked so hostile input only ever yields `RatchetError('bad-message-format')`.
 */
import { RatchetError } from '../errors.ts';
import { MAX_INDEX } from './ratchet.ts';

/** Megolm message version ("The version byte, V, is \x03"). */
export const MEGOLM_VERSION = 3;
/** Truncated MAC length ("8 bytes in this version of the protocol"). */
export const MAC_LENGTH = 8;
/** Ed25519 signature length. */
export const SIGNATURE_LENGTH = 64;

const INDEX_TAG = 0x08;
const CIPHERTEXT_TAG = 0x12;

/** A decoded message; the byte views share the input buffer. */
export interface MegolmMessage {
  readonly messageIndex: number;
  readonly ciphertext: Uint8Array;
  /** Every byte the MAC covers (version + body). */
  readonly macInput: Uint8Array;
  readonly mac: Uint8Array;
  /** Every byte the signature covers (version + body + MAC). */
  readonly signatureInput: Uint8Array;
  readonly signature: Uint8Array;
}

function malformed(reason: string, context: Record<string, number> = {}): RatchetError {
  return new RatchetError('bad-message-format', `malformed Megolm message: ${reason}`, {
    context,
  });
}

function varintLength(value: number): number {
  let length = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) length++;
  return length;
}

function writeVarint(out: Uint8Array, offset: number, value: number): number {
  let v = value;
  let o = offset;
  while (v >= 0x80) {
    out[o++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/**
 * Encodes version + body and leaves room for the MAC and signature; returns the buffer and the
 * length of the MAC input (the caller fills MAC, then signs everything before the signature).
 */
export function encodeMessage(
  messageIndex: number,
  ciphertext: Uint8Array,
  into?: Uint8Array,
): { bytes: Uint8Array; bodyEnd: number } {
  const length =
    1 + 1 + varintLength(messageIndex) + 1 + varintLength(ciphertext.length) + ciphertext.length;
  const total = length + MAC_LENGTH + SIGNATURE_LENGTH;
  // With `into` large enough the message is laid out at its start (a view, no allocation).
  const bytes =
    into !== undefined && into.length >= total
      ? into.subarray(0, total).fill(0, length)
      : new Uint8Array(total);
  bytes[0] = MEGOLM_VERSION;
  bytes[1] = INDEX_TAG;
  let o = writeVarint(bytes, 2, messageIndex);
  bytes[o++] = CIPHERTEXT_TAG;
  o = writeVarint(bytes, o, ciphertext.length);
  bytes.set(ciphertext, o);
  return { bytes, bodyEnd: length };
}

// Reads a varint at `offset` within [offset, end); values above 2^53 are rejected.
function readVarint(bytes: Uint8Array, offset: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  let o = offset;
  for (;;) {
    if (o >= end) throw malformed('truncated varint', { offset: o });
    const byte = bytes[o++] as number;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) break;
    scale *= 128;
    if (scale > 2 ** 49) throw malformed('varint too long', { offset });
  }
  return [value, o];
}

/** Splits and parses a raw Megolm message; checks nothing cryptographic. */
export function decodeMessage(bytes: Uint8Array): MegolmMessage {
  if (bytes.length < 1) throw malformed('empty message');
  if (bytes[0] !== MEGOLM_VERSION) {
    throw new RatchetError('unsupported-version', 'unknown Megolm message version', {
      context: { expected: MEGOLM_VERSION, got: bytes[0] as number },
    });
  }
  const bodyEnd = bytes.length - MAC_LENGTH - SIGNATURE_LENGTH;
  if (bodyEnd < 1) throw malformed('too short', { length: bytes.length });

  let messageIndex: number | undefined;
  let ciphertext: Uint8Array | undefined;
  let o = 1;
  while (o < bodyEnd) {
    let tag: number;
    [tag, o] = readVarint(bytes, o, bodyEnd);
    const wireType = tag & 7;
    if (wireType === 0) {
      let value: number;
      [value, o] = readVarint(bytes, o, bodyEnd);
      if (tag === INDEX_TAG) {
        if (value > MAX_INDEX) throw malformed('message index above 2^32-1');
        messageIndex = value;
      }
    } else if (wireType === 2) {
      let length: number;
      [length, o] = readVarint(bytes, o, bodyEnd);
      if (length > bodyEnd - o) throw malformed('field runs past the body', { offset: o });
      if (tag === CIPHERTEXT_TAG) ciphertext = bytes.subarray(o, o + length);
      o += length;
    } else {
      throw malformed('unsupported field type', { tag });
    }
  }
  if (messageIndex === undefined) throw malformed('missing message index');
  if (ciphertext === undefined) throw malformed('missing ciphertext');
  return {
    messageIndex,
    ciphertext,
    macInput: bytes.subarray(0, bodyEnd),
    mac: bytes.subarray(bodyEnd, bodyEnd + MAC_LENGTH),
    signatureInput: bytes.subarray(0, bodyEnd + MAC_LENGTH),
    signature: bytes.subarray(bodyEnd + MAC_LENGTH),
  };
}
