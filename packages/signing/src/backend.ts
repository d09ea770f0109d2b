/**
 * The primitives this package needs (SHA-256, Ed25519 sign/verify) behind one interface, with two
 * implementations:
 *
 * - `pure`: @noble/hashes and @noble/curves; runs anywhere (browsers, Deno, Node).
 * - `native`: Node's OpenSSL-backed `node:crypto`, reached at run time through
 *   `process.getBuiltinModule` (never a static `node:` import, so bundles for browsers stay clean).
 *   It is used automatically when present because it is several times faster for Ed25519.
 *
 * Both verify Ed25519 in strict RFC 8032 form (noble with `zip215: false`: canonical `S < L` and
 * canonical point encodings), so a signature accepted by one is accepted by the other;
 * test/backend.test.ts proves they agree. This module is internal: tests select a backend with
 * `useBackend`, the public API never exposes the choice.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';

/** The primitives, as one object per implementation. */
export interface CryptoBackend {
  readonly name: 'pure' | 'native';
  sha256(data: Uint8Array): Uint8Array;
  /** SHA-256 of the UTF-8 encoding of a well-formed string (no lone surrogates). */
  sha256Utf8(text: string): Uint8Array;
  /** Signs with a 32-byte seed; `holder` (e.g. a SigningKey) lets the backend cache a prepared key. */
  sign(message: Uint8Array, seed: Uint8Array, holder?: object): Uint8Array;
  /** Strict RFC 8032 verification; false (never a throw) for any malformed key or signature. */
  verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean;
  /** `verify` over the UTF-8 encoding of a well-formed string. */
  verifyUtf8(signature: Uint8Array, text: string, publicKey: Uint8Array): boolean;
  /** Drops anything cached for `holder` by `sign` (called when a SigningKey is disposed). */
  release(holder: object): void;
}

const utf8 = new TextEncoder();

const pure: CryptoBackend = {
  name: 'pure',
  sha256: (data) => nobleSha256(data),
  sha256Utf8: (text) => nobleSha256(utf8.encode(text)),
  sign: (message, seed) => ed25519.sign(message, seed),
  verify(signature, message, publicKey) {
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  verifyUtf8(signature, text, publicKey) {
    return pure.verify(signature, utf8.encode(text), publicKey);
  },
  release() {},
};

/** The part of `node:crypto` this module uses, typed here so `src/` needs no Node types. */
interface NodeCrypto {
  createPublicKey(options: { key: Uint8Array; format: 'der'; type: 'spki' }): object;
  createPrivateKey(options: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): object;
  sign(algorithm: null, data: Uint8Array, key: object): Uint8Array;
  verify(algorithm: null, data: Uint8Array | string, key: object, signature: Uint8Array): boolean;
  hash(algorithm: 'sha256', data: Uint8Array | string, outputEncoding: 'buffer'): Uint8Array;
}

// RFC 8410 DER wrappers: an Ed25519 SubjectPublicKeyInfo is these 12 bytes + the 32-byte key; a
// PKCS#8 private key is these 16 bytes + the 32-byte seed. Fixed prefixes avoid any ASN.1 parsing.
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

/** Public KeyObjects are cached per key; this bounds the cache (oldest entries go first). */
const PUBLIC_KEY_CACHE_LIMIT = 4096;

function loadNodeCrypto(): NodeCrypto | undefined {
  const host = globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } };
  try {
    const module = host.process?.getBuiltinModule?.('node:crypto') as
      | Partial<NodeCrypto>
      | undefined;
    if (
      typeof module?.createPublicKey !== 'function' ||
      typeof module.createPrivateKey !== 'function' ||
      typeof module.sign !== 'function' ||
      typeof module.verify !== 'function' ||
      typeof module.hash !== 'function'
    ) {
      return undefined;
    }
    return module as NodeCrypto;
  } catch {
    return undefined;
  }
}

/** A plain Uint8Array view of a Node Buffer, so results compare equal to the pure backend's. */
function plain(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function concat(prefix: Uint8Array, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

function createNative(crypto: NodeCrypto): CryptoBackend {
  const publicKeys = new Map<string, object>();
  // Private KeyObjects live only as long as the object that asked for them (a SigningKey).
  const privateKeys = new WeakMap<object, object>();

  function publicKeyObject(publicKey: Uint8Array): object {
    // A latin1 string of the 32 bytes is a cheap, collision-free map key.
    const id = String.fromCharCode.apply(null, publicKey as unknown as number[]);
    let key = publicKeys.get(id);
    if (key === undefined) {
      key = crypto.createPublicKey({
        key: concat(SPKI_PREFIX, publicKey),
        format: 'der',
        type: 'spki',
      });
      if (publicKeys.size >= PUBLIC_KEY_CACHE_LIMIT) {
        const oldest = publicKeys.keys().next();
        if (oldest.done !== true) publicKeys.delete(oldest.value);
      }
      publicKeys.set(id, key);
    }
    return key;
  }

  function privateKeyObject(seed: Uint8Array): object {
    const der = concat(PKCS8_PREFIX, seed);
    try {
      return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } finally {
      der.fill(0);
    }
  }

  function verifyNative(
    signature: Uint8Array,
    message: Uint8Array | string,
    publicKey: Uint8Array,
  ): boolean {
    // OpenSSL would reject these too; checking first keeps malformed input off the key cache.
    if (publicKey.length !== 32 || signature.length !== 64) return false;
    try {
      return crypto.verify(null, message, publicKeyObject(publicKey), signature);
    } catch {
      return false;
    }
  }

  return {
    name: 'native',
    sha256: (data) => plain(crypto.hash('sha256', data, 'buffer')),
    // Hashing the string directly lets OpenSSL's caller do the UTF-8 step, skipping a copy.
    sha256Utf8: (text) => plain(crypto.hash('sha256', text, 'buffer')),
    sign(message, seed, holder) {
      let key = holder === undefined ? undefined : privateKeys.get(holder);
      if (key === undefined) {
        key = privateKeyObject(seed);
        if (holder !== undefined) privateKeys.set(holder, key);
      }
      return plain(crypto.sign(null, message, key));
    },
    verify: verifyNative,
    // node:crypto takes a string and encodes it as UTF-8 itself, saving a copy.
    verifyUtf8: verifyNative,
    release(holder) {
      privateKeys.delete(holder);
    },
  };
}

const nodeCrypto = loadNodeCrypto();
const native = nodeCrypto === undefined ? undefined : createNative(nodeCrypto);

let active: CryptoBackend = native ?? pure;

/** The backend every function of this package uses right now. */
export function backend(): CryptoBackend {
  return active;
}

/** Drops cached key material for `holder` from every backend. */
export function releaseKeyMaterial(holder: object): void {
  pure.release(holder);
  native?.release(holder);
}

/** True when the native backend exists on this platform. */
export function hasNativeBackend(): boolean {
  return native !== undefined;
}

/**
 * Selects the backend (tests only: to prove both paths agree). Throws when `native` is asked for
 * on a platform without it. Returns the previous selection so a test can restore it.
 */
export function useBackend(name: 'pure' | 'native'): 'pure' | 'native' {
  const previous = active.name;
  if (name === 'native') {
    if (native === undefined) throw new Error('no native crypto backend on this platform');
    active = native;
  } else {
    active = pure;
  }
  return previous;
}
