// The two implementations behind src/olm/curve.ts (pure @noble/curves and Node's OpenSSL) must
// agree bit for bit (RFC 7748 X25519, RFC 8032 Ed25519), and the whole libolm vector exchange must
// pass on each.
import { randomBytes } from 'node:crypto';
import { vectorCases } from '@weft/test-vectors';
import { afterAll, describe, expect, it } from 'vitest';

import { RatchetError } from '../src/index.ts';
import {
  curveAgreement,
  curvePublicKey,
  edPublicKey,
  edSign,
  forgetKey,
  selectCurveImplementation,
} from '../src/olm/curve.ts';
import { formats } from './vector-formats.ts';

function both<T>(fn: () => T): [T, T] {
  selectCurveImplementation(false);
  const pure = fn();
  expect(selectCurveImplementation(true)).toBe(true);
  const native = fn();
  return [pure, native];
}

afterAll(() => {
  selectCurveImplementation(true);
});

describe('kept key objects', () => {
  it('give the same agreements and signatures as fresh imports, and are dropped by forgetKey', () => {
    const a = new Uint8Array(randomBytes(32));
    const b = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(40));
    const bPublic = curvePublicKey(b);
    const [pure, native] = both(() => [curveAgreement(a, bPublic), edSign(a, message)]);
    expect(native).toEqual(pure);
    const [expectedCurve, expectedSign] = native;
    expect(curvePublicKey(a, true)).toEqual(curvePublicKey(Uint8Array.from(a)));
    expect(curveAgreement(a, bPublic)).toEqual(expectedCurve);
    // After forgetKey the buffer is read again: rewriting it in place must change the result.
    forgetKey(a);
    const previous = Uint8Array.from(a);
    a.set(randomBytes(32));
    expect(curveAgreement(a, bPublic)).toEqual(curveAgreement(Uint8Array.from(a), bPublic));
    expect(curveAgreement(a, bPublic)).not.toEqual(curveAgreement(previous, bPublic));
    expect(edPublicKey(previous, true)).toEqual(edPublicKey(Uint8Array.from(previous)));
    expect(edSign(previous, message)).toEqual(expectedSign);
    forgetKey(previous);
  });
});

describe('curve implementations agree', () => {
  it('X25519 public keys and agreements, Ed25519 keys and signatures', () => {
    for (let i = 0; i < 20; i++) {
      const a = new Uint8Array(randomBytes(32));
      const b = new Uint8Array(randomBytes(32));
      const message = new Uint8Array(randomBytes(i * 13));
      const [pure, native] = both(() => {
        const bPublic = curvePublicKey(b);
        return [curvePublicKey(a), curveAgreement(a, bPublic), edPublicKey(a), edSign(a, message)];
      });
      expect(native).toEqual(pure);
    }
  });

  it('both reject a low-order peer key with bad-key', () => {
    const [pure, native] = both(() => {
      try {
        curveAgreement(new Uint8Array(32).fill(9), new Uint8Array(32));
        return 'accepted';
      } catch (error) {
        return RatchetError.isInstance(error) ? error.code : 'other';
      }
    });
    expect(pure).toBe('bad-key');
    expect(native).toBe('bad-key');
  });

  const olm = formats.find((format) => format.name === 'olm-libolm');
  if (olm === undefined) throw new Error('olm vector format missing');
  for (const c of vectorCases('olm-megolm-generated.json', olm)) {
    it(`pure path: ${c.name}`, async () => {
      selectCurveImplementation(false);
      try {
        await c.run();
      } finally {
        selectCurveImplementation(true);
      }
    });
  }
});
