// src/hash-hmac.ts: HMAC-SHA-256 (RFC 2104) composed over node:crypto's SHA-256 one-shot must give
// OpenSSL's createHmac bytes at every key length it takes and at its longest message, and leave
// nothing secret-derived behind in its reused buffers.
import { createHmac, hash, randomBytes } from 'node:crypto';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  fitsHashHmac,
  type HashOneShot,
  hashHmac,
  hashHmacInto,
  MAX_HASH_HMAC_DATA,
} from '../src/hash-hmac.ts';

const sha256: HashOneShot = (algorithm, data, encoding) => hash(algorithm, data, encoding);

describe('hash-composed HMAC-SHA-256', () => {
  it('matches OpenSSL at every key length from 0 to one block', () => {
    const data = new Uint8Array(randomBytes(100));
    for (let length = 0; length <= 64; length++) {
      const key = new Uint8Array(randomBytes(length));
      expect(Buffer.from(hashHmac(sha256, key, data)), `key length ${length}`).toEqual(
        createHmac('sha256', key).update(data).digest(),
      );
    }
  });

  it('matches OpenSSL at the longest message it takes, and several messages under one key', () => {
    const key = new Uint8Array(randomBytes(32));
    const longest = new Uint8Array(randomBytes(MAX_HASH_HMAC_DATA));
    expect(fitsHashHmac(key, longest.length)).toBe(true);
    expect(fitsHashHmac(key, longest.length + 1)).toBe(false);
    expect(fitsHashHmac(new Uint8Array(65), 1)).toBe(false);
    expect(Buffer.from(hashHmac(sha256, key, longest))).toEqual(
      createHmac('sha256', key).update(longest).digest(),
    );
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 }), (messages) => {
        const outputs = messages.map(() => new Uint8Array(32));
        hashHmacInto(sha256, key, messages, outputs);
        messages.forEach((message, i) => {
          expect(Buffer.from(outputs[i] as Uint8Array)).toEqual(
            createHmac('sha256', key).update(message).digest(),
          );
        });
      }),
      { numRuns: 30 },
    );
  });

  it('wipes the padded keys, the message copy and the inner digest after each call', () => {
    // The one-shot sees views of the module's reused buffers: after the call they must be zero.
    const seen: Uint8Array[] = [];
    const results: Uint8Array[] = [];
    const recording: HashOneShot = (algorithm, data, encoding) => {
      seen.push(data);
      const digest = hash(algorithm, data, encoding);
      results.push(digest);
      return digest;
    };
    const key = new Uint8Array(randomBytes(32));
    const message = new Uint8Array(randomBytes(200));
    const mac = hashHmac(recording, key, message);
    expect(seen).toHaveLength(2);
    for (const buffer of seen) expect(buffer.every((byte) => byte === 0)).toBe(true);
    // The inner digest is wiped; the outer one is the result itself, handed to the caller.
    expect((results[0] as Uint8Array).every((byte) => byte === 0)).toBe(true);
    expect(Buffer.from(mac)).toEqual(createHmac('sha256', key).update(message).digest());

    seen.length = 0;
    const outputs = [new Uint8Array(32), new Uint8Array(32)];
    hashHmacInto(recording, key, [Uint8Array.of(1), Uint8Array.of(2)], outputs);
    expect(seen).toHaveLength(4);
    for (const buffer of seen) expect(buffer.every((byte) => byte === 0)).toBe(true);
  });

  it('wipes its buffers when the hash throws', () => {
    const seen: Uint8Array[] = [];
    const failing: HashOneShot = (_algorithm, data) => {
      seen.push(data);
      throw new Error('hash failed');
    };
    expect(() => hashHmac(failing, new Uint8Array(32).fill(7), new Uint8Array(10).fill(9))).toThrow(
      'hash failed',
    );
    expect(seen).toHaveLength(1);
    expect((seen[0] as Uint8Array).every((byte) => byte === 0)).toBe(true);
  });
});
