/**
 * Ed25519 signing keys and key identifiers.
 *
 * A key identifier is `<algorithm>:<version>` (spec appendices, "Signing Details"); the only
 * algorithm Matrix defines is `ed25519`, and server key versions match `[a-zA-Z0-9_]+`
 * (server-server API, "Publishing Keys", `verify_keys`). Seeds are the 32-byte RFC 8032 secret
 * keys, stored by Synapse and signedjson as unpadded Base64.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { randomBytes } from '@noble/hashes/utils.js';

import { backend, releaseKeyMaterial } from './backend.ts';
import { decodeBase64, decodeBase64Lenient, decodeSeedBase64, encodeBase64 } from './base64.ts';
import { checkBytes, checkString, clean } from './bytes.ts';
import { SigningError } from './errors.ts';

/** The signing algorithm this package implements. */
export const ED25519 = 'ed25519';

const VERSION_PATTERN = /^[A-Za-z0-9_]+$/;
const VERSION_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A key identifier split into its parts. */
export interface KeyId {
  readonly algorithm: string;
  readonly version: string;
}

/**
 * Splits `algorithm:version` at the first colon. Throws `SigningError('bad-key')` when either part
 * is empty; the algorithm is returned as given, so callers can skip algorithms they don't know
 * (spec appendices, "Checking for a Signature", step 2).
 */
export function parseKeyId(keyId: string): KeyId {
  checkString(keyId, 'keyId');
  const colon = keyId.indexOf(':');
  if (colon <= 0 || colon === keyId.length - 1) {
    throw new SigningError('bad-key', 'key identifier must be "<algorithm>:<version>"', { keyId });
  }
  return { algorithm: keyId.slice(0, colon), version: keyId.slice(colon + 1) };
}

/** Builds `ed25519:<version>`; the version must match `[a-zA-Z0-9_]+`. */
export function ed25519KeyId(version: string): string {
  checkString(version, 'version');
  if (!VERSION_PATTERN.test(version)) {
    throw new SigningError('bad-key', 'key version must match [a-zA-Z0-9_]+');
  }
  return `${ED25519}:${version}`;
}

function randomVersion(): string {
  // 6 characters from 62 symbols; modulo bias is irrelevant for a non-secret label.
  const bytes = randomBytes(6);
  let version = 'a_';
  for (const byte of bytes) version += VERSION_ALPHABET.charAt(byte % VERSION_ALPHABET.length);
  return version;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Only this module can construct a SigningKey (the constructor checks for this token). */
const CONSTRUCT: unique symbol = Symbol('SigningKey.construct');

/**
 * An Ed25519 signing key with its identifier. The seed stays inside (a private field); `toJSON`,
 * `toString` and Node's `util.inspect` show only the identifier and public key.
 */
export class SigningKey {
  /** The key identifier, e.g. `ed25519:a_Xyz123`. */
  readonly keyId: string;
  /** The key version (the part after `ed25519:`). */
  readonly version: string;
  /** The public key, unpadded standard Base64 (the form `verify_keys` publishes). */
  readonly publicKeyBase64: string;
  readonly #publicKey: Uint8Array;
  readonly #seed: Uint8Array;
  #disposed = false;

  /** Not for direct use: call {@link generateSigningKey} or {@link signingKeyFromSeed}. */
  constructor(token: typeof CONSTRUCT, seed: Uint8Array, version: string) {
    if (token !== CONSTRUCT) {
      throw new TypeError(
        'use generateSigningKey() or signingKeyFromSeed() to create a SigningKey',
      );
    }
    this.keyId = ed25519KeyId(version);
    this.version = version;
    this.#seed = seed;
    this.#publicKey = ed25519.getPublicKey(seed);
    this.publicKeyBase64 = encodeBase64(this.#publicKey);
  }

  /** The 32-byte public key (a copy). */
  get publicKey(): Uint8Array {
    return this.#publicKey.slice();
  }

  /** Signs raw bytes; returns the 64-byte Ed25519 signature. */
  sign(message: Uint8Array): Uint8Array {
    checkBytes(message, 'message');
    this.#checkAlive();
    return backend().sign(message, this.#seed, this);
  }

  /** A copy of the 32-byte seed, for storing the key. Handle with care: this is the secret. */
  exportSeed(): Uint8Array {
    this.#checkAlive();
    return this.#seed.slice();
  }

  /** Zeroes the seed held by this object; later `sign` calls throw. */
  dispose(): void {
    clean(this.#seed);
    releaseKeyMaterial(this);
    this.#disposed = true;
  }

  /** Only public parts: `{ keyId, publicKey }`. */
  toJSON(): { keyId: string; publicKey: string } {
    return { keyId: this.keyId, publicKey: this.publicKeyBase64 };
  }

  /** `SigningKey(ed25519:…, <public key>)`. */
  toString(): string {
    return `SigningKey(${this.keyId}, ${this.publicKeyBase64})`;
  }

  /** What Node's `util.inspect` and `console.log` print: public parts only. */
  [INSPECT](): string {
    return this.toString();
  }

  #checkAlive(): void {
    if (this.#disposed)
      throw new SigningError('bad-key', 'signing key was disposed', { keyId: this.keyId });
  }
}

/**
 * A new signing key from the platform CSPRNG (`crypto.getRandomValues`, via @noble/hashes).
 * Without `version`, a random one like `a_x7Yq2B` is chosen.
 */
export function generateSigningKey(version?: string): SigningKey {
  if (version !== undefined) ed25519KeyId(version);
  return new SigningKey(CONSTRUCT, randomBytes(32), version ?? randomVersion());
}

/**
 * The signing key for a 32-byte seed, given as bytes (copied) or as unpadded Base64 (the form
 * Synapse's signing-key file and signedjson use; non-zero trailing bits are ignored here, as the
 * spec's own test seed has them). Throws `SigningError('bad-key')` for a seed of
 * the wrong length and `SigningError('bad-base64')` for malformed Base64.
 */
export function signingKeyFromSeed(seed: Uint8Array | string, version: string): SigningKey {
  ed25519KeyId(version); // checked first, so a bad version never leaves a seed copy behind
  const bytes = typeof seed === 'string' ? decodeSeedBase64(seed) : copyBytes(seed, 'seed');
  if (bytes.length !== 32) {
    clean(bytes);
    throw new SigningError('bad-key', `seed must be 32 bytes, got ${bytes.length}`);
  }
  return new SigningKey(CONSTRUCT, bytes, version);
}

function copyBytes(value: unknown, name: string): Uint8Array {
  checkBytes(value, name);
  return value.slice();
}

/**
 * Decodes a public verification key from canonical unpadded standard Base64 (or checks raw
 * bytes); throws `SigningError('bad-key')` unless it is 32 bytes and `SigningError('bad-base64')`
 * for any other spelling — URL-safe alphabet, padding, non-zero trailing bits — so that one key
 * has exactly one text form. Use it to validate keys that are stored or published (e.g. device
 * and cross-signing keys a user uploads, whose text is also their key ID). Verification of keys
 * fetched from other servers decodes them as Synapse does instead (`decodeVerifyKey`, internal).
 */
export function decodePublicKey(publicKey: Uint8Array | string, path?: string): Uint8Array {
  if (typeof publicKey === 'string') {
    checkString(publicKey, 'publicKey');
    if (publicKey.includes('=')) {
      throw new SigningError(
        'bad-base64',
        'public key must be unpadded Base64',
        path === undefined ? {} : { path },
      );
    }
  }
  const bytes = typeof publicKey === 'string' ? decodeBase64(publicKey, path) : publicKey;
  return checkPublicKeyBytes(bytes, path);
}

/**
 * Internal, for verification only: decodes a verify key as Synapse decodes keys it verifies with
 * (`decodeBase64Lenient`: either alphabet, padding optional, trailing bits ignored); otherwise as
 * {@link decodePublicKey}. Not exported from the package: keys that are stored or published must
 * be canonical.
 */
export function decodeVerifyKey(publicKey: Uint8Array | string, path?: string): Uint8Array {
  const bytes = typeof publicKey === 'string' ? decodeBase64Lenient(publicKey, path) : publicKey;
  return checkPublicKeyBytes(bytes, path);
}

function checkPublicKeyBytes(bytes: Uint8Array, path: string | undefined): Uint8Array {
  checkBytes(bytes, 'publicKey');
  if (bytes.length !== 32) {
    throw new SigningError(
      'bad-key',
      `Ed25519 public key must be 32 bytes, got ${bytes.length}`,
      path === undefined ? {} : { path },
    );
  }
  return bytes;
}
