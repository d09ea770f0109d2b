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

/**
 * Where `readMessage` found a message's fields: offsets into the bytes it was given. One
 * reused object (public values only), read by the caller before the next call.
 */
export interface MegolmFieldOffsets {
  messageIndex: number;
  ciphertextStart: number;
  ciphertextEnd: number;
  /** End of version + body: the MAC follows, then the signature at `bodyEnd + MAC_LENGTH`. */
  bodyEnd: number;
}

/**
 * `decodeMessage` without its views and result object: the fields' offsets go into `into`.
 * `InboundGroupSession.decrypt` reads a message this way (the same checks and errors).
 */
export function readMessage(bytes: Uint8Array, into: MegolmFieldOffsets): void {
  const bodyEnd = checkFrame(bytes);
  let messageIndex = -1;
  let ciphertextStart = -1;
  let ciphertextEnd = -1;
  let o = 1;
  while (o < bodyEnd) {
    const tag = readVarintAt(bytes, o, bodyEnd);
    o = varintEnd;
    const wireType = tag & 7;
    if (wireType === 0) {
      const value = readVarintAt(bytes, o, bodyEnd);
      o = varintEnd;
      if (tag === INDEX_TAG) {
        if (value > MAX_INDEX) throw malformed('message index above 2^32-1');
        messageIndex = value;
      }
    } else if (wireType === 2) {
      const length = readVarintAt(bytes, o, bodyEnd);
      o = varintEnd;
      if (length > bodyEnd - o) throw malformed('field runs past the body', { offset: o });
      if (tag === CIPHERTEXT_TAG) {
        ciphertextStart = o;
        ciphertextEnd = o + length;
      }
      o += length;
    } else {
      throw malformed('unsupported field type', { tag });
    }
  }
  if (messageIndex < 0) throw malformed('missing message index');
  if (ciphertextStart < 0) throw malformed('missing ciphertext');
  into.messageIndex = messageIndex;
  into.ciphertextStart = ciphertextStart;
  into.ciphertextEnd = ciphertextEnd;
  into.bodyEnd = bodyEnd;
}

// The offset after the varint `readVarintAt` last read (a module variable, not a tuple per read).
let varintEnd = 0;

// Reads a varint at `offset` within [offset, end) (values above 2^53 are rejected); its end
// is left in `varintEnd`.
function readVarintAt(bytes: Uint8Array, offset: number, end: number): number {
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
  varintEnd = o;
  return value;
}

// The version byte and minimum length; returns where the body ends.
function checkFrame(bytes: Uint8Array): number {
  if (bytes.length < 1) throw malformed('empty message');
  if (bytes[0] !== MEGOLM_VERSION) {
    throw new RatchetError('unsupported-version', 'unknown Megolm message version', {
      context: { expected: MEGOLM_VERSION, got: bytes[0] as number },
    });
  }
  const bodyEnd = bytes.length - MAC_LENGTH - SIGNATURE_LENGTH;
  if (bodyEnd < 1) throw malformed('too short', { length: bytes.length });
  return bodyEnd;
}

/** Splits and parses a raw Megolm message; checks nothing cryptographic. */
export function decodeMessage(bytes: Uint8Array): MegolmMessage {
  const at: MegolmFieldOffsets = {
    messageIndex: 0,
    ciphertextStart: 0,
    ciphertextEnd: 0,
    bodyEnd: 0,
  };
  readMessage(bytes, at);
  const bodyEnd = at.bodyEnd;
  return {
    messageIndex: at.messageIndex,
    ciphertext: bytes.subarray(at.ciphertextStart, at.ciphertextEnd),
    macInput: bytes.subarray(0, bodyEnd),
    mac: bytes.subarray(bodyEnd, bodyEnd + MAC_LENGTH),
    signatureInput: bytes.subarray(0, bodyEnd + MAC_LENGTH),
    signature: bytes.subarray(bodyEnd + MAC_LENGTH),
  };
}
