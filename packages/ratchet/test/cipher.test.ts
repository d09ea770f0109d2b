// Shared internals (src/cipher.ts, src/base64.ts, src/random.ts, src/errors.ts), checked against
// Node's independent OpenSSL implementations of HKDF (RFC 5869), AES-256-CBC and HMAC (RFC 2104).
import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  decodeBase64,
  decodeBase64Into,
  encodeBase64,
  selectBase64Implementation,
} from '../src/base64.ts';
import {
  decryptCbc,
  deriveCipherKeys,
  encryptCbc,
  hkdfSha256,
  hmacSha256,
  macMatches,
  zeroize,
  zeroizeKeys,
} from '../src/cipher.ts';
import { RatchetError } from '../src/errors.ts';
import { randomBytes as randomFrom, systemRandom } from '../src/random.ts';

describe('deriveCipherKeys', () => {
  it('matches OpenSSL HKDF-SHA-256 with a zero salt, split 32/32/16', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 160 }), fc.string(), (secret, info) => {
        const keys = deriveCipherKeys(secret, info);
        const okm = Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(32), info, 80));
        expect(Buffer.from(keys.aesKey)).toEqual(okm.subarray(0, 32));
        expect(Buffer.from(keys.macKey)).toEqual(okm.subarray(32, 64));
        expect(Buffer.from(keys.iv)).toEqual(okm.subarray(64, 80));
      }),
      { numRuns: 50 },
    );
  });

  it('returns three disjoint keys that zeroizeKeys clears', () => {
    const keys = deriveCipherKeys(new Uint8Array(32).fill(7), 'MEGOLM_KEYS');
    expect([keys.aesKey.length, keys.macKey.length, keys.iv.length]).toEqual([32, 32, 16]);
    const [macKey, iv] = [keys.macKey.slice(), keys.iv.slice()];
    keys.aesKey.fill(1);
    expect([keys.macKey, keys.iv]).toEqual([macKey, iv]);
    zeroizeKeys(keys);
    expect([...keys.aesKey, ...keys.macKey, ...keys.iv].every((b) => b === 0)).toBe(true);
  });

  it('rejects wrong argument types', () => {
    expect(() => deriveCipherKeys('secret' as unknown as Uint8Array, 'x')).toThrow(TypeError);
    expect(() => deriveCipherKeys(new Uint8Array(32), 5 as unknown as string)).toThrow(TypeError);
  });
});

describe('hkdfSha256', () => {
  // The per-path checks against OpenSSL are in primitives.test.ts; this is the checked wrapper.
  it('matches OpenSSL and rejects bad lengths and argument types', () => {
    const ikm = new Uint8Array(randomBytes(40));
    const salt = new Uint8Array(randomBytes(20));
    const info = new TextEncoder().encode('OLM_ROOT');
    expect(Buffer.from(hkdfSha256(ikm, salt, info, 64))).toEqual(
      Buffer.from(hkdfSync('sha256', ikm, salt, info, 64)),
    );
    expect(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 0)).toThrow(
      RangeError,
    );
    expect(() => hkdfSha256(new Uint8Array(1), new Uint8Array(0), new Uint8Array(0), 8161)).toThrow(
      RangeError,
    );
    expect(() => hkdfSha256('x' as unknown as Uint8Array, salt, info, 32)).toThrow(TypeError);
  });
});

describe('encryptCbc / decryptCbc', () => {
  it('matches OpenSSL AES-256-CBC with PKCS#7 and round-trips', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (secret, pt) => {
          const keys = deriveCipherKeys(secret, 'OLM_KEYS');
          const ct = encryptCbc(keys, pt);
          const cipher = createCipheriv('aes-256-cbc', keys.aesKey, keys.iv);
          const expected = Buffer.concat([cipher.update(pt), cipher.final()]);
          expect(Buffer.from(ct)).toEqual(expected);
          expect(decryptCbc(keys, ct)).toEqual(pt);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('matches OpenSSL at every plaintext length from 0 to 100, both ways', () => {
    const keys = deriveCipherKeys(new Uint8Array(randomBytes(32)), 'x');
    const data = new Uint8Array(randomBytes(100));
    for (let length = 0; length <= 100; length++) {
      const pt = data.subarray(0, length);
      const cipher = createCipheriv('aes-256-cbc', keys.aesKey, keys.iv);
      const expected = Buffer.concat([cipher.update(pt), cipher.final()]);
      expect(Buffer.from(encryptCbc(keys, pt)), `length ${length}`).toEqual(expected);
      expect(decryptCbc(keys, expected), `length ${length}`).toEqual(pt);
    }
  });

  it('rejects every malformed PKCS#7 padding and accepts every valid one', () => {
    const keys = deriveCipherKeys(new Uint8Array(randomBytes(32)), 'x');
    const rawEncrypt = (block: Uint8Array) => {
      const cipher = createCipheriv('aes-256-cbc', keys.aesKey, keys.iv).setAutoPadding(false);
      return new Uint8Array(Buffer.concat([cipher.update(block), cipher.final()]));
    };
    for (let pad = 0; pad <= 20; pad++) {
      const block = new Uint8Array(16).fill(0xaa);
      block.fill(pad, 16 - Math.min(pad, 16));
      block[15] = pad;
      const valid = pad >= 1 && pad <= 16;
      const result = codeOrValue(() => decryptCbc(keys, rawEncrypt(block)));
      if (valid) expect(result, `pad ${pad}`).toEqual(block.subarray(0, 16 - pad));
      else expect(result, `pad ${pad}`).toBe('bad-padding');
      if (pad >= 2 && pad <= 16) {
        const broken = block.slice();
        broken[16 - pad] = (broken[16 - pad] as number) ^ 1; // first padding byte wrong
        expect(
          codeOrValue(() => decryptCbc(keys, rawEncrypt(broken))),
          `broken ${pad}`,
        ).toBe('bad-padding');
      }
    }
    expect(() => encryptCbc({ ...keys, aesKey: new Uint8Array(16) }, new Uint8Array(1))).toThrow(
      RangeError,
    );
    expect(() => decryptCbc({ ...keys, iv: new Uint8Array(8) }, new Uint8Array(16))).toThrow(
      RangeError,
    );
  });

  it('rejects ciphertexts that are empty or not whole blocks with bad-padding', () => {
    const keys = deriveCipherKeys(new Uint8Array(32), 'x');
    for (const length of [0, 1, 15, 17]) {
      const error = captureError(() => decryptCbc(keys, new Uint8Array(length)));
      expect(RatchetError.isInstance(error) && error.code).toBe('bad-padding');
    }
  });

  it('rejects invalid PKCS#7 padding with bad-padding', () => {
    const keys = deriveCipherKeys(new Uint8Array(32), 'x');
    const ct = encryptCbc(keys, new Uint8Array(16));
    // In CBC, flipping a bit of ciphertext block 1 flips the same bit of plaintext block 2, which
    // here is the full padding block (16 × 0x10).
    const tampered = ct.slice();
    tampered[15] = (tampered[15] as number) ^ 0x20; // padding byte 0x10 becomes 0x30 (> 16)
    const error = captureError(() => decryptCbc(keys, tampered));
    expect(RatchetError.isInstance(error) && error.code).toBe('bad-padding');
  });
});

describe('hmacSha256 / macMatches', () => {
  it('matches OpenSSL HMAC-SHA-256', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 100 }),
        fc.uint8Array({ maxLength: 300 }),
        (key, data) => {
          const expected = createHmac('sha256', key).update(data).digest();
          expect(Buffer.from(hmacSha256(key, data))).toEqual(expected);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('accepts equal MACs and rejects any single-bit difference or length mismatch', () => {
    const mac = hmacSha256(new Uint8Array(32), new Uint8Array(10)).subarray(0, 8);
    expect(macMatches(mac, mac.slice())).toBe(true);
    for (let bit = 0; bit < 64; bit++) {
      const other = mac.slice();
      other[bit >> 3] = (other[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(macMatches(mac, other)).toBe(false);
    }
    expect(macMatches(mac, mac.subarray(0, 7))).toBe(false);
  });

  it('zeroize clears every buffer given and skips undefined', () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array([4, 5]);
    zeroize(a, undefined, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0, 0]);
  });
});

/** Runs `fn` with Node's native base64 codec (`native`) or the JavaScript loops. */
function withBase64<T>(native: boolean, fn: () => T): T {
  selectBase64Implementation(native);
  try {
    return fn();
  } finally {
    selectBase64Implementation(true);
  }
}

// Long inputs (≥ 128 characters) are where the native decoder is used; short ones stay in JS.
const LONG = 'QUJD'.repeat(40);

describe.each([
  ['native (Buffer)', true],
  ['JavaScript', false],
])('base64, %s codec', (_name, native) => {
  it('selects the codec asked for (Node has Buffer)', () => {
    expect(withBase64(native, () => selectBase64Implementation(native))).toBe(native);
  });

  it('encodes like Node without padding and decodes padded and unpadded forms', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const padded = Buffer.from(bytes).toString('base64');
        const unpadded = padded.replace(/=+$/, '');
        withBase64(native, () => {
          expect(encodeBase64(bytes)).toBe(unpadded);
          // Views into a larger buffer encode only their own bytes.
          const framed = new Uint8Array(bytes.length + 2);
          framed.set(bytes, 1);
          expect(encodeBase64(framed.subarray(1, 1 + bytes.length))).toBe(unpadded);
          expect(decodeBase64(unpadded)).toEqual(bytes);
          expect(decodeBase64(padded)).toEqual(bytes);
        });
      }),
      { numRuns: 200 },
    );
  });

  it('decodes into a plain Uint8Array of its own (not a Buffer, not a shared pool)', () => {
    const decoded = withBase64(native, () => decodeBase64(LONG));
    expect(Buffer.isBuffer(decoded)).toBe(false);
    expect(decoded.byteOffset).toBe(0);
    expect(decoded.buffer.byteLength).toBe(decoded.length);
  });

  it('decodeBase64Into writes into the start of a large enough buffer, else allocates', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.integer({ min: 0, max: 8 }),
        (bytes, at) => {
          const text = Buffer.from(bytes).toString('base64');
          const backing = new Uint8Array(at + 300).fill(0xee);
          const into = backing.subarray(at);
          const decoded = withBase64(native, () => decodeBase64Into(text, into));
          expect(decoded).toEqual(bytes);
          if (bytes.length <= into.length) {
            expect(decoded.buffer).toBe(backing.buffer);
            expect(decoded.byteOffset).toBe(at);
            // Nothing before the view or past the decoded bytes is touched.
            expect(backing.subarray(0, at).every((byte) => byte === 0xee)).toBe(true);
            expect(into.subarray(bytes.length).every((byte) => byte === 0xee)).toBe(true);
          } else {
            expect(decoded.buffer).not.toBe(backing.buffer);
          }
        },
      ),
      { numRuns: 200 },
    );
    const scratch = new Uint8Array(300);
    const error = captureError(() =>
      withBase64(native, () => decodeBase64Into(`${LONG}!`, scratch)),
    );
    expect(RatchetError.isInstance(error) && error.code).toBe('bad-base64');
  });

  it('rejects malformed input with bad-base64, short and long alike', () => {
    const bad = ['A', 'AAAAA', 'AA!A', 'AA-_', 'AA=A', '====', 'AA==A', 'Zm9v\n', 'é'];
    // Node's own decoder skips or accepts each of these inside long input; Weft must not.
    for (const insert of ['-', '_', '!', '=', ' ', '\n', 'é', '\u0000', 'Ł', 'ａ']) {
      bad.push(`${LONG.slice(0, 64)}${insert}${LONG.slice(65)}`);
      bad.push(`${LONG.slice(0, 64)}${insert}${insert}${insert}${insert}${LONG.slice(64)}`);
    }
    bad.push(`${LONG}A`, `${LONG}===`, `${LONG}AA=A`);
    withBase64(native, () => {
      for (const text of bad) {
        const error = captureError(() => decodeBase64(text));
        expect(RatchetError.isInstance(error) && error.code, JSON.stringify(text)).toBe(
          'bad-base64',
        );
      }
    });
  });

  it('agrees with the JavaScript decoder on long input with random foreign characters', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const foreign = [
      '-',
      '_',
      '=',
      ' ',
      '\n',
      '\t',
      '\r',
      'é',
      'ÿ',
      '€',
      '\u0000',
      '!',
      '.',
      '\ud83d',
      // Past U+00FF Node's decoder reads a character's low byte: Ł (U+0141) as A, ａ (U+FF41) as a.
      'Ł',
      'ａ',
      'с',
      'İ',
      'ī',
    ];
    const outcome = (native: boolean, text: string): string =>
      withBase64(native, () => {
        try {
          return Buffer.from(decodeBase64(text)).toString('hex');
        } catch (error) {
          return RatchetError.isInstance(error) ? error.code : String(error);
        }
      });
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...alphabet), { minLength: 128, maxLength: 400 }),
        fc.array(
          fc.record({
            at: fc.nat(),
            char: fc.constantFrom(...foreign),
            replace: fc.boolean(),
          }),
          { maxLength: 3 },
        ),
        (chars, edits) => {
          const text = [...chars];
          for (const { at, char, replace } of edits)
            text.splice(at % text.length, replace ? 1 : 0, char);
          const input = text.join('');
          expect(outcome(native, input), JSON.stringify(input)).toBe(outcome(false, input));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accepts the same non-canonical final bits as the JavaScript decoder', () => {
    // libolm ignores the unused low bits of the last character; so do both codecs.
    for (const text of ['AB', 'ABC', `${LONG}AB`, `${LONG}ABC`, `${LONG}AB==`]) {
      const expected = withBase64(false, () => decodeBase64(text));
      expect(
        withBase64(native, () => decodeBase64(text)),
        text,
      ).toEqual(expected);
    }
  });
});

describe('random', () => {
  it('systemRandom returns the requested length, including more than one 65536-byte chunk', () => {
    const big = systemRandom(150_000);
    expect(big.length).toBe(150_000);
    // The last chunk is filled too: 20,000 random bytes are all zero with probability 2^-160000.
    expect(big.subarray(130_000).some((b) => b !== 0)).toBe(true);
    expect(systemRandom(0).length).toBe(0);
    expect(() => systemRandom(-1)).toThrow(RangeError);
  });

  it('randomBytes rejects an injected source returning the wrong length', () => {
    expect(() => randomFrom(() => new Uint8Array(3), 4)).toThrow(TypeError);
    expect(randomFrom((n) => new Uint8Array(n).fill(9), 4)).toEqual(new Uint8Array(4).fill(9));
  });
});

describe('RatchetError', () => {
  it('carries code, context and cause, and isInstance recognises the marker', () => {
    const cause = new Error('inner');
    const error = new RatchetError('bad-mac', 'mac mismatch', { cause, context: { index: 3 } });
    expect(error.code).toBe('bad-mac');
    expect(error.context).toEqual({ index: 3 });
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('RatchetError');
    expect(RatchetError.isInstance(error)).toBe(true);
    expect(RatchetError.isInstance(new Error('x'))).toBe(false);
    expect(RatchetError.isInstance(null)).toBe(false);
    // A copy from a second install carries the same Symbol.for marker.
    const foreign = Object.defineProperty(new Error('x'), Symbol.for('weft.ratchet.error'), {
      value: true,
    });
    expect(RatchetError.isInstance(foreign)).toBe(true);
  });
});

function codeOrValue(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : error;
  }
}

function captureError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
