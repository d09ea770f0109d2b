// The Megolm ratchet (src/megolm/ratchet.ts) against a reference written straight from the spec's
// closed-form definition of R_{i,j} (https://spec.matrix.org/v1.19/olm-megolm/megolm/#the-megolm-ratchet-algorithm),
// using OpenSSL's HMAC-SHA-256 for H_j(A) = HMAC(A, "\x0j").
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { CipherKeysBuffer, deriveCipherKeys, zeroizeKeys } from '../src/cipher.ts';
import { RatchetError } from '../src/errors.ts';
import { MegolmRatchet } from '../src/megolm/ratchet.ts';

function h(j: number, a: Buffer): Buffer {
  return createHmac('sha256', a).update(Buffer.of(j)).digest();
}
function iterate(j: number, a: Buffer, times: number): Buffer {
  let x = a;
  for (let t = 0; t < times; t++) x = h(j, x);
  return x;
}

/**
 * R_i from R_0 by the spec's cases: with i = a·2^24 + b·2^16 + c·2^8 + d, part j is reseeded from
 * the highest part whose period divides the last multiple of its own period, then hashed by H_j
 * once per later period boundary.
 */
function reference(initial: Uint8Array, index: number): Buffer {
  const parts = [0, 1, 2, 3].map((j) => Buffer.from(initial.subarray(32 * j, 32 * j + 32)));
  const digits = [(index >>> 24) & 0xff, (index >>> 16) & 0xff, (index >>> 8) & 0xff, index & 0xff];
  const out: Buffer[] = [];
  let seedFrom: { part: number; value: Buffer } | undefined;
  for (let j = 0; j < 4; j++) {
    const steps = digits[j] as number;
    let base = parts[j] as Buffer;
    if (seedFrom !== undefined) base = h(j, seedFrom.value);
    // Hashing H_j `steps` times; the last pre-step value reseeds the parts below when steps > 0.
    if (steps > 0) {
      const before = iterate(j, base, steps - 1);
      seedFrom = { part: j, value: before };
      out.push(h(j, before));
    } else {
      out.push(base);
    }
  }
  return Buffer.concat(out);
}

const initial = new Uint8Array(randomBytes(128));

function at(index: number, from = 0): MegolmRatchet {
  const ratchet = new MegolmRatchet(initial.slice(), 0);
  if (from > 0) ratchet.advanceTo(from);
  ratchet.advanceTo(index);
  return ratchet;
}

describe('MegolmRatchet.advanceTo', () => {
  it('matches the spec at the period boundaries 2^8, 2^16, 2^24 and their neighbours', () => {
    for (const index of [
      0,
      1,
      255,
      256,
      257,
      65535,
      65536,
      65537,
      2 ** 24 - 1,
      2 ** 24,
      2 ** 24 + 1,
    ]) {
      expect(Buffer.from(at(index).data), `index ${index}`).toEqual(reference(initial, index));
    }
    expect(Buffer.from(at(2 ** 24).data)).toEqual(
      Buffer.concat([0, 1, 2, 3].map((j) => h(j, Buffer.from(initial.subarray(0, 32))))),
    );
  });

  it('matches the spec for any uint32 index, directly or via an intermediate index', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 0, max: 0xffffffff }),
        (x, y) => {
          const [low, high] = x <= y ? [x, y] : [y, x];
          const direct = at(high);
          expect(direct.counter).toBe(high);
          expect(Buffer.from(direct.data)).toEqual(reference(initial, high));
          expect(Buffer.from(at(high, low).data)).toEqual(Buffer.from(direct.data));
        },
      ),
      { numRuns: 12 },
    );
  });

  it('refuses to go backwards or beyond 2^32-1', () => {
    const ratchet = at(10);
    expect(() => ratchet.advanceTo(9)).toThrow(RangeError);
    expect(() => ratchet.advanceTo(2 ** 32)).toThrow(RangeError);
    expect(() => ratchet.advanceTo(1.5 + 10)).toThrow(RangeError);
  });
});

describe('MegolmRatchet.advance', () => {
  it('one step at a time agrees with advanceTo across the 2^8 and 2^16 boundaries', () => {
    for (const start of [250, 65530, 2 ** 24 - 3, 0xffffff00 - 2]) {
      const stepping = at(start);
      for (let i = start + 1; i <= start + 8; i++) {
        stepping.advance();
        expect(stepping.counter).toBe(i);
        expect(Buffer.from(stepping.data), `index ${i}`).toEqual(reference(initial, i));
      }
    }
  });

  it('reaches 2^32-1 and then refuses to advance (session-exhausted), never wrapping to 0', () => {
    const ratchet = at(0xffffffff - 1);
    ratchet.advance();
    expect(ratchet.counter).toBe(0xffffffff);
    expect(Buffer.from(ratchet.data)).toEqual(reference(initial, 0xffffffff));
    const before = Buffer.from(ratchet.data);
    for (let attempt = 0; attempt < 2; attempt++) {
      let error: unknown;
      try {
        ratchet.advance();
      } catch (caught) {
        error = caught;
      }
      expect(RatchetError.isInstance(error) && error.code).toBe('session-exhausted');
      expect(ratchet.counter).toBe(0xffffffff);
      expect(Buffer.from(ratchet.data)).toEqual(before);
    }
  });

  it('clone is independent and zeroize clears the value', () => {
    const ratchet = at(3);
    const copy = ratchet.clone();
    ratchet.advance();
    expect(copy.counter).toBe(3);
    expect(Buffer.from(copy.data)).toEqual(reference(initial, 3));
    copy.zeroize();
    expect(copy.data.every((b) => b === 0)).toBe(true);
  });

  it('messageKeysInto is HKDF(0, R_i, "MEGOLM_KEYS", 80) into the given buffer, wiped by zeroizeKeys', () => {
    const ratchet = at(7);
    const buffer = new CipherKeysBuffer();
    const keys = ratchet.messageKeysInto(buffer);
    expect(keys).toBe(buffer);
    const okm = new Uint8Array(
      hkdfSync('sha256', ratchet.data, new Uint8Array(32), 'MEGOLM_KEYS', 80),
    );
    expect([keys.aesKey, keys.macKey, keys.iv]).toEqual([
      okm.slice(0, 32),
      okm.slice(32, 64),
      okm.slice(64),
    ]);
    const fresh = deriveCipherKeys(ratchet.data, 'MEGOLM_KEYS');
    expect([keys.aesKey, keys.macKey, keys.iv]).toEqual([fresh.aesKey, fresh.macKey, fresh.iv]);
    zeroizeKeys(keys);
    expect([buffer.aesKey, buffer.macKey, buffer.iv].every((k) => k.every((b) => b === 0))).toBe(
      true,
    );
  });

  it('rejects malformed construction', () => {
    expect(() => new MegolmRatchet(new Uint8Array(127), 0)).toThrow(RangeError);
    expect(() => new MegolmRatchet(new Uint8Array(128), -1)).toThrow(RangeError);
    expect(() => new MegolmRatchet(new Uint8Array(128), 2 ** 32)).toThrow(RangeError);
  });
});
