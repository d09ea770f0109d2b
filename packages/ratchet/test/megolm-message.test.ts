// The Megolm message encoding (src/megolm/message.ts), per
// https://spec.matrix.org/v1.19/olm-megolm/megolm/#message-format: version 3, tag 0x08 index
// varint, tag 0x12 ciphertext, 8-byte MAC, 64-byte signature; hostile input gives typed errors.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { RatchetError } from '../src/errors.ts';
import { encodeMessage } from '../src/megolm/message.ts';
import { fieldsOf } from './megolm-helpers.ts';

/** `readMessage` (the production reader) with its offsets turned into views, for assertions. */
function decodeMessage(bytes: Uint8Array) {
  const at = fieldsOf(bytes);
  return {
    messageIndex: at.messageIndex,
    ciphertext: bytes.subarray(at.ciphertextStart, at.ciphertextEnd),
    macInput: bytes.subarray(0, at.bodyEnd),
    mac: bytes.subarray(at.bodyEnd, at.bodyEnd + 8),
    signatureInput: bytes.subarray(0, at.bodyEnd + 8),
    signature: bytes.subarray(at.bodyEnd + 8),
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : `not a RatchetError: ${String(error)}`;
  }
  return undefined;
}

const tail = new Uint8Array(72).map((_, i) => i + 1); // MAC (8) + signature (64)

function withTail(body: number[]): Uint8Array {
  return Uint8Array.from([3, ...body, ...tail]);
}

describe('encodeMessage / readMessage', () => {
  it('lays the message out in a caller buffer when it fits: same bytes, MAC and signature zero', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 400 }),
        (index, ct) => {
          const fresh = encodeMessage(index, ct);
          const into = new Uint8Array(600).fill(0xa5);
          const placed = encodeMessage(index, ct, into);
          expect(placed.bytes.buffer).toBe(into.buffer);
          expect(placed.bytes).toEqual(fresh.bytes);
          expect(placed.bodyEnd).toBe(fresh.bodyEnd);
          const small = new Uint8Array(fresh.bytes.length - 1).fill(0xa5);
          const spilled = encodeMessage(index, ct, small);
          expect(spilled.bytes.buffer).not.toBe(small.buffer);
          expect(spilled.bytes).toEqual(fresh.bytes);
          expect(small.every((byte) => byte === 0xa5)).toBe(true);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('round-trips any index and ciphertext, splitting MAC and signature', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.uint8Array({ maxLength: 400 }),
        (index, ct) => {
          const { bytes, bodyEnd } = encodeMessage(index, ct);
          bytes.set(tail, bodyEnd);
          const message = decodeMessage(bytes);
          expect(message.messageIndex).toBe(index);
          expect(message.ciphertext).toEqual(ct);
          expect(message.macInput).toEqual(bytes.subarray(0, bodyEnd));
          expect(message.mac).toEqual(tail.subarray(0, 8));
          expect(message.signatureInput).toEqual(bytes.subarray(0, bodyEnd + 8));
          expect(message.signature).toEqual(tail.subarray(8));
        },
      ),
    );
  });

  it('encodes the index as a little-endian base-128 varint after tag 0x08', () => {
    const { bytes } = encodeMessage(300, Uint8Array.of(9));
    expect([...bytes.subarray(0, 7)]).toEqual([3, 0x08, 0xac, 0x02, 0x12, 1, 9]);
  });

  it('accepts fields in any order and skips unknown varint and bytes fields', () => {
    const message = decodeMessage(
      withTail([0x12, 2, 7, 7, 0x18, 0x85, 0x01, 0x22, 1, 0xff, 0x08, 5]),
    );
    expect(message.messageIndex).toBe(5);
    expect([...message.ciphertext]).toEqual([7, 7]);
  });

  it('ignores the rest of the body from an unknown field of wire type 1, 3-7, as libolm does', () => {
    // libolm's skip_unknown (src/message.cpp) skips unknown varint (0) and length-prefixed (2)
    // fields; any other wire type has no length it knows, so it returns the body's end: the
    // message keeps the fields read before, and later bytes (even a known field) are ignored.
    for (const tag of [0x19, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x81]) {
      const message = decodeMessage(
        withTail([0x08, 5, 0x12, 2, 7, 7, tag, 1, 2, 0x08, 9, 0x12, 0x80]),
      );
      expect(message.messageIndex, `tag ${tag}`).toBe(5);
      expect([...message.ciphertext]).toEqual([7, 7]);
    }
  });

  it('rejects an unknown version with unsupported-version', () => {
    const { bytes } = encodeMessage(1, Uint8Array.of(1));
    for (const version of [0, 1, 2, 4, 0x83]) {
      bytes[0] = version;
      expect(codeOf(() => decodeMessage(bytes))).toBe('unsupported-version');
    }
  });

  it('rejects malformed bodies with bad-message-format', () => {
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(0),
      'shorter than MAC + signature': Uint8Array.from([3, 0x08, 1, ...tail.subarray(1)]),
      'no body': withTail([]),
      'missing index': withTail([0x12, 1, 0]),
      'missing ciphertext': withTail([0x08, 1]),
      'truncated varint': withTail([0x08, 0x80]),
      'ciphertext past the body': withTail([0x08, 1, 0x12, 5, 0]),
      'index above 2^32-1': withTail([0x08, 0x80, 0x80, 0x80, 0x80, 0x10, 0x12, 0]),
      'varint too large': withTail([0x08, ...new Array<number>(10).fill(0xff), 1]),
      // Zero-padded past 10 bytes: no varint is that long (it never reads as NaN).
      'varint too long': withTail([0x08, ...new Array<number>(160).fill(0x80), 1, 0x12, 0]),
      // libolm's skip_unknown ends the body at a field of wire type 1: the index after it is
      // never read, so libolm refuses this message too.
      'fixed64 field before the index': withTail([0x09, 0, 0x08, 1, 0x12, 0]),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(
        codeOf(() => decodeMessage(bytes)),
        name,
      ).toBe('bad-message-format');
    }
  });

  it('never throws anything but a RatchetError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const code = codeOf(() => decodeMessage(Uint8Array.from([3, ...bytes])));
        expect(code === undefined || !code.startsWith('not a')).toBe(true);
      }),
    );
  });
});
