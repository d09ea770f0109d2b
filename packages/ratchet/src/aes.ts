/**
 * AES-256 (FIPS 197) in CBC mode with PKCS#7 padding, for the short messages of Olm and Megolm.
 *
 * A table-driven implementation (the "T-table" formulation of FIPS 197 §5.1/§5.3 rounds, with
 * the equivalent inverse cipher of §5.3.5 for decryption) that works on 32-bit words and
 * preallocated round-key buffers: each message has a fresh key, so the key schedule and the
 * per-call allocations matter as much as the rounds. Like @noble/ciphers' AES, table lookups are
 * indexed by secret data, so this is not constant-time against cache-timing attackers on the same
 * machine; Matrix clients have the same exposure through libolm's and vodozemac's AES.
 */

// The S-box and its inverse, computed from the definition (FIPS 197 §5.1.1): multiplicative
// inverse in GF(2^8) followed by the affine transformation.
const SBOX = new Uint8Array(256);
const INV_SBOX = new Uint8Array(256);
{
  let p = 1;
  let q = 1;
  do {
    // p ← p·3, q ← q/3 (so q = p^-1), walking the multiplicative group.
    p = p ^ ((p << 1) & 0xff) ^ (p & 0x80 ? 0x1b : 0);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const x = q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63;
    SBOX[p] = x;
    INV_SBOX[x] = p;
  } while (p !== 1);
  SBOX[0] = 0x63;
  INV_SBOX[0x63] = 0;
}

function rotl8(x: number, shift: number): number {
  return ((x << shift) | (x >>> (8 - shift))) & 0xff;
}

function xtime(x: number): number {
  return ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 0xff;
}

function mul(a: number, b: number): number {
  let result = 0;
  let x = a;
  for (let y = b; y > 0; y >>= 1) {
    if (y & 1) result ^= x;
    x = xtime(x);
  }
  return result;
}

// Round tables: TE[x] = MixColumns column of S(x) = (2s, s, s, 3s), TD[x] = InvMixColumns column
// of S^-1(x) = (14s', 9s', 13s', 11s'), each as a big-endian word; rotations give the other three.
const TE0 = new Int32Array(256);
const TE1 = new Int32Array(256);
const TE2 = new Int32Array(256);
const TE3 = new Int32Array(256);
const TD0 = new Int32Array(256);
const TD1 = new Int32Array(256);
const TD2 = new Int32Array(256);
const TD3 = new Int32Array(256);
for (let x = 0; x < 256; x++) {
  const s = SBOX[x] as number;
  const te = (mul(s, 2) << 24) | (s << 16) | (s << 8) | mul(s, 3);
  TE0[x] = te;
  TE1[x] = (te >>> 8) | (te << 24);
  TE2[x] = (te >>> 16) | (te << 16);
  TE3[x] = (te >>> 24) | (te << 8);
  const si = INV_SBOX[x] as number;
  const td = (mul(si, 14) << 24) | (mul(si, 9) << 16) | (mul(si, 13) << 8) | mul(si, 11);
  TD0[x] = td;
  TD1[x] = (td >>> 8) | (td << 24);
  TD2[x] = (td >>> 16) | (td << 16);
  TD3[x] = (td >>> 24) | (td << 8);
}

const ROUNDS = 14;
const KEY_WORDS = 4 * (ROUNDS + 1);
// Round constants for the key schedule (FIPS 197 §5.2): x^(i-1) in GF(2^8), in the top byte.
const RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40].map((r) => r << 24);

// Scratch round keys, overwritten per call and zeroed after it.
const ENC_KEYS = new Int32Array(KEY_WORDS);
const DEC_KEYS = new Int32Array(KEY_WORDS);

function subWord(w: number): number {
  return (
    ((SBOX[w >>> 24] as number) << 24) |
    ((SBOX[(w >>> 16) & 0xff] as number) << 16) |
    ((SBOX[(w >>> 8) & 0xff] as number) << 8) |
    (SBOX[w & 0xff] as number)
  );
}

function readWord(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) << 24) |
    ((bytes[offset + 1] as number) << 16) |
    ((bytes[offset + 2] as number) << 8) |
    (bytes[offset + 3] as number)
  );
}

function writeWord(out: Uint8Array, offset: number, word: number): void {
  out[offset] = word >>> 24;
  out[offset + 1] = word >>> 16;
  out[offset + 2] = word >>> 8;
  out[offset + 3] = word;
}

/** KeyExpansion for a 256-bit key (FIPS 197 §5.2, Nk = 8) into ENC_KEYS. */
function expandKey(key: Uint8Array): void {
  const w = ENC_KEYS;
  for (let i = 0; i < 8; i++) w[i] = readWord(key, 4 * i);
  for (let i = 8; i < KEY_WORDS; i++) {
    let t = w[i - 1] as number;
    if (i % 8 === 0) t = subWord((t << 8) | (t >>> 24)) ^ (RCON[i / 8 - 1] as number);
    else if (i % 8 === 4) t = subWord(t);
    w[i] = (w[i - 8] as number) ^ t;
  }
}

/** Round keys of the equivalent inverse cipher (FIPS 197 §5.3.5) into DEC_KEYS. */
function expandDecryptionKey(key: Uint8Array): void {
  expandKey(key);
  const e = ENC_KEYS;
  const d = DEC_KEYS;
  for (let r = 0; r <= ROUNDS; r++) {
    for (let c = 0; c < 4; c++) {
      const w = e[4 * (ROUNDS - r) + c] as number;
      // InvMixColumns of the middle round keys: TD[S(x)] undoes the S-box inside the table.
      d[4 * r + c] =
        r === 0 || r === ROUNDS
          ? w
          : (TD0[SBOX[w >>> 24] as number] as number) ^
            (TD1[SBOX[(w >>> 16) & 0xff] as number] as number) ^
            (TD2[SBOX[(w >>> 8) & 0xff] as number] as number) ^
            (TD3[SBOX[w & 0xff] as number] as number);
    }
  }
  e.fill(0);
}

const STATE = new Int32Array(4);

/** Encrypts the block in STATE with ENC_KEYS (FIPS 197 §5.1). */
function encryptState(): void {
  const k = ENC_KEYS;
  let s0 = (STATE[0] as number) ^ (k[0] as number);
  let s1 = (STATE[1] as number) ^ (k[1] as number);
  let s2 = (STATE[2] as number) ^ (k[2] as number);
  let s3 = (STATE[3] as number) ^ (k[3] as number);
  let o = 4;
  for (let r = 1; r < ROUNDS; r++, o += 4) {
    const t0 =
      (TE0[s0 >>> 24] as number) ^
      (TE1[(s1 >>> 16) & 0xff] as number) ^
      (TE2[(s2 >>> 8) & 0xff] as number) ^
      (TE3[s3 & 0xff] as number) ^
      (k[o] as number);
    const t1 =
      (TE0[s1 >>> 24] as number) ^
      (TE1[(s2 >>> 16) & 0xff] as number) ^
      (TE2[(s3 >>> 8) & 0xff] as number) ^
      (TE3[s0 & 0xff] as number) ^
      (k[o + 1] as number);
    const t2 =
      (TE0[s2 >>> 24] as number) ^
      (TE1[(s3 >>> 16) & 0xff] as number) ^
      (TE2[(s0 >>> 8) & 0xff] as number) ^
      (TE3[s1 & 0xff] as number) ^
      (k[o + 2] as number);
    const t3 =
      (TE0[s3 >>> 24] as number) ^
      (TE1[(s0 >>> 16) & 0xff] as number) ^
      (TE2[(s1 >>> 8) & 0xff] as number) ^
      (TE3[s2 & 0xff] as number) ^
      (k[o + 3] as number);
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  // Last round: SubBytes, ShiftRows, AddRoundKey (no MixColumns).
  STATE[0] = lastRound(SBOX, s0, s1, s2, s3) ^ (k[o] as number);
  STATE[1] = lastRound(SBOX, s1, s2, s3, s0) ^ (k[o + 1] as number);
  STATE[2] = lastRound(SBOX, s2, s3, s0, s1) ^ (k[o + 2] as number);
  STATE[3] = lastRound(SBOX, s3, s0, s1, s2) ^ (k[o + 3] as number);
}

/** Decrypts the block in STATE with DEC_KEYS (FIPS 197 §5.3.5, equivalent inverse cipher). */
function decryptState(): void {
  const k = DEC_KEYS;
  let s0 = (STATE[0] as number) ^ (k[0] as number);
  let s1 = (STATE[1] as number) ^ (k[1] as number);
  let s2 = (STATE[2] as number) ^ (k[2] as number);
  let s3 = (STATE[3] as number) ^ (k[3] as number);
  let o = 4;
  for (let r = 1; r < ROUNDS; r++, o += 4) {
    const t0 =
      (TD0[s0 >>> 24] as number) ^
      (TD1[(s3 >>> 16) & 0xff] as number) ^
      (TD2[(s2 >>> 8) & 0xff] as number) ^
      (TD3[s1 & 0xff] as number) ^
      (k[o] as number);
    const t1 =
      (TD0[s1 >>> 24] as number) ^
      (TD1[(s0 >>> 16) & 0xff] as number) ^
      (TD2[(s3 >>> 8) & 0xff] as number) ^
      (TD3[s2 & 0xff] as number) ^
      (k[o + 1] as number);
    const t2 =
      (TD0[s2 >>> 24] as number) ^
      (TD1[(s1 >>> 16) & 0xff] as number) ^
      (TD2[(s0 >>> 8) & 0xff] as number) ^
      (TD3[s3 & 0xff] as number) ^
      (k[o + 2] as number);
    const t3 =
      (TD0[s3 >>> 24] as number) ^
      (TD1[(s2 >>> 16) & 0xff] as number) ^
      (TD2[(s1 >>> 8) & 0xff] as number) ^
      (TD3[s0 & 0xff] as number) ^
      (k[o + 3] as number);
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  STATE[0] = lastRound(INV_SBOX, s0, s3, s2, s1) ^ (k[o] as number);
  STATE[1] = lastRound(INV_SBOX, s1, s0, s3, s2) ^ (k[o + 1] as number);
  STATE[2] = lastRound(INV_SBOX, s2, s1, s0, s3) ^ (k[o + 2] as number);
  STATE[3] = lastRound(INV_SBOX, s3, s2, s1, s0) ^ (k[o + 3] as number);
}

function lastRound(box: Uint8Array, a: number, b: number, c: number, d: number): number {
  return (
    ((box[a >>> 24] as number) << 24) |
    ((box[(b >>> 16) & 0xff] as number) << 16) |
    ((box[(c >>> 8) & 0xff] as number) << 8) |
    (box[d & 0xff] as number)
  );
}

/** AES-256-CBC encryption with PKCS#7 padding (RFC 5652 §6.3): output is a whole number of blocks. */
export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const padding = 16 - (plaintext.length % 16);
  const out = new Uint8Array(plaintext.length + padding);
  out.set(plaintext);
  out.fill(padding, plaintext.length);
  expandKey(key);
  let c0 = readWord(iv, 0);
  let c1 = readWord(iv, 4);
  let c2 = readWord(iv, 8);
  let c3 = readWord(iv, 12);
  for (let o = 0; o < out.length; o += 16) {
    STATE[0] = readWord(out, o) ^ c0;
    STATE[1] = readWord(out, o + 4) ^ c1;
    STATE[2] = readWord(out, o + 8) ^ c2;
    STATE[3] = readWord(out, o + 12) ^ c3;
    encryptState();
    c0 = STATE[0] as number;
    c1 = STATE[1] as number;
    c2 = STATE[2] as number;
    c3 = STATE[3] as number;
    writeWord(out, o, c0);
    writeWord(out, o + 4, c1);
    writeWord(out, o + 8, c2);
    writeWord(out, o + 12, c3);
  }
  ENC_KEYS.fill(0);
  STATE.fill(0);
  return out;
}

/**
 * AES-256-CBC decryption; returns the plaintext without its PKCS#7 padding, or `undefined` when
 * the length is not a positive multiple of 16 or the padding is invalid. The padding check reads
 * all 16 bytes of the last block whatever their values.
 */
export function aesCbcDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | undefined {
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) return undefined;
  const out = new Uint8Array(ciphertext.length);
  expandDecryptionKey(key);
  let p0 = readWord(iv, 0);
  let p1 = readWord(iv, 4);
  let p2 = readWord(iv, 8);
  let p3 = readWord(iv, 12);
  for (let o = 0; o < ciphertext.length; o += 16) {
    const c0 = readWord(ciphertext, o);
    const c1 = readWord(ciphertext, o + 4);
    const c2 = readWord(ciphertext, o + 8);
    const c3 = readWord(ciphertext, o + 12);
    STATE[0] = c0;
    STATE[1] = c1;
    STATE[2] = c2;
    STATE[3] = c3;
    decryptState();
    writeWord(out, o, (STATE[0] as number) ^ p0);
    writeWord(out, o + 4, (STATE[1] as number) ^ p1);
    writeWord(out, o + 8, (STATE[2] as number) ^ p2);
    writeWord(out, o + 12, (STATE[3] as number) ^ p3);
    p0 = c0;
    p1 = c1;
    p2 = c2;
    p3 = c3;
  }
  DEC_KEYS.fill(0);
  STATE.fill(0);
  const padding = out[out.length - 1] as number;
  let bad = padding === 0 || padding > 16 ? 1 : 0;
  for (let i = 1; i <= 16; i++) {
    // Bytes inside the claimed padding must equal it; the others are read but ignored.
    const inside = i <= padding ? 1 : 0;
    bad |= inside & ((out[out.length - i] as number) !== padding ? 1 : 0);
  }
  if (bad !== 0) {
    out.fill(0);
    return undefined;
  }
  const plaintext = out.slice(0, out.length - padding);
  out.fill(0);
  return plaintext;
}
