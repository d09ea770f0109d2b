// Olm accounts: identity keys, one-time and fallback keys (client-server API "End-to-End
// Encryption", one-time and fallback keys), signing, inbound session creation failures, pickles,
// and proof that no secret shows in toJSON / util.inspect output.
import { inspect } from 'node:util';

import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { Account, type RandomSource, RatchetError } from '../src/index.ts';
import { connectedPair, PICKLE_KEY, stablePickleRandom } from './olm-helpers.ts';

/** A counter-based random source, so the private keys a test creates are known to it. */
function countingRandom(): { random: RandomSource; issued: Uint8Array[] } {
  let counter = 1;
  const issued: Uint8Array[] = [];
  return {
    issued,
    random: (length) => {
      const out = new Uint8Array(length);
      for (let i = 0; i < length; i++) out[i] = (counter * 31 + i * 7) & 0xff;
      counter += 1;
      issued.push(Uint8Array.from(out));
      return out;
    },
  };
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : `not a RatchetError: ${String(error)}`;
  }
  return undefined;
}

describe('Account', () => {
  it('signs with its Ed25519 identity key (standard Ed25519, any verifier accepts)', () => {
    const account = Account.create();
    const message = '{"one_time_key":"x"}';
    const signature = decodeBase64(account.sign(message));
    const key = decodeBase64(account.identityKeys().ed25519);
    expect(ed25519.verify(signature, new TextEncoder().encode(message), key)).toBe(true);
    expect(account.sign(new TextEncoder().encode(message))).toBe(encodeBase64(signature));
  });

  it('numbers one-time keys like libolm and lists only unpublished ones', () => {
    const account = Account.create();
    account.generateOneTimeKeys(2);
    expect(Object.keys(account.oneTimeKeys()).sort()).toEqual(['AAAAAQ', 'AAAAAg']);
    account.markKeysAsPublished();
    expect(account.oneTimeKeys()).toEqual({});
    account.generateOneTimeKeys(1);
    expect(Object.keys(account.oneTimeKeys())).toEqual(['AAAAAw']);
    for (const key of Object.values(account.oneTimeKeys()))
      expect(decodeBase64(key)).toHaveLength(32);
  });

  it('keeps at most maxNumberOfOneTimeKeys, dropping the oldest', () => {
    const account = Account.create();
    expect(account.maxNumberOfOneTimeKeys).toBe(100);
    account.generateOneTimeKeys(105);
    const ids = Object.keys(account.oneTimeKeys());
    expect(ids).toHaveLength(100);
    expect(ids).not.toContain('AAAAAQ'); // key 1 was dropped
    expect(ids).toContain('AAAAaQ'); // key 105 is kept
  });

  it('shares the key counter between one-time and fallback keys', () => {
    const account = Account.create();
    account.generateOneTimeKeys(1);
    account.generateFallbackKey();
    expect(Object.keys(account.fallbackKey())).toEqual(['AAAAAg']);
  });

  it('leaves the account unchanged when an inbound session cannot be created', () => {
    const { aliceAccount, bobAccount } = connectedPair();
    bobAccount.generateOneTimeKeys(1);
    const [otk] = Object.values(bobAccount.oneTimeKeys());
    if (otk === undefined) throw new Error('no key');
    const session = aliceAccount.createOutboundSession(bobAccount.identityKeys().curve25519, otk);
    const message = session.encrypt('hi');
    const bytes = decodeBase64(message.body);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    const tampered = encodeBase64(bytes);

    const before = bobAccount.pickle(PICKLE_KEY);
    expect(code(() => bobAccount.createInboundSession(undefined, tampered))).toBe('bad-mac');
    expect(
      code(() =>
        bobAccount.createInboundSession(bobAccount.identityKeys().curve25519, message.body),
      ),
    ).toBe('session-mismatch');
    expect(code(() => bobAccount.createInboundSession(undefined, 'AwoA'))).toBe(
      'bad-message-format',
    );
    expect(
      code(() => bobAccount.createInboundSession(undefined, encodeBase64(Uint8Array.of(2)))),
    ).toBe('unsupported-version');
    expect(bobAccount.pickle(PICKLE_KEY)).toBe(before);
    expect(Object.values(bobAccount.oneTimeKeys())).toContain(otk);
    bobAccount.createInboundSession(aliceAccount.identityKeys().curve25519, message.body);
    expect(Object.values(bobAccount.oneTimeKeys())).not.toContain(otk);
  });

  it('rejects malformed peer keys with bad-key / bad-base64', () => {
    const account = Account.create();
    const good = Account.create().identityKeys().curve25519;
    expect(code(() => account.createOutboundSession(good, 'AAAA'))).toBe('bad-key');
    expect(code(() => account.createOutboundSession('not base64!', good))).toBe('bad-base64');
    // The all-zero point is low order: every agreement with it is zero.
    expect(code(() => account.createOutboundSession(good, encodeBase64(new Uint8Array(32))))).toBe(
      'bad-key',
    );
    expect(() => account.createOutboundSession(1 as unknown as string, good)).toThrow(TypeError);
    expect(() => account.generateOneTimeKeys(-1)).toThrow(RangeError);
    expect(() => account.generateOneTimeKeys(1.5)).toThrow(RangeError);
    expect(() => account.sign({} as unknown as string)).toThrow(TypeError);
    expect(() => Account.create('x' as unknown as RandomSource)).toThrow(TypeError);
    expect(() => Account.create(() => new Uint8Array(3))).toThrow(TypeError);
  });

  it('pickles and restores all keys; wrong key, kind or corruption is bad-pickle', () => {
    const { bobAccount, aliceAccount } = connectedPair();
    bobAccount.generateOneTimeKeys(3);
    bobAccount.generateFallbackKey();
    const pickle = bobAccount.pickle(PICKLE_KEY);
    const restored = Account.fromPickle(pickle, PICKLE_KEY, stablePickleRandom);
    expect(restored.identityKeys()).toEqual(bobAccount.identityKeys());
    expect(restored.oneTimeKeys()).toEqual(bobAccount.oneTimeKeys());
    expect(restored.fallbackKey()).toEqual(bobAccount.fallbackKey());
    expect(restored.pickle(PICKLE_KEY)).toBe(pickle);
    expect(restored.sign('m')).toBe(bobAccount.sign('m'));
    // The restored account can still open sessions on its keys.
    const [otk] = Object.values(restored.oneTimeKeys());
    if (otk === undefined) throw new Error('no key');
    const message = aliceAccount
      .createOutboundSession(restored.identityKeys().curve25519, otk)
      .encrypt('p');
    expect(
      new TextDecoder().decode(restored.createInboundSession(undefined, message.body).plaintext),
    ).toBe('p');

    expect(code(() => Account.fromPickle(pickle, new Uint8Array(32).fill(8)))).toBe('bad-pickle');
    const bytes = decodeBase64(pickle);
    bytes[40] = (bytes[40] as number) ^ 1;
    expect(code(() => Account.fromPickle(encodeBase64(bytes), PICKLE_KEY))).toBe('bad-pickle');
    const { alice } = connectedPair();
    expect(code(() => Account.fromPickle(alice.pickle(PICKLE_KEY), PICKLE_KEY))).toBe('bad-pickle');
    expect(() => Account.fromPickle(pickle, new Uint8Array(31))).toThrow(RangeError);
  });

  it('never shows a private key in toJSON or util.inspect', () => {
    const { random, issued } = countingRandom();
    const account = Account.create(random);
    account.generateOneTimeKeys(2);
    account.generateFallbackKey();
    const otk = Object.values(account.oneTimeKeys())[0] ?? '';
    const session = account.createOutboundSession(account.identityKeys().curve25519, otk);
    session.encrypt('x');
    const secrets = issued.flatMap((bytes) => {
      const out = [encodeBase64(bytes)];
      for (let i = 0; i + 32 <= bytes.length; i += 32)
        out.push(encodeBase64(bytes.subarray(i, i + 32)));
      return out;
    });
    const shown = [
      JSON.stringify(account),
      inspect(account),
      JSON.stringify(session),
      inspect(session),
    ];
    expect(JSON.parse(shown[0] as string)).toEqual({ identityKeys: account.identityKeys() });
    expect(shown[1]).toBe(
      `Account { ed25519: '${account.identityKeys().ed25519}', curve25519: '${account.identityKeys().curve25519}' }`,
    );
    expect(JSON.parse(shown[2] as string)).toEqual({
      sessionId: session.sessionId(),
      hasReceivedMessage: false,
    });
    expect(shown[3]).toBe(
      `Session { sessionId: '${session.sessionId()}', hasReceivedMessage: false }`,
    );
    for (const output of shown) for (const secret of secrets) expect(output).not.toContain(secret);
  });

  it('free() zeroes the keys and disables the account', () => {
    const account = Account.create();
    account.free();
    expect(() => account.sign('x')).toThrow(TypeError);
    expect(() => account.pickle(PICKLE_KEY)).toThrow(TypeError);
  });
});
