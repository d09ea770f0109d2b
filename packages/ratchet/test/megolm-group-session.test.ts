// Megolm sessions end to end (src/megolm/group-session.ts, inbound-group-session.ts,
// session-keys.ts): round trips, session keys and exports, forged and malformed input with
// state left unchanged, pickles, and that secrets never show in JSON or inspect output.
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { CipherKeysBuffer, encryptCbc, hmacSha256 } from '../src/cipher.ts';
import {
  GroupSession,
  InboundGroupSession,
  type RandomSource,
  RatchetError,
} from '../src/index.ts';
import { reusedKeysAreWiped } from '../src/megolm/group-session.ts';
import { reusedSecretsAreWiped } from '../src/megolm/inbound-group-session.ts';
import { encodeMessage } from '../src/megolm/message.ts';
import { MegolmRatchet } from '../src/megolm/ratchet.ts';
import { signingKeyFromSeed } from '../src/megolm/signing.ts';
import { sealPickle } from '../src/pickle.ts';
import { fieldsOf } from './megolm-helpers.ts';

const decoder = new TextDecoder();

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return RatchetError.isInstance(error) ? error.code : `not a RatchetError: ${String(error)}`;
  }
  return undefined;
}

/** A session whose secrets the test knows: ratchet R_0 and Ed25519 seed. */
function knownSession() {
  const secret = new Uint8Array(randomBytes(160));
  const random: RandomSource = (n) => {
    expect(n).toBe(160);
    return secret.slice();
  };
  return {
    session: new GroupSession(random),
    ratchet0: secret.slice(0, 128),
    seed: secret.slice(128),
  };
}

/** Re-signs (and optionally re-MACs) a hand-built message as the real sender could. */
function forge(
  known: ReturnType<typeof knownSession>,
  index: number,
  ciphertext: Uint8Array,
  options: { badMac?: boolean } = {},
): string {
  const ratchet = new MegolmRatchet(known.ratchet0.slice(), 0);
  ratchet.advanceTo(index);
  const keys = ratchet.messageKeysInto(new CipherKeysBuffer());
  const { bytes, bodyEnd } = encodeMessage(index, ciphertext);
  const mac = hmacSha256(keys.macKey, bytes.subarray(0, bodyEnd)).subarray(0, 8);
  if (options.badMac === true) mac[0] = (mac[0] as number) ^ 1;
  bytes.set(mac, bodyEnd);
  const signer = signingKeyFromSeed(known.seed.slice());
  bytes.set(signer.sign(bytes.subarray(0, bodyEnd + 8)), bodyEnd + 8);
  return encodeBase64(bytes);
}

describe('GroupSession → InboundGroupSession', () => {
  it('decrypts string and byte plaintexts in and out of order', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    expect(inbound.sessionId()).toBe(outbound.sessionId());
    expect(inbound.isVerified()).toBe(true);
    const bytes = Uint8Array.from(randomBytes(200));
    const messages = [outbound.encrypt('héllo 🌍'), outbound.encrypt(bytes), outbound.encrypt('')];
    expect(outbound.messageIndex()).toBe(3);
    expect(inbound.decrypt(messages[2] as string)).toEqual({
      plaintext: new Uint8Array(0),
      messageIndex: 2,
    });
    expect(inbound.decrypt(messages[1] as string).plaintext).toEqual(bytes);
    const first = inbound.decrypt(messages[0] as string);
    expect(decoder.decode(first.plaintext)).toBe('héllo 🌍');
    expect(first.messageIndex).toBe(0);
  });

  it('keeps the latest ratchet at the highest decrypted index, whatever the order', () => {
    // decrypt reads the latest ratchet in place at its own index and advances a reused work
    // ratchet otherwise; only a forward success moves the stored one (seen in the pickle).
    const outbound = GroupSession.create();
    const sessionKey = outbound.sessionKey();
    const inbound = InboundGroupSession.fromSessionKey(sessionKey);
    const messages = Array.from({ length: 300 }, (_, i) => outbound.encrypt(`m${i}`));
    const key = new Uint8Array(32);
    const nonce = () => new Uint8Array(16);
    const decryptAt = (i: number) => {
      const { plaintext, messageIndex } = inbound.decrypt(messages[i] as string);
      expect([decoder.decode(plaintext), messageIndex]).toEqual([`m${i}`, i]);
    };
    decryptAt(5);
    const at5 = inbound.pickle(key, nonce);
    for (const i of [5, 3, 0, 5]) decryptAt(i);
    expect(inbound.pickle(key, nonce)).toBe(at5);
    for (const i of [6, 299, 257, 299]) decryptAt(i);
    expect(inbound.exportAt(299)).toBe(
      InboundGroupSession.fromSessionKey(sessionKey).exportAt(299),
    );
    const at299 = inbound.pickle(key, nonce);
    decryptAt(298);
    expect(inbound.pickle(key, nonce)).toBe(at299);
  });

  it('starts an inbound session at the sharing index and cannot read earlier messages', () => {
    const outbound = GroupSession.create();
    const early = outbound.encrypt('before');
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    expect(inbound.firstKnownIndex()).toBe(1);
    const later = outbound.encrypt('after');
    expect(codeOf(() => inbound.decrypt(early))).toBe('unknown-message-index');
    expect(decoder.decode(inbound.decrypt(later).plaintext)).toBe('after');
    expect(inbound.exportAt(0)).toBeUndefined();
  });

  it('exports at any later index; an import decrypts from there on only', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const messages = Array.from({ length: 6 }, (_, i) => outbound.encrypt(`m${i}`));
    inbound.decrypt(messages[5] as string); // moves the cached ratchet past the export point
    const exported = inbound.exportAt(3);
    expect(exported).toBeDefined();
    const imported = InboundGroupSession.importSession(exported as string);
    expect(imported.isVerified()).toBe(false);
    expect(imported.firstKnownIndex()).toBe(3);
    expect(imported.exportAt(3)).toBe(exported);
    expect(imported.exportAt(4)).toBe(inbound.exportAt(4));
    for (const [i, message] of messages.entries()) {
      if (i < 3) expect(codeOf(() => imported.decrypt(message))).toBe('unknown-message-index');
      else expect(decoder.decode(imported.decrypt(message).plaintext)).toBe(`m${i}`);
    }
    expect(imported.isVerified()).toBe(true);
    expect(() => inbound.exportAt(-1)).toThrow(RangeError);
  });
});

describe('round-trip property', () => {
  it('any plaintexts decrypt in any delivery order, from the session key or any export', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 120 }), { minLength: 1, maxLength: 12 }),
        fc.nat(),
        fc.nat(),
        (plaintexts, seed, exportPick) => {
          const outbound = GroupSession.create();
          const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
          const messages = plaintexts.map((p) => outbound.encrypt(p));
          const order = messages
            .map((_, i) => i)
            .sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
          for (const i of order) {
            expect(inbound.decrypt(messages[i] as string)).toEqual({
              plaintext: plaintexts[i],
              messageIndex: i,
            });
          }
          const from = exportPick % messages.length;
          const imported = InboundGroupSession.importSession(inbound.exportAt(from) as string);
          for (const [i, message] of messages.entries()) {
            if (i < from)
              expect(codeOf(() => imported.decrypt(message))).toBe('unknown-message-index');
            else expect(imported.decrypt(message).plaintext).toEqual(plaintexts[i]);
          }
        },
      ),
      { numRuns: 15 },
    );
  });

  it('rejects wrong-typed arguments', () => {
    const key = new Uint8Array(32);
    expect(() => new GroupSession('random' as unknown as RandomSource)).toThrow(TypeError);
    expect(() => GroupSession.create(() => new Uint8Array(10))).toThrow(TypeError);
    expect(() => GroupSession.fromPickle(5 as unknown as string, key)).toThrow(TypeError);
    expect(() => InboundGroupSession.fromPickle('x', new Uint8Array(16))).toThrow(RangeError);
    expect(() => InboundGroupSession.importSession(null as unknown as string)).toThrow(TypeError);
    expect(() => GroupSession.create().pickle(new Uint8Array(3))).toThrow(RangeError);
    const inbound = InboundGroupSession.fromSessionKey(GroupSession.create().sessionKey());
    expect(() => inbound.exportAt(1.5)).toThrow(RangeError);
    expect(() => inbound.exportAt(2 ** 32)).toThrow(RangeError);
  });
});

describe('hostile messages', () => {
  it('rejects a flip of any byte with bad-signature (the signature covers all but itself)', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const bytes = decodeBase64(outbound.encrypt('x'.repeat(40)));
    for (let i = 1; i < bytes.length; i++) {
      const tampered = bytes.slice();
      tampered[i] = (tampered[i] as number) ^ 0x10;
      const code = codeOf(() => inbound.decrypt(encodeBase64(tampered)));
      expect(['bad-signature', 'bad-message-format'], `byte ${i}`).toContain(code);
    }
    const mangledSignature = bytes.slice();
    mangledSignature[bytes.length - 1] = (mangledSignature[bytes.length - 1] as number) ^ 1;
    expect(codeOf(() => inbound.decrypt(encodeBase64(mangledSignature)))).toBe('bad-signature');
  });

  it('with a valid signature, a wrong MAC is bad-mac and wrong padding is bad-padding', () => {
    const known = knownSession();
    const inbound = InboundGroupSession.fromSessionKey(known.session.sessionKey());
    const ratchet = new MegolmRatchet(known.ratchet0.slice(), 0);
    ratchet.advanceTo(4);
    const ct = encryptCbc(
      ratchet.messageKeysInto(new CipherKeysBuffer()),
      new TextEncoder().encode('hello'),
    );
    expect(decoder.decode(inbound.decrypt(forge(known, 4, ct)).plaintext)).toBe('hello');
    expect(codeOf(() => inbound.decrypt(forge(known, 4, ct, { badMac: true })))).toBe('bad-mac');
    // A ciphertext that is not a whole number of blocks, correctly MACed and signed.
    expect(codeOf(() => inbound.decrypt(forge(known, 4, ct.subarray(0, 15))))).toBe('bad-padding');
    // A genuine message moved to another index (re-signed, but its MAC is for index 4).
    const original = decodeBase64(forge(known, 4, ct));
    const moved = fieldsOf(original);
    const { bytes, bodyEnd } = encodeMessage(
      5,
      original.subarray(moved.ciphertextStart, moved.ciphertextEnd),
    );
    bytes.set(original.subarray(moved.bodyEnd, moved.bodyEnd + 8), bodyEnd);
    bytes.set(
      signingKeyFromSeed(known.seed.slice()).sign(bytes.subarray(0, bodyEnd + 8)),
      bodyEnd + 8,
    );
    expect(codeOf(() => inbound.decrypt(encodeBase64(bytes)))).toBe('bad-mac');
  });

  it('leaves no secret in the reused work ratchet, keys or MAC after each call, also on failure', () => {
    const known = knownSession();
    const inbound = InboundGroupSession.fromSessionKey(known.session.sessionKey());
    const messages = Array.from({ length: 4 }, (_, i) => known.session.encrypt(`m${i}`));
    expect(reusedKeysAreWiped()).toBe(true);
    // Ahead of the latest ratchet (the work ratchet advanced from it), at the latest itself,
    // behind it (the work ratchet advanced from the initial one), and three rejections.
    for (const i of [2, 2, 0, 3, 1]) {
      expect(decoder.decode(inbound.decrypt(messages[i] as string).plaintext)).toBe(`m${i}`);
      expect(reusedSecretsAreWiped(), `message ${i}`).toBe(true);
    }
    const ct = new Uint8Array(16);
    for (const [forged, code] of [
      [forge(known, 7, ct, { badMac: true }), 'bad-mac'],
      [forge(known, 3, ct, { badMac: true }), 'bad-mac'],
      [forge(known, 9, ct.subarray(0, 15)), 'bad-padding'],
    ] as const) {
      expect(codeOf(() => inbound.decrypt(forged))).toBe(code);
      expect(reusedSecretsAreWiped(), code).toBe(true);
    }
  });

  it('leaves the session unchanged after any failure', () => {
    const known = knownSession();
    const inbound = InboundGroupSession.fromSessionKey(known.session.sessionKey());
    const messages = Array.from({ length: 3 }, (_, i) => known.session.encrypt(`m${i}`));
    const before = inbound.pickle(new Uint8Array(32), () => new Uint8Array(16));
    // A forged high index with a bad MAC must not move the cached ratchet forward.
    expect(
      codeOf(() => inbound.decrypt(forge(known, 1000, new Uint8Array(16), { badMac: true }))),
    ).toBe('bad-mac');
    expect(codeOf(() => inbound.decrypt(`${messages[0]}A`))).toBeDefined();
    expect(codeOf(() => inbound.decrypt('!!!'))).toBe('bad-base64');
    expect(inbound.pickle(new Uint8Array(32), () => new Uint8Array(16))).toBe(before);
    for (const [i, message] of messages.entries()) {
      expect(decoder.decode(inbound.decrypt(message).plaintext)).toBe(`m${i}`);
    }
  });

  it('rejects truncated, oversized, unknown-version and non-string messages', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const bytes = decodeBase64(outbound.encrypt('payload'));
    for (const length of [0, 1, 10, 72, 73, bytes.length - 1]) {
      const code = codeOf(() => inbound.decrypt(encodeBase64(bytes.subarray(0, length))));
      expect(['bad-message-format', 'bad-signature'], `length ${length}`).toContain(code);
    }
    const oversized = new Uint8Array(bytes.length + 1_000_000);
    oversized.set(bytes);
    expect(['bad-message-format', 'bad-signature']).toContain(
      codeOf(() => inbound.decrypt(encodeBase64(oversized))),
    );
    const versioned = bytes.slice();
    versioned[0] = 4;
    expect(codeOf(() => inbound.decrypt(encodeBase64(versioned)))).toBe('unsupported-version');
    expect(() => inbound.decrypt(42 as unknown as string)).toThrow(TypeError);
    expect(() => outbound.encrypt(42 as unknown as string)).toThrow(TypeError);
  });
});

describe('session keys', () => {
  it('rejects a wrong version, a wrong length, a bad signature and bad base64', () => {
    const key = decodeBase64(GroupSession.create().sessionKey());
    const versioned = key.slice();
    versioned[0] = 1;
    expect(codeOf(() => InboundGroupSession.fromSessionKey(encodeBase64(versioned)))).toBe(
      'unsupported-version',
    );
    expect(
      codeOf(() => InboundGroupSession.fromSessionKey(encodeBase64(key.subarray(0, 228)))),
    ).toBe('bad-key');
    for (const position of [1, 5, 100, 140, 170, 228]) {
      const tampered = key.slice();
      tampered[position] = (tampered[position] as number) ^ 1;
      expect(
        codeOf(() => InboundGroupSession.fromSessionKey(encodeBase64(tampered))),
        `byte ${position}`,
      ).toBe('bad-signature');
    }
    expect(codeOf(() => InboundGroupSession.fromSessionKey('***'))).toBe('bad-base64');
    expect(codeOf(() => InboundGroupSession.importSession(encodeBase64(key)))).toBe(
      'unsupported-version',
    );
    const exported = key.slice(0, 165);
    exported[0] = 1;
    expect(InboundGroupSession.importSession(encodeBase64(exported)).firstKnownIndex()).toBe(0);
    expect(
      codeOf(() => InboundGroupSession.importSession(encodeBase64(exported.subarray(0, 164)))),
    ).toBe('bad-key');
    expect(() => InboundGroupSession.fromSessionKey(7 as unknown as string)).toThrow(TypeError);
  });

  it('the session key carries the current index and ratchet, signed', () => {
    const known = knownSession();
    known.session.encrypt('a');
    known.session.encrypt('b');
    const key = decodeBase64(known.session.sessionKey());
    expect(key.length).toBe(229);
    expect(key[0]).toBe(2);
    expect(new DataView(key.buffer).getUint32(1)).toBe(2);
    const ratchet = new MegolmRatchet(known.ratchet0.slice(), 0);
    ratchet.advanceTo(2);
    expect(key.subarray(5, 133)).toEqual(ratchet.data);
    expect(encodeBase64(key.subarray(133, 165))).toBe(known.session.sessionId());
  });
});

describe('pickles', () => {
  const pickleKey = new Uint8Array(32).fill(0x42);

  it('an outbound session continues identically after a pickle round trip', () => {
    const original = GroupSession.create();
    original.encrypt('one');
    const restored = GroupSession.fromPickle(original.pickle(pickleKey), pickleKey);
    expect(restored.sessionId()).toBe(original.sessionId());
    expect(restored.messageIndex()).toBe(1);
    expect(restored.sessionKey()).toBe(original.sessionKey());
    expect(restored.encrypt('two')).toBe(original.encrypt('two'));
  });

  it('an inbound session keeps its indices, verification and ability to decrypt', () => {
    const outbound = GroupSession.create();
    const messages = Array.from({ length: 4 }, (_, i) => outbound.encrypt(`m${i}`));
    const inbound = InboundGroupSession.importSession(
      InboundGroupSession.fromSessionKey(outbound.sessionKey()).exportAt(4) as string,
    );
    const later = outbound.encrypt('m4');
    const restored = InboundGroupSession.fromPickle(inbound.pickle(pickleKey), pickleKey);
    expect(restored.toJSON()).toEqual(inbound.toJSON());
    expect(codeOf(() => restored.decrypt(messages[3] as string))).toBe('unknown-message-index');
    expect(decoder.decode(restored.decrypt(later).plaintext)).toBe('m4');
  });

  it("refuses a wrong key and the other session type's pickle", () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const wrongKey = new Uint8Array(32);
    expect(codeOf(() => GroupSession.fromPickle(outbound.pickle(pickleKey), wrongKey))).toBe(
      'bad-pickle',
    );
    expect(
      codeOf(() => InboundGroupSession.fromPickle(outbound.pickle(pickleKey), pickleKey)),
    ).toBe('bad-pickle');
    expect(codeOf(() => GroupSession.fromPickle(inbound.pickle(pickleKey), pickleKey))).toBe(
      'bad-pickle',
    );
  });
});

describe('index exhaustion', () => {
  it('sends index 2^32-2, then refuses with session-exhausted (no wrap to 0), also after a pickle', () => {
    const pickleKey = new Uint8Array(randomBytes(32));
    // A session one message before the end, written in the outbound pickle format.
    const near = GroupSession.fromPickle(
      sealPickle(
        'weft.megolm.outbound',
        1,
        {
          ratchet: encodeBase64(new Uint8Array(randomBytes(128))),
          counter: 0xffffffff - 1,
          seed: encodeBase64(new Uint8Array(randomBytes(32))),
        },
        pickleKey,
      ),
      pickleKey,
    );
    const inbound = InboundGroupSession.fromSessionKey(near.sessionKey());
    const last = near.encrypt('last');
    expect(inbound.decrypt(last).messageIndex).toBe(0xffffffff - 1);
    expect(near.messageIndex()).toBe(0xffffffff);
    const exhausted = (session: GroupSession) => {
      let error: unknown;
      try {
        session.encrypt('one too many');
      } catch (caught) {
        error = caught;
      }
      return RatchetError.isInstance(error) && error.code;
    };
    expect(exhausted(near)).toBe('session-exhausted');
    expect(exhausted(near)).toBe('session-exhausted');
    expect(near.messageIndex()).toBe(0xffffffff);
    expect(exhausted(GroupSession.fromPickle(near.pickle(pickleKey), pickleKey))).toBe(
      'session-exhausted',
    );
    // What it sent stays readable.
    expect(new TextDecoder().decode(inbound.decrypt(last).plaintext)).toBe('last');
  });
});

describe('secrets never leak through JSON or inspect', () => {
  it('GroupSession shows only its session ID and index', () => {
    const known = knownSession();
    const expected = { sessionId: known.session.sessionId(), messageIndex: 0 };
    expect(JSON.parse(JSON.stringify(known.session))).toEqual(expected);
    expect(inspect(known.session)).toBe(`GroupSession ${JSON.stringify(expected)}`);
    expect(inspect(known.session, { showHidden: true, depth: 10 })).not.toContain(
      encodeBase64(known.seed),
    );
    expect(Object.keys(known.session)).toEqual([]);
  });

  it('InboundGroupSession shows only its session ID, first index and verification', () => {
    const known = knownSession();
    const inbound = InboundGroupSession.fromSessionKey(known.session.sessionKey());
    const expected = { sessionId: known.session.sessionId(), firstKnownIndex: 0, verified: true };
    expect(JSON.parse(JSON.stringify(inbound))).toEqual(expected);
    expect(inspect(inbound)).toBe(`InboundGroupSession ${JSON.stringify(expected)}`);
    expect(Object.keys(inbound)).toEqual([]);
  });

  it('zeroes the random buffer it was created from', () => {
    let handedOut = new Uint8Array(0);
    GroupSession.create((n) => {
      handedOut = Uint8Array.from(randomBytes(n));
      return handedOut;
    });
    expect(handedOut.length).toBe(160);
    expect(handedOut.every((b) => b === 0)).toBe(true);
  });

  it('is unusable after free()', () => {
    const outbound = GroupSession.create();
    const inbound = InboundGroupSession.fromSessionKey(outbound.sessionKey());
    const message = outbound.encrypt('x');
    outbound.free();
    inbound.free();
    expect(() => outbound.sessionKey()).toThrow(/freed/);
    expect(() => outbound.encrypt('y')).toThrow(/freed/);
    expect(() => outbound.pickle(new Uint8Array(32))).toThrow(/freed/);
    expect(() => inbound.decrypt(message)).toThrow(/freed/);
    expect(() => inbound.exportAt(1)).toThrow(/freed/);
    expect(() => inbound.pickle(new Uint8Array(32))).toThrow(/freed/);
  });
});

it('forged test messages are well-formed', () => {
  const known = knownSession();
  expect(fieldsOf(decodeBase64(forge(known, 9, new Uint8Array(16)))).messageIndex).toBe(9);
});
