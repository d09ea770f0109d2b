// src/primitives.ts: both implementations (@noble, and Node's OpenSSL reached at runtime) forced
// in turn, each checked against OpenSSL called directly here (HMAC RFC 2104, HKDF RFC 5869,
// AES-256-CBC with PKCS#7), and the two checked against each other byte for byte.
import { createCipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

import {
  aes256CbcDecrypt,
  aes256CbcEncrypt,
  hkdfSha256,
  hkdfSha256Into,
  hmacSha256,
  hmacSha256Into,
  hmacSha256TruncatedInto,
  type PrimitiveChoice,
  type PrimitiveRoutes,
  SHORT_HMAC_MAX,
  selectPrimitives,
  sha256Digest,
} from '../src/primitives.ts';

const CHOICES: PrimitiveChoice[] = ['portable', 'native', 'auto'];
const OLM_KEYS = new TextEncoder().encode('OLM_KEYS');
// Past a kilobyte: the size where OpenSSL's own code paths (AES-NI, multi-block) take over.
const LARGE = 1024;

afterAll(() => {
  selectPrimitives('auto');
});

function opensslEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('aes-256-cbc', key, iv);
  return Buffer.concat([cipher.update(plaintext), cipher.final()]);
}

function opensslRaw(key: Uint8Array, iv: Uint8Array, blocks: Uint8Array): Uint8Array {
  const cipher = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(blocks), cipher.final()]));
}

/** Runs `fn` with the given choice (or per-primitive routes) in force. */
function on<T>(choice: PrimitiveChoice | PrimitiveRoutes, fn: () => T): T {
  selectPrimitives(choice);
  try {
    return fn();
  } finally {
    selectPrimitives('auto');
  }
}

it('selectPrimitives reports that node:crypto is available under Node', () => {
  expect(selectPrimitives('native')).toBe(true);
  expect(selectPrimitives('auto')).toBe(true);
});

describe.each(CHOICES)('primitives on the %s path', (choice) => {
  it('SHA-256 matches OpenSSL at every length across block and padding boundaries', () => {
    const data = new Uint8Array(randomBytes(300));
    on(choice, () => {
      for (let length = 0; length <= 300; length++) {
        const input = data.subarray(0, length);
        expect(Buffer.from(sha256Digest(input)), `length ${length}`).toEqual(
          createHash('sha256').update(input).digest(),
        );
      }
    });
  });

  it('HMAC-SHA-256 matches OpenSSL at every data length across SHA-256 block boundaries', () => {
    const key = new Uint8Array(randomBytes(32));
    const data = new Uint8Array(randomBytes(SHORT_HMAC_MAX + 80));
    on(choice, () => {
      // Past SHORT_HMAC_MAX too, where auto moves from @noble to OpenSSL.
      for (let length = 0; length <= data.length; length++) {
        const input = data.subarray(0, length);
        expect(Buffer.from(hmacSha256(key, input)), `length ${length}`).toEqual(
          createHmac('sha256', key).update(input).digest(),
        );
      }
    });
  });

  it('HMAC-SHA-256 matches OpenSSL past 4 KiB of data (beyond the reused buffer)', () => {
    const key = new Uint8Array(randomBytes(32));
    const data = new Uint8Array(randomBytes(5000));
    for (const length of [4095, 4096, 4097, 5000]) {
      const input = data.subarray(0, length);
      expect(Buffer.from(on(choice, () => hmacSha256(key, input))), `length ${length}`).toEqual(
        createHmac('sha256', key).update(input).digest(),
      );
    }
  });

  it('HMAC-SHA-256 matches OpenSSL for short, block-sized and long keys', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, data) => {
          const expected = createHmac('sha256', key).update(data).digest();
          const got = on(choice, () => hmacSha256(key, data));
          expect(got).toBeInstanceOf(Uint8Array);
          expect(Buffer.from(got)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("hmacSha256TruncatedInto writes the first bytes of OpenSSL's HMAC at the offset, nothing else", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 60 }),
          fc.uint8Array({ minLength: SHORT_HMAC_MAX - 4, maxLength: SHORT_HMAC_MAX + 4 }),
        ),
        fc.integer({ min: 1, max: 32 }),
        fc.nat({ max: 10 }),
        (key, data, length, offset) => {
          const out = new Uint8Array(offset + length + 3).fill(0xee);
          on(choice, () => hmacSha256TruncatedInto(key, data, out, offset, length));
          const expected = new Uint8Array(out.length).fill(0xee);
          expected.set(createHmac('sha256', key).update(data).digest().subarray(0, length), offset);
          expect(out).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
    on(choice, () => {
      const key = new Uint8Array(32);
      for (const [length, offset] of [
        [0, 0],
        [33, 0],
        [8, 3],
      ] as const) {
        expect(() =>
          hmacSha256TruncatedInto(key, new Uint8Array(1), new Uint8Array(10), offset, length),
        ).toThrow(RangeError);
      }
    });
  });

  it('hmacSha256Into matches OpenSSL for every message under one key, written into views', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 5 }),
        (key, messages) => {
          // Views into one buffer with a guard byte either side, as the Megolm ratchet passes.
          const buffer = new Uint8Array(2 + 32 * messages.length).fill(0xee);
          const outputs = messages.map((_, i) => buffer.subarray(1 + 32 * i, 33 + 32 * i));
          on(choice, () => hmacSha256Into(key, messages, outputs));
          messages.forEach((message, i) => {
            expect(Buffer.from(outputs[i] as Uint8Array)).toEqual(
              createHmac('sha256', key).update(message).digest(),
            );
          });
          expect(buffer[0]).toBe(0xee);
          expect(buffer[buffer.length - 1]).toBe(0xee);
        },
      ),
      { numRuns: 40 },
    );
    // The last output may be the key itself (a chain key stepped in place), at any key length.
    for (const length of [32, 64, 100]) {
      const key = new Uint8Array(randomBytes(length));
      const expected = [1, 2].map((seed) =>
        createHmac('sha256', key).update(Uint8Array.of(seed)).digest(),
      );
      const first = new Uint8Array(32);
      const inPlace = Uint8Array.from(key);
      const last = inPlace.subarray(0, 32);
      on(choice, () =>
        hmacSha256Into(inPlace, [Uint8Array.of(1), Uint8Array.of(2)], [first, last]),
      );
      expect([Buffer.from(first), Buffer.from(last)], `key length ${length}`).toEqual(expected);
    }
    on(choice, () => {
      expect(() => hmacSha256Into(new Uint8Array(32), [new Uint8Array(1)], [])).toThrow(RangeError);
      expect(() =>
        hmacSha256Into(new Uint8Array(32), [new Uint8Array(1)], [new Uint8Array(31)]),
      ).toThrow(RangeError);
    });
  });

  it('HKDF-SHA-256 matches OpenSSL for any salt (zero, empty, random, long), info and length', () => {
    const salts = fc.oneof(
      fc.constant(new Uint8Array(0)),
      fc.integer({ min: 1, max: 64 }).map((n) => new Uint8Array(n)),
      fc.uint8Array({ maxLength: 100 }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        salts,
        fc.uint8Array({ maxLength: 40 }),
        fc.integer({ min: 1, max: 300 }),
        (ikm, salt, info, length) => {
          const expected = Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
          expect(Buffer.from(on(choice, () => hkdfSha256(ikm, salt, info, length)))).toEqual(
            expected,
          );
        },
      ),
      { numRuns: 60 },
    );
    on(choice, () => {
      for (const length of [0, 8161, 1.5]) {
        expect(() =>
          hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), length),
        ).toThrow(RangeError);
      }
    });
  });

  it('hkdfSha256Into writes the same bytes into a given array, and refuses bad lengths', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 150 }),
        fc.oneof(fc.constant(new Uint8Array(32)), fc.uint8Array({ maxLength: 100 })),
        fc.integer({ min: 1, max: 200 }),
        (ikm, salt, length) => {
          const out = new Uint8Array(length);
          on(choice, () => hkdfSha256Into(ikm, salt, OLM_KEYS, out));
          expect(Buffer.from(out)).toEqual(
            Buffer.from(hkdfSync('sha256', ikm, salt, OLM_KEYS, length)),
          );
        },
      ),
      { numRuns: 60 },
    );
    on(choice, () => {
      for (const length of [0, 8161]) {
        expect(() =>
          hkdfSha256Into(new Uint8Array(1), new Uint8Array(0), OLM_KEYS, new Uint8Array(length)),
        ).toThrow(RangeError);
      }
    });
  });

  it('AES-256-CBC matches OpenSSL at every plaintext length 0..100 and and past a kilobyte', () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    const data = new Uint8Array(randomBytes(LARGE + 40));
    const lengths = [...Array.from({ length: 101 }, (_, i) => i), LARGE - 1];
    lengths.push(LARGE, LARGE + 33);
    on(choice, () => {
      for (const length of lengths) {
        const pt = data.subarray(0, length);
        const expected = opensslEncrypt(key, iv, pt);
        expect(Buffer.from(aes256CbcEncrypt(key, iv, pt)), `length ${length}`).toEqual(expected);
        expect(aes256CbcDecrypt(key, iv, expected), `length ${length}`).toEqual(pt);
      }
    });
  });

  it('AES-256-CBC around the 4 KiB reused padding buffer: same bytes, a second call unaffected', () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    const data = new Uint8Array(randomBytes(4200));
    on(choice, () => {
      for (const length of [4064, 4079, 4080, 4081, 4095, 4096, 4097, 4200]) {
        const pt = data.subarray(0, length);
        const first = aes256CbcEncrypt(key, iv, pt);
        // A short encryption in between reuses the padding buffer; `first` must not change.
        const short = aes256CbcEncrypt(key, iv, data.subarray(0, 5));
        expect(Buffer.from(first), `length ${length}`).toEqual(opensslEncrypt(key, iv, pt));
        expect(Buffer.from(short)).toEqual(opensslEncrypt(key, iv, data.subarray(0, 5)));
      }
    });
  });

  it('refuses ciphertexts that are not a whole number of blocks (undefined, no partial output)', () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    const ciphertext = new Uint8Array(opensslEncrypt(key, iv, new Uint8Array(40)));
    on(choice, () => {
      for (const length of [0, 1, 15, 17, 31, 47]) {
        expect(aes256CbcDecrypt(key, iv, ciphertext.subarray(0, length)), `length ${length}`).toBe(
          undefined,
        );
      }
      expect(aes256CbcDecrypt(key, iv, ciphertext)).toEqual(new Uint8Array(40));
    });
  });

  it('returns the plaintext as a view of the decrypted blocks: exact length, only padding after it', () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    for (const length of [0, 1, 15, 16, 17, 200]) {
      const plaintext = new Uint8Array(randomBytes(length));
      const ciphertext = opensslEncrypt(key, iv, plaintext);
      const got = on(choice, () => aes256CbcDecrypt(key, iv, ciphertext)) as Uint8Array;
      expect(got).toEqual(plaintext);
      // Whatever lies beyond the view in its buffer is PKCS#7 padding (public), nothing else.
      const beyond = new Uint8Array(got.buffer, got.byteOffset + got.length);
      const n = 16 - (length % 16);
      expect([...beyond]).toEqual(new Array<number>(n).fill(n));
    }
  });

  it('accepts every valid PKCS#7 padding and rejects every malformed one', () => {
    const key = new Uint8Array(randomBytes(32));
    const iv = new Uint8Array(randomBytes(16));
    on(choice, () => {
      for (let pad = 0; pad <= 255; pad++) {
        const block = new Uint8Array(32).fill(0xaa);
        block.fill(pad & 0xff, 32 - Math.min(pad, 16));
        block[31] = pad;
        const valid = pad >= 1 && pad <= 16;
        const result = aes256CbcDecrypt(key, iv, opensslRaw(key, iv, block));
        if (valid) expect(result, `pad ${pad}`).toEqual(block.subarray(0, 32 - pad));
        else expect(result, `pad ${pad}`).toBeUndefined();
        // Any single wrong byte inside the padding (first, middle or second to last) is refused.
        for (const at of pad >= 2 && pad <= 16 ? [32 - pad, 32 - Math.ceil(pad / 2), 30] : []) {
          const broken = block.slice();
          broken[at] = (broken[at] as number) ^ 1;
          expect(
            aes256CbcDecrypt(key, iv, opensslRaw(key, iv, broken)),
            `pad ${pad} @${at}`,
          ).toBeUndefined();
        }
      }
    });
  });
});

/** The chain-step form: HMACs of the seeds 0x01 and 0x02 under one key, into one buffer. */
function steps(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  hmacSha256Into(
    key,
    [Uint8Array.of(1), Uint8Array.of(2)],
    [out.subarray(0, 32), out.subarray(32)],
  );
  return out;
}

/** The message-MAC form: 8 bytes of HMAC written after the data it covers, in one buffer. */
function truncated(key: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length + 8);
  out.set(data);
  hmacSha256TruncatedInto(key, out.subarray(0, data.length), out, data.length, 8);
  return out;
}

const MIX: PrimitiveRoutes = {
  sha256: 'portable',
  hmac: 'native',
  hmacShort: 'portable',
  hmacSteps: 'portable',
  hkdf: 'native',
  aesEncrypt: 'portable',
  aesDecrypt: 'native',
};
const OTHER_MIX: PrimitiveRoutes = {
  sha256: 'native',
  hmac: 'portable',
  hmacShort: 'native',
  hmacSteps: 'native',
  hkdf: 'portable',
  aesEncrypt: 'native',
  aesDecrypt: 'portable',
};

describe('portable and native paths', () => {
  it('agree byte for byte on random keys, IVs and inputs, including random ciphertexts', () => {
    // Both sides of SHORT_HMAC_MAX, where auto moves HMAC from @noble to OpenSSL.
    const sizes = fc.oneof(
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: SHORT_HMAC_MAX - 8, max: SHORT_HMAC_MAX + 8 }),
      fc.integer({ min: LARGE - 20, max: LARGE + 300 }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 16, maxLength: 16 }),
        sizes.chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
        fc.uint8Array({ maxLength: 40 }),
        (key, iv, data, info) => {
          const run = () => {
            const blocks = data.subarray(0, data.length - (data.length % 16));
            return {
              sha256: sha256Digest(data),
              hmac: hmacSha256(key, data),
              truncated: truncated(key, data),
              hkdf: hkdfSha256(data, key, info, 80),
              steps: steps(data),
              encrypted: aes256CbcEncrypt(key, iv, data),
              // Random blocks: mostly bad padding, sometimes valid; both paths must agree.
              decrypted: blocks.length === 0 ? null : (aes256CbcDecrypt(key, iv, blocks) ?? null),
            };
          };
          const portable = on('portable', run);
          expect(on('native', run)).toEqual(portable);
          expect(on('auto', run)).toEqual(portable);
          // Mixes, as the bench tries them: each primitive on either side, alternating.
          expect(on(MIX, run)).toEqual(portable);
          expect(on(OTHER_MIX, run)).toEqual(portable);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('never return the caller a Node Buffer (results compare equal to plain Uint8Arrays)', () => {
    const key = new Uint8Array(32).fill(1);
    const iv = new Uint8Array(16).fill(2);
    on('native', () => {
      for (const value of [
        hmacSha256(key, new Uint8Array(5)),
        hkdfSha256(key, new Uint8Array(0), new Uint8Array(0), 32),
        aes256CbcEncrypt(key, iv, new Uint8Array(5)),
      ]) {
        expect(Object.getPrototypeOf(value)).toBe(Uint8Array.prototype);
      }
    });
  });
});
