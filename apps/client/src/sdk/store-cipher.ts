/**
 * The store's keys and its at-rest cipher. A passphrase the user controls is stretched with
 * scrypt (salted, stored beside the data) into two independent 32-byte keys: one encrypts every
 * stored value with AES-256-GCM, the other is the pickle key of the Olm account and sessions.
 * Each value is bound to where it lives (its table and row) as GCM associated data, so rows
 * cannot be swapped between places without failing authentication.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

/** scrypt cost parameters, stored beside the salt of each store. */
export interface KdfParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** Parameters of new stores: N = 2^17, r = 8, p = 1 (≈ 128 MiB, a few hundred ms). */
export const CURRENT_KDF: KdfParams = { N: 1 << 17, r: 8, p: 1 };
/** Parameters of stores created before they were stored (N = 2^15, r = 8, p = 1). */
export const LEGACY_KDF: KdfParams = { N: 1 << 15, r: 8, p: 1 };

/**
 * Parses stored parameters, accepting exactly the sets this client creates ({@link CURRENT_KDF}
 * and {@link LEGACY_KDF}): a tampered file must not make the key derivation take unbounded (or
 * merely huge, e.g. 2 GiB) time or memory.
 */
export function parseKdfParams(value: unknown): KdfParams | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { N, r, p } = value as Record<string, unknown>;
  for (const known of [CURRENT_KDF, LEGACY_KDF]) {
    if (N === known.N && r === known.r && p === known.p) return known;
  }
  return undefined;
}
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The keys derived from the passphrase. Hold them only as long as the store is open. */
export interface StoreKeys {
  readonly valueKey: Uint8Array;
  readonly pickleKey: Uint8Array;
}

/** Derives the value key and pickle key from `passphrase`, the store's `salt` and its parameters. */
export function deriveStoreKeys(
  passphrase: string,
  salt: Uint8Array,
  params: KdfParams = CURRENT_KDF,
): StoreKeys {
  if (typeof passphrase !== 'string' || passphrase === '') {
    throw new TypeError('passphrase must be a non-empty string');
  }
  const out = scryptSync(passphrase.normalize('NFKC'), salt, 64, {
    ...params,
    // scrypt needs 128·N·r bytes (plus 128·r·p); twice that leaves headroom.
    maxmem: 256 * params.N * params.r + 256 * params.r * params.p,
  });
  const keys = {
    valueKey: Uint8Array.from(out.subarray(0, 32)),
    pickleKey: Uint8Array.from(out.subarray(32)),
  };
  out.fill(0);
  return keys;
}

/** A fresh random salt for a new store. */
export function newSalt(): Uint8Array {
  return Uint8Array.from(randomBytes(16));
}

/** Encrypts `plaintext` under `key`, bound to `where`: IV ‖ ciphertext ‖ tag. */
export function sealValue(key: Uint8Array, where: string, plaintext: string): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(where, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Uint8Array.from(Buffer.concat([iv, body, cipher.getAuthTag()]));
}

/** Opens a value sealed by {@link sealValue}; throws when the key or place is wrong. */
export function openValue(key: Uint8Array, where: string, sealed: Uint8Array): string {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const iv = sealed.subarray(0, IV_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv);
  decipher.setAAD(Buffer.from(where, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([
    decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)),
    decipher.final(),
  ]).toString('utf8');
}
