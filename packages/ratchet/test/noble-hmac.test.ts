// src/noble-hmac.ts: HMAC-SHA-256 (RFC 2104) and HKDF-SHA-256 (RFC 5869) over reused @noble
// SHA-256 states must give OpenSSL's bytes at every key length it takes, across SHA-256 block
// boundaries of the message, for zero and other salts and every output length, and must leave
// no secret-derived bytes in its reused states, also when a call throws.
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  fitsNobleHmac,
  nobleHkdfInto,
  nobleHmac,
  nobleHmacInto,
  nobleHmacTruncatedInto,
  scratchIsWiped,
} from '../src/noble-hmac.ts';

function random(length: number): Uint8Array {
  return new Uint8Array(randomBytes(length));
}

/** `nobleHkdfInto` (the production form) into a fresh array of `length` bytes. */
function nobleHkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number) {
  const okm = new Uint8Array(length);
  nobleHkdfInto(ikm, salt, info, okm);
  return okm;
}

describe('HMAC-SHA-256 over reused @noble states', () => {
  it('matches OpenSSL at every key length from 0 to one block', () => {
    const data = random(100);
    for (let length = 0; length <= 64; length++) {
      const key = random(length);
      expect(fitsNobleHmac(key)).toBe(true);
      expect(Buffer.from(nobleHmac(key, data)), `key length ${length}`).toEqual(
        createHmac('sha256', key).update(data).digest(),
      );
    }
    expect(fitsNobleHmac(new Uint8Array(65))).toBe(false);
  });

  it('matches OpenSSL at every message length 0..300 and at 4 KiB ± 1', () => {
    const key = random(32);
    for (const length of [...Array.from({ length: 301 }, (_, i) => i), 4095, 4096, 4097]) {
      const data = random(length);
      expect(Buffer.from(nobleHmac(key, data)), `message length ${length}`).toEqual(
        createHmac('sha256', key).update(data).digest(),
      );
    }
  });

  it('MACs several messages under one key into the given outputs, views included', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }),
        (key, messages) => {
          const buffer = new Uint8Array(32 * messages.length + 5);
          const outputs = messages.map((_, i) => buffer.subarray(5 + 32 * i, 5 + 32 * (i + 1)));
          nobleHmacInto(key, messages, outputs);
          messages.forEach((message, i) => {
            expect(Buffer.from(outputs[i] as Uint8Array)).toEqual(
              createHmac('sha256', key).update(message).digest(),
            );
          });
          expect(buffer.subarray(0, 5).every((byte) => byte === 0)).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('HKDF-SHA-256 over reused @noble states', () => {
  it('matches OpenSSL for zero, empty, short, block-sized and random salts and lengths 1..300', () => {
    const salts = fc.oneof(
      fc.constant(new Uint8Array(32)),
      fc.constant(new Uint8Array(0)),
      fc.integer({ min: 1, max: 64 }).map((n) => new Uint8Array(n)),
      fc.uint8Array({ maxLength: 64 }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        salts,
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 1, max: 300 }),
        (ikm, salt, info, length) => {
          expect(Buffer.from(nobleHkdf(ikm, salt, info, length))).toEqual(
            Buffer.from(hkdfSync('sha256', ikm, salt, info, length)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives Olm's and Megolm's message-key derivations (zero salt, 80 bytes) at every length up to 96", () => {
    const info = new TextEncoder().encode('OLM_KEYS');
    for (let length = 1; length <= 96; length++) {
      const ikm = random(length % 2 === 0 ? 32 : 128);
      expect(Buffer.from(nobleHkdf(ikm, new Uint8Array(32), info, length))).toEqual(
        Buffer.from(hkdfSync('sha256', ikm, new Uint8Array(32), info, length)),
      );
    }
  });

  it('writes into a given array, which may be a view, at every length up to 96', () => {
    const ikm = random(32);
    const info = new TextEncoder().encode('MEGOLM_KEYS');
    for (let length = 1; length <= 96; length++) {
      const buffer = new Uint8Array(length + 3);
      nobleHkdfInto(ikm, new Uint8Array(32), info, buffer.subarray(2, 2 + length));
      expect(Buffer.from(buffer.subarray(2, 2 + length)), `length ${length}`).toEqual(
        Buffer.from(hkdfSync('sha256', ikm, new Uint8Array(32), info, length)),
      );
      expect([buffer[0], buffer[1], buffer[length + 2]]).toEqual([0, 0, 0]);
    }
    expect(scratchIsWiped()).toBe(true);
  });

  it('treats a salt that is almost all zero as a salt of its own', () => {
    const ikm = random(32);
    const info = new TextEncoder().encode('OLM_RATCHET');
    for (const position of [0, 17, 31]) {
      const salt = new Uint8Array(32);
      salt[position] = 1;
      expect(Buffer.from(nobleHkdf(ikm, salt, info, 64))).toEqual(
        Buffer.from(hkdfSync('sha256', ikm, salt, info, 64)),
      );
    }
  });
});

describe('truncated HMAC into a given buffer', () => {
  it("writes the first bytes of OpenSSL's HMAC at the offset and nothing else, also in place", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 1, max: 32 }),
        (key, data, length) => {
          const out = new Uint8Array(data.length + length + 2).fill(0xee);
          out.set(data);
          // In place: the MAC lands right after the bytes it covers, as a message is sealed.
          nobleHmacTruncatedInto(key, out.subarray(0, data.length), out, data.length, length);
          const expected = new Uint8Array(out.length).fill(0xee);
          expected.set(data);
          expected.set(
            createHmac('sha256', key).update(data).digest().subarray(0, length),
            data.length,
          );
          expect(out).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
    expect(scratchIsWiped()).toBe(true);
  });
});

describe('wiping', () => {
  it('leaves the reused states and buffers zero after each call', () => {
    nobleHmac(random(32), random(250));
    expect(scratchIsWiped()).toBe(true);
    nobleHmacTruncatedInto(random(32), random(250), new Uint8Array(8), 0, 8);
    expect(scratchIsWiped()).toBe(true);
    nobleHmacInto(random(32), [Uint8Array.of(1), Uint8Array.of(2)], [random(32), random(32)]);
    expect(scratchIsWiped()).toBe(true);
    nobleHkdf(random(32), new Uint8Array(32), random(8), 80);
    expect(scratchIsWiped()).toBe(true);
    nobleHkdf(random(32), random(32), random(11), 64);
    expect(scratchIsWiped()).toBe(true);
  });

  it('wipes them when a call throws half-way, and the next call is still right', () => {
    const key = random(32);
    // The second message is not bytes: @noble refuses it after the first MAC was computed.
    expect(() =>
      nobleHmacInto(
        key,
        [Uint8Array.of(1), 'x' as unknown as Uint8Array],
        [random(32), random(32)],
      ),
    ).toThrow();
    expect(scratchIsWiped()).toBe(true);
    expect(() => nobleHkdf(random(32), random(32), 'info' as unknown as Uint8Array, 80)).toThrow();
    expect(scratchIsWiped()).toBe(true);
    const data = random(50);
    expect(Buffer.from(nobleHmac(key, data))).toEqual(
      createHmac('sha256', key).update(data).digest(),
    );
  });
});
