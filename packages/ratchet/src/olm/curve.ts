/**
 * Curve25519 (X25519) and Ed25519 for Olm accounts and sessions.
 *
 * Pure implementation: @noble/curves, so the package runs in browsers. Where the host is Node
 * (found at runtime through `globalThis.process.getBuiltinModule`, never a static `node:` import),
 * the same operations go through OpenSSL, which is several times faster for X25519 and Ed25519.
 * Both paths take and return the same raw 32-byte keys; a test runs both on the same inputs.
 *
 * Private keys are used as given (X25519 clamps internally, RFC 7748 §5), exactly as libolm
 * hands its random bytes to curve25519-donna, so recorded libolm randomness gives libolm's keys.
 */
import { ed25519, x25519 } from '@noble/curves/ed25519.js';

import { decodeBase64 } from '../base64.ts';
import { RatchetError } from '../errors.ts';

interface NodeKeyObject {
  export(options: { format: 'jwk' }): { x?: string };
}
interface NodeCrypto {
  createPrivateKey(options: { key: Uint8Array; format: 'der'; type: 'pkcs8' }): NodeKeyObject;
  createPublicKey(
    input: NodeKeyObject | { key: Uint8Array; format: 'der'; type: 'spki' },
  ): NodeKeyObject;
  diffieHellman(options: { privateKey: NodeKeyObject; publicKey: NodeKeyObject }): Uint8Array;
  sign(algorithm: null, data: Uint8Array, key: NodeKeyObject): Uint8Array;
}

function findNodeCrypto(): NodeCrypto | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    const mod = proc?.getBuiltinModule?.('node:crypto') as NodeCrypto | undefined;
    return typeof mod?.diffieHellman === 'function' ? mod : undefined;
  } catch {
    return undefined;
  }
}

const nodeCrypto = findNodeCrypto();
let useNative = nodeCrypto !== undefined;

/**
 * Chooses the implementation (tests run both); returns whether the native path is now in use.
 * Asking for native where Node's crypto is unavailable keeps the pure path.
 */
export function selectCurveImplementation(native: boolean): boolean {
  useNative = native && nodeCrypto !== undefined;
  return useNative;
}

// Fixed DER prefixes wrapping a raw 32-byte key (RFC 8410 §7 and §4).
const X25519_PKCS8 = hex('302e020100300506032b656e04220420');
const X25519_SPKI = hex('302a300506032b656e032100');
const ED25519_PKCS8 = hex('302e020100300506032b657004220420');

function hex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function wrap(prefix: Uint8Array, key: Uint8Array): Uint8Array {
  const der = new Uint8Array(prefix.length + key.length);
  der.set(prefix);
  der.set(key, prefix.length);
  return der;
}

function importPrivate(node: NodeCrypto, prefix: Uint8Array, key: Uint8Array): NodeKeyObject {
  const der = wrap(prefix, key);
  try {
    return node.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

// Exporting the public half as JWK is ~10× cheaper in Node than as DER (OpenSSL 3's encoders).
function exportPublic(node: NodeCrypto, privateKey: NodeKeyObject): Uint8Array {
  const x = node.createPublicKey(privateKey).export({ format: 'jwk' }).x ?? '';
  return decodeBase64(x.replaceAll('-', '+').replaceAll('_', '/'));
}

/**
 * OpenSSL key objects of long-lived private keys (an account's identity, one-time and fallback
 * keys, its Ed25519 seed), imported once when the public key is first computed (`keep`) and then
 * reused: importing a private key costs about as much as an agreement, since OpenSSL derives the
 * public key on import. Keyed by the buffer: such buffers are never rewritten, only zeroed, and
 * every place that zeroes one calls `forgetKey` first, so a cached object always matches its
 * buffer and does not outlive it in use.
 */
const kept = new WeakMap<Uint8Array, NodeKeyObject>();

/** Drops the cached key object of a private key (call before zeroing a kept key). */
export function forgetKey(privateKey: Uint8Array): void {
  kept.delete(privateKey);
}

function nativePrivate(
  node: NodeCrypto,
  prefix: Uint8Array,
  key: Uint8Array,
  keep: boolean,
): NodeKeyObject {
  let keyObject = kept.get(key);
  if (keyObject === undefined) {
    keyObject = importPrivate(node, prefix, key);
    if (keep) kept.set(key, keyObject);
  }
  return keyObject;
}

function badKey(cause: unknown): RatchetError {
  return new RatchetError('bad-key', 'Curve25519 agreement failed (invalid or low-order key)', {
    cause,
  });
}

/**
 * The X25519 public key of a 32-byte private key; `keep` caches OpenSSL's key object for later
 * agreements (long-lived keys only; see `forgetKey`).
 */
export function curvePublicKey(privateKey: Uint8Array, keep = false): Uint8Array {
  if (useNative && nodeCrypto !== undefined) {
    return exportPublic(nodeCrypto, nativePrivate(nodeCrypto, X25519_PKCS8, privateKey, keep));
  }
  return x25519.getPublicKey(privateKey);
}

/** X25519(ourPrivate, theirPublic); a low-order peer key (all-zero result) is `bad-key`. */
export function curveAgreement(ourPrivate: Uint8Array, theirPublic: Uint8Array): Uint8Array {
  const [secret] = curveAgreements([[ourPrivate, theirPublic]]);
  return secret as Uint8Array;
}

/**
 * Several X25519 agreements at once (the triple DH). On the native path each distinct key buffer
 * is imported into OpenSSL once: importing a key costs more than the agreement itself.
 */
export function curveAgreements(
  pairs: ReadonlyArray<readonly [ourPrivate: Uint8Array, theirPublic: Uint8Array]>,
): Uint8Array[] {
  if (useNative && nodeCrypto !== undefined) {
    const node = nodeCrypto;
    const privates = new Map<Uint8Array, NodeKeyObject>();
    const publics = new Map<Uint8Array, NodeKeyObject>();
    try {
      return pairs.map(([ours, theirs]) => {
        let privateKey = privates.get(ours);
        if (privateKey === undefined) {
          privateKey = nativePrivate(node, X25519_PKCS8, ours, false);
          privates.set(ours, privateKey);
        }
        let publicKey = publics.get(theirs);
        if (publicKey === undefined) {
          publicKey = node.createPublicKey({
            key: wrap(X25519_SPKI, theirs),
            format: 'der',
            type: 'spki',
          });
          publics.set(theirs, publicKey);
        }
        const shared = node.diffieHellman({ privateKey, publicKey });
        const out = Uint8Array.from(shared);
        shared.fill(0);
        return out;
      });
    } catch (cause) {
      throw badKey(cause);
    }
  }
  try {
    return pairs.map(([ours, theirs]) => x25519.getSharedSecret(ours, theirs));
  } catch (cause) {
    throw badKey(cause);
  }
}

/**
 * The Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5); `keep` caches OpenSSL's key
 * object for later signatures (see `forgetKey`).
 */
export function edPublicKey(seed: Uint8Array, keep = false): Uint8Array {
  if (useNative && nodeCrypto !== undefined) {
    return exportPublic(nodeCrypto, nativePrivate(nodeCrypto, ED25519_PKCS8, seed, keep));
  }
  return ed25519.getPublicKey(seed);
}

/** An Ed25519 signature of `message` by the key with this seed (RFC 8032 §5.1.6). */
export function edSign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  if (useNative && nodeCrypto !== undefined) {
    const key = nativePrivate(nodeCrypto, ED25519_PKCS8, seed, false);
    return Uint8Array.from(nodeCrypto.sign(null, message, key));
  }
  return ed25519.sign(message, seed);
}
