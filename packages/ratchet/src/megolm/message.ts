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
import { FieldReader } from '../message-fields.ts';
import { MAX_INDEX } from './ratchet.ts';

/** Megolm message version ("The version byte, V, is \x03"). */
export const MEGOLM_VERSION = 3;
/** Truncated MAC length ("8 bytes in this version of the protocol"). */
export const MAC_LENGTH = 8;
/** Ed25519 signature length. */
export const SIGNATURE_LENGTH = 64;

const INDEX_TAG = 0x08;
const CIPHERTEXT_TAG = 0x12;

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
 * Reads a raw Megolm message's fields into `into` as offsets into `bytes` (no views, no result
 * object: `InboundGroupSession.decrypt` reads them straight from the inbound buffer). Checks
 * nothing cryptographic.
 */
export function readMessage(bytes: Uint8Array, into: MegolmFieldOffsets): void {
  const bodyEnd = checkFrame(bytes);
  let messageIndex = -1;
  let ciphertextStart = -1;
  let ciphertextEnd = -1;
  const fields = new FieldReader(bytes, 1, bodyEnd, Number.MAX_SAFE_INTEGER, malformed);
  while (fields.next()) {
    const tag = fields.tag;
    if (tag === INDEX_TAG) {
      if (fields.value > MAX_INDEX) throw malformed('message index above 2^32-1');
      messageIndex = fields.value;
    } else if (tag === CIPHERTEXT_TAG) {
      ciphertextStart = fields.start;
      ciphertextEnd = fields.start + fields.length;
    }
  }
  if (messageIndex < 0) throw malformed('missing message index');
  if (ciphertextStart < 0) throw malformed('missing ciphertext');
  into.messageIndex = messageIndex;
  into.ciphertextStart = ciphertextStart;
  into.ciphertextEnd = ciphertextEnd;
  into.bodyEnd = bodyEnd;
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
