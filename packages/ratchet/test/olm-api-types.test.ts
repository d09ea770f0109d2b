// Every public Olm entry point fed wrongly typed arguments throws TypeError/RangeError (argument
// misuse), never a RatchetError and never a crash deeper inside; and pickles of an unknown payload
// version are refused as unsupported-version.
import { describe, expect, it } from 'vitest';

import { Account, type RandomSource, RatchetError, Session } from '../src/index.ts';
import { sealPickle } from '../src/pickle.ts';
import { connectedPair, PICKLE_KEY } from './olm-helpers.ts';

type Call = [name: string, fn: () => unknown];

function misuse(calls: Call[]) {
  for (const [name, fn] of calls) {
    let thrown: unknown;
    try {
      fn();
    } catch (error) {
      thrown = error;
    }
    expect(thrown instanceof TypeError || thrown instanceof RangeError, name).toBe(true);
    expect(RatchetError.isInstance(thrown), name).toBe(false);
  }
}

const anyValue = <T>(value: unknown) => value as T;

describe('Olm API argument checks', () => {
  it('Account', () => {
    const account = Account.create();
    const key = Account.create().identityKeys().curve25519;
    misuse([
      ['create(non-function)', () => Account.create(anyValue<RandomSource>(42))],
      ['create(short random)', () => Account.create(() => new Uint8Array(10))],
      [
        'create(non-bytes random)',
        () => Account.create(anyValue<RandomSource>(() => 'x'.repeat(64))),
      ],
      ['sign(number)', () => account.sign(anyValue<string>(1))],
      ['generateOneTimeKeys(string)', () => account.generateOneTimeKeys(anyValue<number>('3'))],
      ['generateOneTimeKeys(NaN)', () => account.generateOneTimeKeys(Number.NaN)],
      [
        'createOutboundSession(null, key)',
        () => account.createOutboundSession(anyValue<string>(null), key),
      ],
      [
        'createOutboundSession(key, {})',
        () => account.createOutboundSession(key, anyValue<string>({})),
      ],
      [
        'createInboundSession(1, body)',
        () => account.createInboundSession(anyValue<string>(1), 'AwoA'),
      ],
      [
        'createInboundSession(undefined, bytes)',
        () => account.createInboundSession(undefined, anyValue<string>(new Uint8Array(3))),
      ],
      ['pickle(string)', () => account.pickle(anyValue<Uint8Array>('key'))],
      ['pickle(short key)', () => account.pickle(new Uint8Array(16))],
      ['fromPickle(number)', () => Account.fromPickle(anyValue<string>(5), PICKLE_KEY)],
      ['fromPickle(pickle, string)', () => Account.fromPickle('AAAA', anyValue<Uint8Array>('k'))],
      ['fromLibolmPickle(number)', () => Account.fromLibolmPickle(anyValue<string>(5), 'k')],
      [
        'fromLibolmPickle(pickle, number)',
        () => Account.fromLibolmPickle('AAAA', anyValue<string>(5)),
      ],
    ]);
  });

  it('Session', () => {
    const { alice } = connectedPair();
    misuse([
      ['encrypt(undefined)', () => alice.encrypt(anyValue<string>(undefined))],
      ['encrypt(array)', () => alice.encrypt(anyValue<string>([1, 2]))],
      ['decrypt(string)', () => alice.decrypt(anyValue<{ type: 0; body: string }>('AwoA'))],
      [
        'decrypt(type "1")',
        () => alice.decrypt(anyValue<{ type: 1; body: string }>({ type: '1', body: 'AwoA' })),
      ],
      ['matchesInboundSession(null)', () => alice.matchesInboundSession(anyValue<string>(null))],
      ['pickle(null)', () => alice.pickle(anyValue<Uint8Array>(null))],
      ['fromPickle(pickle, null)', () => Session.fromPickle('AAAA', anyValue<Uint8Array>(null))],
      [
        'fromPickle(pickle, key, random)',
        () => Session.fromPickle('AAAA', PICKLE_KEY, anyValue<RandomSource>(1)),
      ],
      ['fromLibolmPickle(null)', () => Session.fromLibolmPickle(anyValue<string>(null), 'k')],
    ]);
  });

  it('refuses pickles of an unknown payload version', () => {
    const account = sealPickle('weft.olm.account', 2, {}, PICKLE_KEY);
    const session = sealPickle('weft.olm.session', 2, {}, PICKLE_KEY);
    expect(() => Account.fromPickle(account, PICKLE_KEY)).toThrow(
      expect.objectContaining({ code: 'unsupported-version' }),
    );
    expect(() => Session.fromPickle(session, PICKLE_KEY)).toThrow(
      expect.objectContaining({ code: 'unsupported-version' }),
    );
    // A well-formed envelope with a malformed payload is bad-pickle.
    const empty = sealPickle('weft.olm.session', 1, { rootKey: 'AAAA' }, PICKLE_KEY);
    expect(() => Session.fromPickle(empty, PICKLE_KEY)).toThrow(
      expect.objectContaining({ code: 'bad-pickle' }),
    );
  });
});
