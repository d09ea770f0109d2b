/**
 * Randomness. Production code draws only from the platform CSPRNG; tests inject a recorded stream
 * (e.g. libolm's deterministic vectors) through the same `RandomSource` shape.
 */

/** Returns `length` fresh random bytes. */
export type RandomSource = (length: number) => Uint8Array;

// Web Crypto refuses requests above 65536 bytes, so larger requests are filled in chunks.
const MAX_CHUNK = 65536;

/** The platform CSPRNG (`globalThis.crypto.getRandomValues`). */
export const systemRandom: RandomSource = (length) => {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError('random length must be a non-negative integer');
  }
  const cryptoApi = globalThis.crypto;
  if (cryptoApi === undefined || typeof cryptoApi.getRandomValues !== 'function') {
    throw new Error('no CSPRNG available: globalThis.crypto.getRandomValues is missing');
  }
  const out = new Uint8Array(length);
  for (let offset = 0; offset < length; offset += MAX_CHUNK) {
    cryptoApi.getRandomValues(out.subarray(offset, Math.min(offset + MAX_CHUNK, length)));
  }
  return out;
};

/** Calls `random` and checks it returned exactly `length` bytes (guards injected sources). */
export function randomBytes(random: RandomSource, length: number): Uint8Array {
  const bytes = random(length);
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new TypeError(`random source must return a Uint8Array of ${length} bytes`);
  }
  return bytes;
}
