/**
 * Ed25519 (RFC 8032) for Megolm session keys and messages.
 *
 * Pure path: @noble/curves. On Node (reached at runtime through
 * `globalThis.process.getBuiltinModule`, never a static `node:` import) the same operations go
 * through OpenSSL with the key objects built once per session, which is several times faster.
 * Both paths verify strictly (RFC 8032 §5.1.7: canonical S and point encodings, no ZIP-215
 * leniency), so they accept exactly the same signatures; a test runs both on the same inputs.
 */
import { ed25519 } from '@noble/curves/ed25519.js';

import { expandedPublicKey, signWithExpanded } from '../ed25519-expanded.ts';

interface NodeKeyObject {
  export(options: { format: 'der'; type: 'spki' }): Uint8Array;
}
interface NodeCrypto {
  createPrivateKey(options: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NodeKeyObject;
  createPublicKey(
    input: NodeKeyObject | { key: Uint8Array; format: 'der'; type: 'spki' },
  ): NodeKeyObject;
  sign(algorithm: null, data: Uint8Array, key: NodeKeyObject): Uint8Array;
  verify(algorithm: null, data: Uint8Array, key: NodeKeyObject, signature: Uint8Array): boolean;
}

function findNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return typeof mod?.sign === 'function' && typeof mod.verify === 'function' ? mod : undefined;
  } catch {
    return undefined;
  }
}

const nodeCrypto = findNodeCrypto();
let useNative = nodeCrypto !== undefined;

/**
 * Chooses the implementation for keys created afterwards (tests run both); returns whether the
 * native path is now in use. Asking for native where Node's crypto is missing keeps the pure path.
 */
export function selectSigningImplementation(native: boolean): boolean {
  useNative = native && nodeCrypto !== undefined;
  return useNative;
}

// Fixed DER prefixes wrapping a raw 32-byte Ed25519 key (RFC 8410 §7 and §4).
const PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
);
const SPKI_PREFIX = Uint8Array.of(
  0x30,
  0x2a,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x03,
  0x21,
  0x00,
);

function wrap(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const der = new Uint8Array(prefix.length + key.length);
  der.set(prefix);
  der.set(key, prefix.length);
  return der;
}

/** An Ed25519 key pair held by an outbound session. */
export interface SigningKey {
  readonly publicKey: Uint8Array;
  /**
   * The secret as stored: a 32-byte RFC 8032 seed (`form: 'seed'`), or, for sessions imported
   * from libolm, its 64-byte expanded key: clamped scalar ‖ nonce prefix (`form: 'expanded'`).
   */
  readonly secret: Uint8Array;
  readonly form: 'seed' | 'expanded';
  sign(message: Uint8Array): Uint8Array;
  /** Zeroes the secret; the native key object is dropped for the garbage collector. */
  zeroize(): void;
}

/** Builds the key pair for a 32-byte seed (takes ownership of `seed`). */
export function signingKeyFromSeed(seed: Uint8Array): SigningKey {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) {
    throw new RangeError('Ed25519 seed must be 32 bytes');
  }
  if (useNative && nodeCrypto !== undefined) {
    const crypto = nodeCrypto;
    const der = wrap(PKCS8_PREFIX, seed);
    let privateKey: NodeKeyObject | undefined = crypto.createPrivateKey({
      key: der,
      format: 'der',
      type: 'pkcs8',
    });
    der.fill(0);
    const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    const publicKey = Uint8Array.from(spki.subarray(spki.length - 32));
    return {
      publicKey,
      secret: seed,
      form: 'seed',
      sign(message) {
        if (privateKey === undefined) throw new Error('signing key was zeroized');
        return new Uint8Array(crypto.sign(null, message, privateKey));
      },
      zeroize() {
        seed.fill(0);
        privateKey = undefined;
      },
    };
  }
  const publicKey = ed25519.getPublicKey(seed);
  return {
    publicKey,
    secret: seed,
    form: 'seed',
    sign: (message) => ed25519.sign(message, seed),
    zeroize: () => seed.fill(0),
  };
}

/**
 * The key pair for a 64-byte expanded Ed25519 secret, the form libolm pickles; signing runs on
 * @noble/curves only (`../ed25519-expanded.ts`). Throws `RangeError` for a wrong length; the
 * caller checks `publicKey` against the one it stored.
 */
export function signingKeyFromExpanded(expanded: Uint8Array): SigningKey {
  if (!(expanded instanceof Uint8Array) || expanded.length !== 64) {
    throw new RangeError('expanded Ed25519 key must be 64 bytes');
  }
  const publicKey = expandedPublicKey(expanded);
  return {
    publicKey,
    secret: expanded,
    form: 'expanded',
    sign: (message) => signWithExpanded(expanded, publicKey, message),
    zeroize: () => expanded.fill(0),
  };
}

/** A verifier for one public key; hostile keys or signatures just fail to verify. */
export type Verifier = (message: Uint8Array, signature: Uint8Array) => boolean;

/** Builds a verifier for a 32-byte Ed25519 public key (the key object is made once). */
export function verifierFor(publicKey: Uint8Array): Verifier {
  if (useNative && nodeCrypto !== undefined) {
    const crypto = nodeCrypto;
    let key: NodeKeyObject | undefined;
    return (message, signature) => {
      if (signature.length !== 64) return false;
      try {
        key ??= crypto.createPublicKey({
          key: wrap(SPKI_PREFIX, publicKey),
          format: 'der',
          type: 'spki',
        });
        return crypto.verify(null, message, key, signature);
      } catch {
        return false;
      }
    };
  }
  return (message, signature) => {
    if (signature.length !== 64) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  };
}
