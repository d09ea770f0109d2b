/**
 * Ed25519 with an already expanded secret key, the form libolm stores in its pickles (Olm
 * accounts and Megolm outbound sessions) instead of the seed: the SHA-512 of the seed with its
 * first half clamped, i.e. scalar ‖ nonce prefix (RFC 8032 §5.1.5 steps 1–2). Signing follows
 * RFC 8032 §5.1.6 from step 2. @noble/curves only: OpenSSL accepts seeds, not expanded keys.
 * Shared by `olm/account.ts` and `megolm/signing.ts`.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;

function numberLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
}

function bytesLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function checkExpanded(expanded: unknown): asserts expanded is Uint8Array {
  if (!(expanded instanceof Uint8Array) || expanded.length !== 64) {
    throw new RangeError('expanded Ed25519 key must be 64 bytes');
  }
}

/** The public key A = aB of a 64-byte expanded secret key (a = its first half, mod L). */
export function expandedPublicKey(expanded: Uint8Array): Uint8Array {
  checkExpanded(expanded);
  return Point.BASE.multiply(numberLE(expanded.subarray(0, 32)) % L).toBytes();
}

/**
 * An Ed25519 signature of `message` by a 64-byte expanded secret key whose public key is
 * `publicKey`: r = SHA-512(prefix ‖ M) mod L, R = rB, k = SHA-512(R ‖ A ‖ M) mod L,
 * S = r + k·a mod L (RFC 8032 §5.1.6 steps 2–6). Temporaries holding the nonce input are zeroed.
 */
export function signWithExpanded(
  expanded: Uint8Array,
  publicKey: Uint8Array,
  message: Uint8Array,
): Uint8Array {
  checkExpanded(expanded);
  const a = numberLE(expanded.subarray(0, 32)) % L;
  const prefixed = concat(expanded.subarray(32, 64), message);
  const r = numberLE(sha512(prefixed)) % L;
  prefixed.fill(0);
  // noble refuses to multiply by zero; r = 0 (probability 2^-252) still has a defined R.
  const R = (r === 0n ? Point.ZERO : Point.BASE.multiply(r)).toBytes();
  const k = numberLE(sha512(concat(R, publicKey, message))) % L;
  const signature = new Uint8Array(64);
  signature.set(R);
  signature.set(bytesLE((r + k * a) % L), 32);
  return signature;
}

/**
 * The expanded secret key of a 32-byte seed (RFC 8032 §5.1.5 steps 1–2): SHA-512(seed) with the
 * scalar half clamped, as libolm's `ed25519_create_keypair` stores it; used to write libolm
 * pickles for keys Weft holds as seeds. The caller zeroes the result.
 */
export function expandSeed(seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new RangeError('Ed25519 seed must be 32 bytes');
  }
  const expanded = sha512(seed);
  expanded[0] = (expanded[0] as number) & 248;
  expanded[31] = ((expanded[31] as number) & 63) | 64;
  return expanded;
}
