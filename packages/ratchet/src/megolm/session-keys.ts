/**
 * The two Megolm key-sharing formats.
 *
 * Spec: https://spec.matrix.org/v1.19/olm-megolm/megolm/#session-sharing-format
 *   v2 "session sharing": 0x02 | i (uint32 BE) | R_{i,0..3} (128) | K_pub (32) | signature (64)
 *   https://spec.matrix.org/v1.19/olm-megolm/megolm/#session-export-format
 *   v1 "session export":  0x01 | i (uint32 BE) | R_{i,0..3} (128) | K_pub (32)
 * The v2 signature is by K over the preceding 165 bytes; the export format drops it because a
 * ratcheted copy can no longer carry the original signature.
 */
import { decodeBase64 } from '../base64.ts';
import { RatchetError } from '../errors.ts';
import { MegolmRatchet, RATCHET_LENGTH } from './ratchet.ts';
import type { Verifier } from './signing.ts';

const SHARING_VERSION = 2;
const EXPORT_VERSION = 1;
const UNSIGNED_LENGTH = 1 + 4 + RATCHET_LENGTH + 32;
const SIGNED_LENGTH = UNSIGNED_LENGTH + 64;

/** A parsed session key: ratchet at its index plus the session's Ed25519 public key. */
export interface SessionKeyParts {
  readonly ratchet: MegolmRatchet;
  readonly signingKey: Uint8Array;
  /** True for the signed sharing format (signature checked), false for an export. */
  readonly signed: boolean;
}

function encodeUnsigned(version: number, ratchet: MegolmRatchet, signingKey: Uint8Array) {
  const out = new Uint8Array(version === SHARING_VERSION ? SIGNED_LENGTH : UNSIGNED_LENGTH);
  out[0] = version;
  new DataView(out.buffer).setUint32(1, ratchet.counter);
  out.set(ratchet.data, 5);
  out.set(signingKey, 5 + RATCHET_LENGTH);
  return out;
}

/** v2 sharing format: the caller's `sign` signs the first 165 bytes. */
export function encodeSessionKey(
  ratchet: MegolmRatchet,
  signingKey: Uint8Array,
  sign: (message: Uint8Array) => Uint8Array,
): Uint8Array {
  const out = encodeUnsigned(SHARING_VERSION, ratchet, signingKey);
  out.set(sign(out.subarray(0, UNSIGNED_LENGTH)), UNSIGNED_LENGTH);
  return out;
}

/** v1 export format (unsigned). */
export function encodeExportedKey(ratchet: MegolmRatchet, signingKey: Uint8Array): Uint8Array {
  return encodeUnsigned(EXPORT_VERSION, ratchet, signingKey);
}

function decodeKey(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('session key must be a base64 string');
  return decodeBase64(text);
}

function parseBody(bytes: Uint8Array, signed: boolean): SessionKeyParts {
  const counter = new DataView(bytes.buffer, bytes.byteOffset).getUint32(1);
  return {
    ratchet: new MegolmRatchet(bytes.slice(5, 5 + RATCHET_LENGTH), counter),
    signingKey: bytes.slice(5 + RATCHET_LENGTH, UNSIGNED_LENGTH),
    signed,
  };
}

function checkShape(bytes: Uint8Array, version: number, length: number, what: string): void {
  if (bytes.length === 0 || bytes[0] !== version) {
    bytes.fill(0);
    throw new RatchetError('unsupported-version', `unknown ${what} version`, {
      context: { expected: version, got: bytes[0] ?? -1 },
    });
  }
  if (bytes.length !== length) {
    bytes.fill(0);
    throw new RatchetError('bad-key', `${what} has the wrong length`, {
      context: { expected: length, got: bytes.length },
    });
  }
}

/**
 * Parses a base64 v2 session key and checks its signature with `verifierFor(K_pub)`.
 * Throws `unsupported-version`, `bad-key` (length) or `bad-signature`.
 */
export function parseSessionKey(
  text: string,
  verifierFor: (publicKey: Uint8Array) => Verifier,
): SessionKeyParts & { readonly verifier: Verifier } {
  const bytes = decodeKey(text);
  checkShape(bytes, SHARING_VERSION, SIGNED_LENGTH, 'Megolm session key');
  const parts = parseBody(bytes, true);
  const verifier = verifierFor(parts.signingKey);
  const ok = verifier(bytes.subarray(0, UNSIGNED_LENGTH), bytes.subarray(UNSIGNED_LENGTH));
  bytes.fill(0);
  if (!ok) {
    parts.ratchet.zeroize();
    throw new RatchetError('bad-signature', 'Megolm session key signature does not verify');
  }
  return { ...parts, verifier };
}

/** Parses a base64 v1 exported session key. Throws `unsupported-version` or `bad-key`. */
export function parseExportedKey(text: string): SessionKeyParts {
  const bytes = decodeKey(text);
  checkShape(bytes, EXPORT_VERSION, UNSIGNED_LENGTH, 'Megolm exported session key');
  const parts = parseBody(bytes, false);
  bytes.fill(0);
  return parts;
}
