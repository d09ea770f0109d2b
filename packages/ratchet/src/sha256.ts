/**
 * SHA-256 (FIPS 180-4), HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256 (RFC 5869) for the small,
 * fixed-shape inputs of Olm and Megolm: message keys, ratchet steps and message MACs.
 *
 * Same results as @noble/hashes, but built for many tiny calls: the compression function works
 * on preallocated scratch state, HMAC keys are expanded once into their inner and outer states
 * (`hmacKey`), and HKDF's zero salt is precomputed, so a Megolm message key costs 12
 * compressions and no per-call hash objects. Scratch buffers holding key-derived words are
 * zeroed after every digest.
 */

// FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of the first
// 64 primes.
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
// FIPS 180-4 §5.3.3: the initial hash value.
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const W = new Int32Array(64);
const STATE = new Int32Array(8);
const TAIL = new Uint8Array(128);
const PAD = new Uint8Array(64);
const INNER = new Uint8Array(32);
// HKDF-Expand's message T(i-1) ‖ info ‖ i for info strings up to 64 bytes, and T(i).
const EXPAND = new Uint8Array(32 + 64 + 1);
const T = new Uint8Array(32);

/** One SHA-256 compression of the 64-byte block at `block[offset]` into `state` (§6.2.2). */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  const w = W;
  for (let i = 0, o = offset; i < 16; i++, o += 4) {
    w[i] =
      ((block[o] as number) << 24) |
      ((block[o + 1] as number) << 16) |
      ((block[o + 2] as number) << 8) |
      (block[o + 3] as number);
  }
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15] as number;
    const y = w[i - 2] as number;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (s1 + (w[i - 7] as number) + s0 + (w[i - 16] as number)) | 0;
  }
  let a = state[0] as number;
  let b = state[1] as number;
  let c = state[2] as number;
  let d = state[3] as number;
  let e = state[4] as number;
  let f = state[5] as number;
  let g = state[6] as number;
  let h = state[7] as number;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + (K[i] as number) + (w[i] as number)) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = ((state[0] as number) + a) | 0;
  state[1] = ((state[1] as number) + b) | 0;
  state[2] = ((state[2] as number) + c) | 0;
  state[3] = ((state[3] as number) + d) | 0;
  state[4] = ((state[4] as number) + e) | 0;
  state[5] = ((state[5] as number) + f) | 0;
  state[6] = ((state[6] as number) + g) | 0;
  state[7] = ((state[7] as number) + h) | 0;
}

function writeWord(out: Uint8Array, offset: number, word: number): void {
  out[offset] = word >>> 24;
  out[offset + 1] = word >>> 16;
  out[offset + 2] = word >>> 8;
  out[offset + 3] = word;
}

/**
 * Finishes a hash whose first `prefixLength` bytes (a multiple of 64) are already in `from`:
 * hashes `data`, pads (§5.1.1) and writes the 32-byte digest to `out[outOffset]`.
 */
function digestFrom(
  from: Int32Array,
  prefixLength: number,
  data: Uint8Array,
  out: Uint8Array,
  outOffset: number,
): void {
  const state = STATE;
  state.set(from);
  const full = data.length - (data.length % 64);
  for (let o = 0; o < full; o += 64) compress(state, data, o);
  const rest = data.length - full;
  const tail = TAIL;
  tail.set(data.subarray(full));
  tail[rest] = 0x80;
  const end = rest + 9 <= 64 ? 64 : 128;
  const bits = (prefixLength + data.length) * 8;
  writeWord(tail, end - 8, Math.floor(bits / 0x100000000));
  writeWord(tail, end - 4, bits >>> 0);
  compress(state, tail, 0);
  if (end === 128) compress(state, tail, 64);
  for (let i = 0; i < 8; i++) writeWord(out, outOffset + 4 * i, state[i] as number);
  tail.fill(0);
  state.fill(0);
  W.fill(0);
}

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  digestFrom(IV, 0, data, out, 0);
  return out;
}

/** An HMAC-SHA-256 key expanded into the hash states after its inner and outer pads. */
export interface HmacKey {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/** Expands an HMAC key (RFC 2104 §2; keys over 64 bytes are hashed first). */
export function hmacKey(key: Uint8Array): HmacKey {
  const pad = PAD;
  pad.fill(0);
  if (key.length > 64) digestFrom(IV, 0, key, pad, 0);
  else pad.set(key);
  for (let i = 0; i < 64; i++) pad[i] = (pad[i] as number) ^ 0x36;
  const inner = IV.slice();
  compress(inner, pad, 0);
  for (let i = 0; i < 64; i++) pad[i] = (pad[i] as number) ^ (0x36 ^ 0x5c);
  const outer = IV.slice();
  compress(outer, pad, 0);
  pad.fill(0);
  W.fill(0);
  return { inner, outer };
}

/** Overwrites an expanded key. */
export function zeroizeHmacKey(key: HmacKey): void {
  key.inner.fill(0);
  key.outer.fill(0);
}

/** HMAC-SHA-256 of `data` under an expanded key, written to `out[outOffset]` (32 bytes). */
export function hmacInto(key: HmacKey, data: Uint8Array, out: Uint8Array, outOffset = 0): void {
  digestFrom(key.inner, 64, data, INNER, 0);
  digestFrom(key.outer, 64, INNER, out, outOffset);
  INNER.fill(0);
}

/** HMAC-SHA-256 (RFC 2104), 32 bytes. */
export function hmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const expanded = hmacKey(key);
  const out = new Uint8Array(32);
  hmacInto(expanded, data, out);
  zeroizeHmacKey(expanded);
  return out;
}

// HKDF's salt is an HMAC key: any all-zero salt of at most 64 bytes (RFC 5869 §2.2's default is
// 32 zero bytes) pads to the same 64 zero bytes, so its expansion is computed once.
const ZERO_KEY = hmacKey(new Uint8Array(0));

function isZeroKey(salt: Uint8Array): boolean {
  if (salt.length > 64) return false;
  let acc = 0;
  for (let i = 0; i < salt.length; i++) acc |= salt[i] as number;
  return acc === 0;
}

/** HKDF-SHA-256 (RFC 5869 §2.2 extract, §2.3 expand); `length` ≤ 8160. */
export function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32) {
    throw new RangeError('HKDF length must be 1..8160');
  }
  const saltKey = isZeroKey(salt) ? ZERO_KEY : hmacKey(salt);
  const prk = new Uint8Array(32);
  hmacInto(saltKey, ikm, prk);
  if (saltKey !== ZERO_KEY) zeroizeHmacKey(saltKey);
  const prkKey = hmacKey(prk);
  prk.fill(0);
  const out = new Uint8Array(length);
  // T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i), T(0) empty.
  const block =
    info.length <= 64 ? EXPAND.subarray(0, 32 + info.length + 1) : new Uint8Array(33 + info.length);
  const t = T;
  for (let i = 1, offset = 0; offset < length; i++, offset += 32) {
    const message = i === 1 ? block.subarray(32) : block;
    block.set(info, 32);
    block[32 + info.length] = i;
    hmacInto(prkKey, message, t);
    out.set(t.subarray(0, Math.min(32, length - offset)), offset);
    block.set(t);
  }
  block.fill(0);
  t.fill(0);
  zeroizeHmacKey(prkKey);
  return out;
}
