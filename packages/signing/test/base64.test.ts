// Unpadded Base64 (spec appendices, "Unpadded Base64" and "URL-safe unpadded Base64"):
// strict and lenient (Synapse's unpaddedbase64) decoding rules documented in src/base64.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSeedBase64 } from '../src/base64.ts';
import {
  decodeBase64,
  decodeBase64Lenient,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  SigningError,
} from '../src/index.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return SigningError.isInstance(error) ? error.code : `not a SigningError: ${String(error)}`;
  }
  return undefined;
}

describe('encodeBase64 / encodeBase64Url', () => {
  it('match Node Buffer base64 with padding stripped, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        expect(encodeBase64(bytes)).toBe(buffer.toString('base64').replace(/=+$/, ''));
        expect(encodeBase64Url(bytes)).toBe(buffer.toString('base64url'));
      }),
    );
  });

  it('round-trip through the decoders', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
        expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
      }),
    );
  });

  it('reject non-bytes with TypeError', () => {
    expect(() => encodeBase64('abc' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => encodeBase64Url([1, 2] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('decodeBase64', () => {
  it('accepts complete padding, as the spec asks decoders to', () => {
    expect(decodeBase64('Zg==')).toEqual(new TextEncoder().encode('f'));
    expect(decodeBase64('Zm8=')).toEqual(new TextEncoder().encode('fo'));
    expect(decodeBase64Url('Zm9vYg==')).toEqual(new TextEncoder().encode('foob'));
  });

  it.each([
    ['partial padding', 'Zg='],
    ['padding on a whole group', 'Zm9v===='],
    ['padding in the middle', 'Zg==Zg'],
    ['only padding', '===='],
    ['impossible length 4n+1', 'Zm9vY'],
    ['a single character', 'Z'],
    ['whitespace', 'Zm9 v'],
    ['a newline', 'Zm9v\n'],
    ['URL-safe characters', 'ab-_'],
    ['non-ASCII', 'Zm9vé'],
    ['non-zero trailing bits (2 chars)', 'Zh'],
    ['non-zero trailing bits (3 chars)', 'Zm9'],
  ])('rejects %s', (_label, text) => {
    expect(codeOf(() => decodeBase64(text))).toBe('bad-base64');
  });

  it('URL-safe decoder rejects the standard alphabet', () => {
    expect(codeOf(() => decodeBase64Url('ab+/'))).toBe('bad-base64');
    expect(decodeBase64Url('ab-_')).toEqual(decodeBase64('ab+/'));
  });

  it('names the path in the error and never echoes the input', () => {
    try {
      decodeBase64('c2VjcmV0c2VjcmV0!', '$.signatures.x');
      expect.unreachable();
    } catch (error) {
      expect(SigningError.isInstance(error) && error.path).toBe('$.signatures.x');
      expect(String((error as Error).message)).not.toContain('c2VjcmV0');
    }
  });

  it('rejects non-strings with TypeError', () => {
    expect(() => decodeBase64(42 as unknown as string)).toThrow(TypeError);
  });

  it('seed decoding ignores non-zero trailing bits only (the spec test seed has them)', () => {
    expect(codeOf(() => decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'))).toBe(
      'bad-base64',
    );
    expect(decodeSeedBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1')).toEqual(
      decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0'),
    );
    expect(codeOf(() => decodeSeedBase64('YJDB*'))).toBe('bad-base64');
  });
});

describe('decodeBase64Lenient (as unpaddedbase64.decode_base64)', () => {
  // Expected values from Python: unpaddedbase64.decode_base64 (python3-unpaddedbase64).
  const bytes = (...values: number[]) => new Uint8Array(values);

  it('accepts both alphabets, mixed, any trailing padding, and ignores trailing bits', () => {
    expect(decodeBase64Lenient('Zg')).toEqual(bytes(0x66));
    expect(decodeBase64Lenient('Zh')).toEqual(bytes(0x66));
    expect(decodeBase64Lenient('Zg=')).toEqual(bytes(0x66));
    expect(decodeBase64Lenient('Zg===')).toEqual(bytes(0x66));
    expect(decodeBase64Lenient('Zm9v=')).toEqual(bytes(0x66, 0x6f, 0x6f));
    expect(decodeBase64Lenient('+/8')).toEqual(bytes(0xfb, 0xff));
    expect(decodeBase64Lenient('-_8')).toEqual(bytes(0xfb, 0xff));
    expect(decodeBase64Lenient('-/8')).toEqual(bytes(0xfb, 0xff));
    expect(decodeBase64Lenient('-/9')).toEqual(bytes(0xfb, 0xff));
  });

  it('decodes every canonical encoding as the strict decoders do', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (b) => {
        expect(decodeBase64Lenient(encodeBase64(b))).toEqual(b);
        expect(decodeBase64Lenient(encodeBase64Url(b))).toEqual(b);
      }),
    );
  });

  it('refuses 4n+1 lengths, misplaced padding and any other character, with bad-base64', () => {
    for (const bad of ['Z', 'Zm9vY', 'Zm9vY=', '=Zg', 'Z=g', 'Z!g', 'Z g', 'Zg\n', 'Zé', '.Zg']) {
      expect(codeOf(() => decodeBase64Lenient(bad, '$.x'))).toBe('bad-base64');
    }
    expect(() => decodeBase64Lenient(42 as unknown as string)).toThrow(TypeError);
  });

  it('leaves the strict decoders strict', () => {
    expect(codeOf(() => decodeBase64('Zh'))).toBe('bad-base64');
    expect(codeOf(() => decodeBase64('-_8'))).toBe('bad-base64');
    expect(codeOf(() => decodeBase64Url('+/8'))).toBe('bad-base64');
    expect(codeOf(() => decodeBase64('Zg='))).toBe('bad-base64');
  });
});
