// The libolm binary message encoding (https://spec.matrix.org/v1.19/olm-megolm/olm/#the-olm-message-format):
// encode∘decode is the identity, and arbitrary bytes only ever produce a RatchetError.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { RatchetError } from '../src/index.ts';
import {
  decodeNormalMessage,
  decodePreKeyMessage,
  encodeNormalMessage,
  encodePreKeyMessage,
} from '../src/olm/messages.ts';

const key = fc.uint8Array({ minLength: 32, maxLength: 32 });

describe('Olm message encoding', () => {
  it('decodes what it encodes (normal messages)', () => {
    fc.assert(
      fc.property(
        key,
        fc.nat({ max: 0xffffffff }),
        fc.uint8Array({ maxLength: 300 }),
        (ratchetKey, counter, ciphertext) => {
          const { buffer, macOffset } = encodeNormalMessage(ratchetKey, counter, ciphertext);
          const decoded = decodeNormalMessage(buffer);
          expect(decoded.ratchetKey).toEqual(ratchetKey);
          expect(decoded.counter).toBe(counter);
          expect(decoded.ciphertext).toEqual(ciphertext);
          expect(decoded.authenticated).toEqual(buffer.subarray(0, macOffset));
          expect(decoded.mac).toHaveLength(8);
        },
      ),
    );
  });

  it('lays a normal message out in a caller buffer when it fits, same bytes, MAC bytes zero', () => {
    fc.assert(
      fc.property(
        key,
        fc.nat({ max: 0xffffffff }),
        fc.uint8Array({ maxLength: 300 }),
        (ratchetKey, counter, ciphertext) => {
          const fresh = encodeNormalMessage(ratchetKey, counter, ciphertext);
          // A buffer full of an earlier message's bytes: nothing of it may show through.
          const into = new Uint8Array(400).fill(0xa5);
          const placed = encodeNormalMessage(ratchetKey, counter, ciphertext, into);
          expect(placed.buffer.buffer).toBe(into.buffer);
          expect(placed.buffer.byteOffset).toBe(0);
          expect(placed.buffer).toEqual(fresh.buffer);
          expect(placed.macOffset).toBe(fresh.macOffset);
          // Too small: a fresh array, the caller's buffer untouched.
          const small = new Uint8Array(fresh.buffer.length - 1).fill(0xa5);
          const spilled = encodeNormalMessage(ratchetKey, counter, ciphertext, small);
          expect(spilled.buffer.buffer).not.toBe(small.buffer);
          expect(spilled.buffer).toEqual(fresh.buffer);
          expect(small.every((byte) => byte === 0xa5)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('decodes what it encodes (pre-key messages)', () => {
    fc.assert(
      fc.property(
        key,
        key,
        key,
        fc.uint8Array({ maxLength: 300 }),
        (otk, base, identity, message) => {
          const decoded = decodePreKeyMessage(encodePreKeyMessage(otk, base, identity, message));
          expect([
            decoded.oneTimeKey,
            decoded.baseKey,
            decoded.identityKey,
            decoded.message,
          ]).toEqual([otk, base, identity, message]);
        },
      ),
    );
  });

  it('encodes varints least-significant group first (spec example layout)', () => {
    const { buffer } = encodeNormalMessage(new Uint8Array(32), 300, new Uint8Array(1));
    // version, 0x0A, len 32, key…, 0x10, 300 = 0xAC 0x02, 0x22, len 1, byte
    expect(Array.from(buffer.subarray(0, 3))).toEqual([3, 0x0a, 32]);
    expect(Array.from(buffer.subarray(35, 38))).toEqual([0x10, 0xac, 0x02]);
  });

  it('skips unknown fields and accepts any field order, as libolm does', () => {
    const { buffer } = encodeNormalMessage(new Uint8Array(32).fill(1), 5, Uint8Array.of(9));
    const body = buffer.subarray(1, buffer.length - 8);
    // Unknown varint field 0x28 and unknown bytes field 0x32 before the known ones.
    const withUnknown = Uint8Array.of(
      3,
      0x28,
      0x81,
      0x01,
      0x32,
      2,
      7,
      7,
      ...body,
      ...new Uint8Array(8),
    );
    expect(decodeNormalMessage(withUnknown).counter).toBe(5);
  });

  it('ignores the rest of the body from an unknown field of wire type 1, 3-7, as libolm does', () => {
    // libolm's skip_unknown (src/message.cpp) returns the body's end for these wire types: the
    // fields read before count, the bytes after (a truncated varint, a second counter) do not.
    const key = new Uint8Array(32).fill(1);
    const { buffer } = encodeNormalMessage(key, 5, Uint8Array.of(9));
    const body = buffer.subarray(1, buffer.length - 8);
    for (const tag of [0x29, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f]) {
      const normal = Uint8Array.of(3, ...body, tag, 0x10, 7, 0x10, 0x80, ...new Uint8Array(8));
      const decoded = decodeNormalMessage(normal);
      expect(decoded.counter, `tag ${tag}`).toBe(5);
      expect([...decoded.ciphertext]).toEqual([9]);
      expect(decoded.authenticated).toEqual(normal.subarray(0, normal.length - 8));
      // Before the known fields, it hides them: missing fields, refused as libolm refuses.
      const hidden = Uint8Array.of(3, tag, ...body, ...new Uint8Array(8));
      expect(() => decodeNormalMessage(hidden)).toThrow(
        expect.objectContaining({ code: 'bad-message-format' }),
      );
    }
    const preKey = encodePreKeyMessage(key, key, key, Uint8Array.of(1, 2));
    const extended = Uint8Array.of(...preKey, 0x2d, 0x22, 5);
    expect([...decodePreKeyMessage(extended).message]).toEqual([1, 2]);
  });

  it('turns arbitrary bytes into a RatchetError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        for (const decode of [decodeNormalMessage, decodePreKeyMessage]) {
          try {
            decode(bytes);
          } catch (error) {
            expect(RatchetError.isInstance(error)).toBe(true);
          }
        }
      }),
    );
  });

  it('rejects varints above 32 bits and missing fields', () => {
    const big = Uint8Array.of(3, 0x10, 0xff, 0xff, 0xff, 0xff, 0x10, ...new Uint8Array(8));
    expect(() => decodeNormalMessage(big)).toThrow(
      expect.objectContaining({ code: 'bad-message-format' }),
    );
    const noCounter = Uint8Array.of(
      3,
      0x0a,
      32,
      ...new Uint8Array(32),
      0x22,
      0,
      ...new Uint8Array(8),
    );
    expect(() => decodeNormalMessage(noCounter)).toThrow(
      expect.objectContaining({ code: 'bad-message-format' }),
    );
    const shortKey = Uint8Array.of(3, 0x0a, 1, 0, 0x10, 0, 0x22, 0, ...new Uint8Array(8));
    expect(() => decodeNormalMessage(shortKey)).toThrow(
      expect.objectContaining({ code: 'bad-message-format' }),
    );
  });
});
