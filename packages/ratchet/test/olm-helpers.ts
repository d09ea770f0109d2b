/** Test helpers for Olm tests: a pair of connected sessions and a pickle-stable random source. */
import { webcrypto } from 'node:crypto';

import { Account, type RandomSource, type Session } from '../src/index.ts';

/**
 * CSPRNG bytes, except that 16-byte requests (pickle salts) are all zeros, so two pickles of the
 * same state under the same key are identical strings: a way to prove state did not change.
 */
export const stablePickleRandom: RandomSource = (length) => {
  const out = new Uint8Array(length);
  if (length !== 16) webcrypto.getRandomValues(out);
  return out;
};

export const PICKLE_KEY = new Uint8Array(32).fill(7);

/** Alice's outbound and Bob's inbound session after one pre-key message. */
export function connectedPair(): {
  alice: Session;
  bob: Session;
  aliceAccount: Account;
  bobAccount: Account;
} {
  const aliceAccount = Account.create(stablePickleRandom);
  const bobAccount = Account.create(stablePickleRandom);
  bobAccount.generateOneTimeKeys(1);
  const [otk] = Object.values(bobAccount.oneTimeKeys());
  if (otk === undefined) throw new Error('no one-time key');
  const alice = aliceAccount.createOutboundSession(bobAccount.identityKeys().curve25519, otk);
  const first = alice.encrypt('hello');
  const { session: bob } = bobAccount.createInboundSession(
    aliceAccount.identityKeys().curve25519,
    first.body,
  );
  return { alice, bob, aliceAccount, bobAccount };
}
