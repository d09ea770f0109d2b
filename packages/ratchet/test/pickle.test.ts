// The pickle envelope (src/pickle.ts): round trip, authentication, kind separation, typed errors.
import { createCipheriv, createHmac, hkdfSync } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { RatchetError } from '../src/errors.ts';
import { openLibolmPickle, openPickle, sealPickle } from '../src/pickle.ts';

const key = new Uint8Array(32).map((_, i) => i);
const otherKey = new Uint8Array(32).fill(1);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : `not a RatchetError: ${String(error)}`;
  }
  return undefined;
}

describe('sealPickle / openPickle', () => {
  it('round-trips any JSON payload and its version', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 0, max: 0xffffffff }), (payload, version) => {
        const text = sealPickle('megolm.inbound', version, payload, key);
        const opened = openPickle('megolm.inbound', text, key);
        expect(opened.version).toBe(version);
        expect(opened.payload).toEqual(JSON.parse(JSON.stringify(payload)));
      }),
      { numRuns: 50 },
    );
  });

  it('does not contain the payload in clear and differs on every seal (random salt)', () => {
    const payload = { secret: 'do-not-leak-this-string' };
    const a = sealPickle('k', 1, payload, key);
    const b = sealPickle('k', 1, payload, key);
    expect(a).not.toBe(b);
    expect(new TextDecoder().decode(decodeBase64(a))).not.toContain('do-not-leak');
  });

  it('is deterministic for an injected random source', () => {
    const fixed = (n: number) => new Uint8Array(n).fill(5);
    expect(sealPickle('k', 1, [1, 2], key, fixed)).toBe(sealPickle('k', 1, [1, 2], key, fixed));
  });

  it('rejects a wrong key with bad-pickle', () => {
    const text = sealPickle('olm.session', 1, { a: 1 }, key);
    expect(codeOf(() => openPickle('olm.session', text, otherKey))).toBe('bad-pickle');
  });

  it("refuses to open one kind's pickle as another kind", () => {
    const text = sealPickle('olm.account', 1, { a: 1 }, key);
    expect(codeOf(() => openPickle('olm.session', text, key))).toBe('bad-pickle');
    expect(codeOf(() => openPickle('olm.accoun', text, key))).toBe('bad-pickle');
  });

  it('detects a flip of any single byte (header, salt, ciphertext or MAC)', () => {
    const bytes = decodeBase64(sealPickle('kind', 7, { hello: 'world' }, key));
    for (let i = 1; i < bytes.length; i++) {
      const tampered = bytes.slice();
      tampered[i] = (tampered[i] as number) ^ 0x01;
      expect(
        codeOf(() => openPickle('kind', encodeBase64(tampered), key)),
        `byte ${i}`,
      ).toBe('bad-pickle');
    }
  });

  it('reports an unknown envelope version as unsupported-version', () => {
    const bytes = decodeBase64(sealPickle('kind', 1, {}, key));
    bytes[0] = 2;
    expect(codeOf(() => openPickle('kind', encodeBase64(bytes), key))).toBe('unsupported-version');
  });

  it('rejects truncation, garbage and non-base64 with bad-pickle', () => {
    const text = sealPickle('kind', 1, { x: 1 }, key);
    for (const bad of ['', 'AQ', text.slice(0, -4), text.slice(0, 30), 'not base64!']) {
      expect(
        codeOf(() => openPickle('kind', bad, key)),
        bad,
      ).toBe('bad-pickle');
    }
  });

  it('rejects misuse with TypeError / RangeError', () => {
    expect(() => sealPickle('k', 1, {}, new Uint8Array(31))).toThrow(RangeError);
    expect(() => sealPickle('', 1, {}, key)).toThrow(TypeError);
    expect(() => sealPickle('k', -1, {}, key)).toThrow(RangeError);
    expect(() => sealPickle('k', 1, undefined, key)).toThrow(TypeError);
    expect(() => openPickle('k', 42 as unknown as string, key)).toThrow(TypeError);
    expect(() => openPickle('k', 'AA', 'key' as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('openLibolmPickle', () => {
  // libolm's envelope, built independently with OpenSSL: HKDF(key, zero salt, "Pickle") →
  // AES-256-CBC, then the first 8 bytes of HMAC-SHA-256 over the ciphertext.
  function sealLibolm(plaintext: Uint8Array, passphrase: string): string {
    const okm = Buffer.from(hkdfSync('sha256', passphrase, Buffer.alloc(32), 'Pickle', 80));
    const cipher = createCipheriv('aes-256-cbc', okm.subarray(0, 32), okm.subarray(64, 80));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const mac = createHmac('sha256', okm.subarray(32, 64)).update(ciphertext).digest();
    return encodeBase64(Buffer.concat([ciphertext, mac.subarray(0, 8)]));
  }
  const utf8 = (text: string) => new TextEncoder().encode(text);

  it('decrypts any plaintext under the right key and refuses a wrong key or corruption', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.string({ minLength: 1 }),
        (plaintext, passphrase) => {
          const text = sealLibolm(plaintext, passphrase);
          expect(openLibolmPickle(text, utf8(passphrase))).toEqual(plaintext);
          expect(codeOf(() => openLibolmPickle(text, utf8(`${passphrase}x`)))).toBe('bad-pickle');
          const bytes = decodeBase64(text);
          bytes[0] = (bytes[0] as number) ^ 1;
          expect(codeOf(() => openLibolmPickle(encodeBase64(bytes), utf8(passphrase)))).toBe(
            'bad-pickle',
          );
        },
      ),
      { numRuns: 30 },
    );
    expect(codeOf(() => openLibolmPickle('AAAA', utf8('k')))).toBe('bad-pickle');
    expect(() => openLibolmPickle('AAAA', 42 as unknown as Uint8Array)).toThrow(TypeError);
    // A string key is its UTF-8 bytes (python-olm's and libolm's JS convention).
    const text = sealLibolm(Uint8Array.of(1, 2, 3), 'pässword');
    expect(openLibolmPickle(text, 'pässword')).toEqual(openLibolmPickle(text, utf8('pässword')));
  });
});
