// Who owns the bytes DoubleRatchet.encrypt returns: an array of the caller's own by default
// (it stays intact whatever is encrypted next), a view of a caller-lent buffer only when asked.
import { describe, expect, it } from 'vitest';

import { MESSAGE_SCRATCH } from '../src/message-scratch.ts';
import { curvePublicKey } from '../src/olm/curve.ts';
import { DoubleRatchet } from '../src/olm/double-ratchet.ts';
import { systemRandom } from '../src/random.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Alice's and Bob's ratchets right after the triple DH (same root and chain key). */
function pair(): { alice: DoubleRatchet; bob: DoubleRatchet } {
  const root = systemRandom(32);
  const chain = systemRandom(32);
  const alicePrivate = systemRandom(32);
  const alicePublic = curvePublicKey(alicePrivate);
  const bob = DoubleRatchet.asBob(root.slice(), chain.slice(), alicePublic);
  const alice = DoubleRatchet.asAlice(root, chain, Uint8Array.from(alicePrivate));
  return { alice, bob };
}

describe('DoubleRatchet.encrypt', () => {
  it('returns an array of its own that later encryptions leave intact', () => {
    const { alice, bob } = pair();
    const first = alice.encrypt(utf8('first message'), systemRandom);
    const kept = first.slice();
    const second = alice.encrypt(utf8('second message, a different length'), systemRandom);
    expect(first).toEqual(kept);
    expect(first.buffer).not.toBe(second.buffer);
    // Neither is a view of the buffer Session and GroupSession lend for their own layout.
    expect(first.buffer).not.toBe(MESSAGE_SCRATCH.buffer);
    expect(text(bob.decrypt(first))).toBe('first message');
    expect(text(bob.decrypt(second))).toBe('second message, a different length');
  });

  it('lays the message out in a lent buffer only when given one', () => {
    const { alice, bob } = pair();
    const lent = new Uint8Array(1024);
    const message = alice.encrypt(utf8('hello'), systemRandom, lent);
    expect(message.buffer).toBe(lent.buffer);
    expect(message.byteOffset).toBe(0);
    expect(text(bob.decrypt(message.slice()))).toBe('hello');
  });

  it('falls back to an array of its own when the lent buffer is too small', () => {
    const { alice, bob } = pair();
    const lent = new Uint8Array(16);
    const message = alice.encrypt(utf8('does not fit in sixteen bytes'), systemRandom, lent);
    expect(message.buffer).not.toBe(lent.buffer);
    expect(lent).toEqual(new Uint8Array(16));
    expect(text(bob.decrypt(message))).toBe('does not fit in sixteen bytes');
  });
});
