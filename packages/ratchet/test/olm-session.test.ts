// Olm sessions: the protocol steps of https://spec.matrix.org/v1.19/olm-megolm/olm/ exercised
// between two Weft sessions, including every rejection path (state must be unchanged after one).
import { describe, expect, it } from 'vitest';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { type OlmMessage, RatchetError, Session } from '../src/index.ts';
import {
  MAX_RECEIVER_CHAINS,
  MAX_SKIPPED_MESSAGE_KEYS,
  reusedKeysAreWiped,
} from '../src/olm/double-ratchet.ts';
import { decodeNormalMessage } from '../src/olm/messages.ts';
import { openPickle, sealPickle } from '../src/pickle.ts';
import { connectedPair, PICKLE_KEY, stablePickleRandom } from './olm-helpers.ts';

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** The parts of a Weft session pickle's payload the tests below edit. */
interface EditablePayload {
  sender: { index: number };
  receivers: unknown[];
  skipped: unknown[];
}

/** Re-seals a Weft session pickle with its JSON payload edited (the package's own sealing). */
function editedPickle(pickle: string, edit: (payload: EditablePayload) => void): string {
  const { version, payload } = openPickle('weft.olm.session', pickle, PICKLE_KEY);
  const copy = structuredClone(payload) as EditablePayload;
  edit(copy);
  return sealPickle('weft.olm.session', version, copy, PICKLE_KEY);
}

function rejects(fn: () => unknown, code: string) {
  try {
    fn();
  } catch (error) {
    expect(RatchetError.isInstance(error)).toBe(true);
    expect((error as RatchetError).code).toBe(code);
    return;
  }
  throw new Error(`expected RatchetError(${code})`);
}

function mutate(message: OlmMessage, change: (bytes: Uint8Array) => Uint8Array): OlmMessage {
  return { type: message.type, body: encodeBase64(change(decodeBase64(message.body))) };
}

/** Rejects `bad`, proves the pickle (the whole state) is unchanged, then still accepts `good`. */
function rejectsWithoutChange(
  session: Session,
  bad: OlmMessage,
  code: string,
  good: OlmMessage,
  plaintext: string,
) {
  const before = session.pickle(PICKLE_KEY);
  rejects(() => session.decrypt(bad), code);
  expect(session.pickle(PICKLE_KEY)).toBe(before);
  expect(text(session.decrypt(good))).toBe(plaintext);
}

describe('Session', () => {
  it('both ends share the session ID and Alice sends pre-key messages until Bob replies', () => {
    const { alice, bob } = connectedPair();
    expect(alice.sessionId()).toBe(bob.sessionId());
    expect(decodeBase64(alice.sessionId())).toHaveLength(32);
    expect(alice.encrypt('again').type).toBe(0);
    expect(bob.hasReceivedMessage()).toBe(true);
    const reply = bob.encrypt('reply');
    expect(reply.type).toBe(1);
    expect(text(alice.decrypt(reply))).toBe('reply');
    expect(alice.encrypt('now normal').type).toBe(1);
  });

  it('encrypts bytes and strings alike, including empty plaintexts', () => {
    const { alice, bob } = connectedPair();
    expect(bob.decrypt(alice.encrypt(new Uint8Array([0, 255, 1])))).toEqual(
      new Uint8Array([0, 255, 1]),
    );
    expect(bob.decrypt(alice.encrypt(''))).toEqual(new Uint8Array());
  });

  it('rejects a tampered ciphertext, MAC or ratchet key with bad-mac and keeps its state', () => {
    const { alice, bob } = connectedPair();
    const reply = bob.encrypt('reply');
    alice.decrypt(reply);
    const message = alice.encrypt('secret');
    const bytes = decodeBase64(message.body);
    // Every byte after the version: flipping it must never decrypt.
    for (let i = 1; i < bytes.length; i++) {
      const bad = mutate(message, (b) => {
        b[i] = (b[i] as number) ^ 0x01;
        return b;
      });
      const before = bob.pickle(PICKLE_KEY);
      expect(() => bob.decrypt(bad)).toThrow(RatchetError);
      expect(bob.pickle(PICKLE_KEY)).toBe(before);
    }
    const lastByte = mutate(message, (b) => {
      b[b.length - 1] = (b[b.length - 1] as number) ^ 0x80;
      return b;
    });
    rejectsWithoutChange(bob, lastByte, 'bad-mac', message, 'secret');
  });

  it('rejects truncated, oversized and wrongly versioned messages with typed errors', () => {
    const { alice, bob } = connectedPair();
    bob.decrypt(alice.encrypt('x'));
    alice.decrypt(bob.encrypt('y'));
    const message = alice.encrypt('payload');
    const bytes = decodeBase64(message.body);
    for (let length = 0; length < bytes.length; length++) {
      const before = bob.pickle(PICKLE_KEY);
      expect(() => bob.decrypt({ type: 1, body: encodeBase64(bytes.subarray(0, length)) })).toThrow(
        RatchetError,
      );
      expect(bob.pickle(PICKLE_KEY)).toBe(before);
    }
    rejects(() => bob.decrypt({ type: 1, body: '' }), 'bad-message-format');
    // Trailing bytes shift the MAC window: never accepted.
    const longer = mutate(message, (b) => Uint8Array.of(...b, 0, 0, 0));
    expect(() => bob.decrypt(longer)).toThrow(RatchetError);
    // A field length far beyond the message.
    const huge = Uint8Array.of(3, 0x0a, 0xff, 0xff, 0xff, 0x0f, ...new Uint8Array(16));
    rejects(() => bob.decrypt({ type: 1, body: encodeBase64(huge) }), 'bad-message-format');
    const v4 = mutate(message, (b) => {
      b[0] = 4;
      return b;
    });
    rejectsWithoutChange(bob, v4, 'unsupported-version', message, 'payload');
    rejects(() => bob.decrypt({ type: 1, body: '!!!' }), 'bad-base64');
  });

  it('stores copies of ratchet keys read from the shared inbound buffer, never views of it', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    // Alice's next messages carry a new ratchet key: Bob's decrypt of the second stores it
    // twice (a new receiver chain, and the skipped key of the first), read from the buffer
    // every inbound message is decoded into.
    const [first, second, third] = ['m0', 'm1', 'm2'].map((m) => alice.encrypt(m)) as [
      OlmMessage,
      OlmMessage,
      OlmMessage,
    ];
    expect(text(bob.decrypt(second))).toBe('m1');
    const before = bob.pickle(PICKLE_KEY);
    // A message with every byte of its ratchet key (bytes 3..34) changed, decoded into the same
    // buffer: a stored view would now read these bytes.
    const other = mutate(third, (bytes) => {
      for (let i = 3; i < 35; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
      return bytes;
    });
    expect(() => bob.decrypt(other)).toThrow();
    expect(bob.pickle(PICKLE_KEY)).toBe(before);
    expect(text(bob.decrypt(first))).toBe('m0');
    expect(text(bob.decrypt(third))).toBe('m2');
  });

  it('leaves no key in its reused buffers after each call, also when a message is rejected', () => {
    const { alice, bob } = connectedPair();
    const message = alice.encrypt('one');
    expect(reusedKeysAreWiped()).toBe(true);
    const badMac = mutate(message, (bytes) => {
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
      return bytes;
    });
    expect(() => bob.decrypt(badMac)).toThrow(RatchetError);
    expect(reusedKeysAreWiped()).toBe(true);
    expect(text(bob.decrypt(message))).toBe('one');
    expect(reusedKeysAreWiped()).toBe(true);
    // A reply (new ratchet key, a new chain) and out-of-order delivery (a skipped key).
    alice.decrypt(bob.encrypt('two'));
    expect(reusedKeysAreWiped()).toBe(true);
    const [late, early] = [alice.encrypt('three'), alice.encrypt('four')];
    expect(text(bob.decrypt(early))).toBe('four');
    expect(text(bob.decrypt(late))).toBe('three');
    expect(reusedKeysAreWiped()).toBe(true);
  });

  it('refuses a replayed message (its key is used up)', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    const message = alice.encrypt('once');
    expect(text(bob.decrypt(message))).toBe('once');
    rejects(() => bob.decrypt(message), 'unknown-message-index');
  });

  it('decrypts out of order from skipped keys, keeping only the newest 40', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    const messages = Array.from({ length: 60 }, (_, i) => alice.encrypt(`m${i}`));
    const last = messages[59] as OlmMessage;
    expect(text(bob.decrypt(last))).toBe('m59');
    // Keys 19..58 were kept; 0..18 were dropped.
    expect(text(bob.decrypt(messages[19] as OlmMessage))).toBe('m19');
    expect(text(bob.decrypt(messages[58] as OlmMessage))).toBe('m58');
    rejects(() => bob.decrypt(messages[18] as OlmMessage), 'unknown-message-index');
    rejects(() => bob.decrypt(messages[0] as OlmMessage), 'unknown-message-index');
  });

  it('enforces the 2,000-message gap limit without changing state', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    const messages = Array.from({ length: 2002 }, (_, i) => alice.encrypt(`m${i}`));
    const tooFar = messages[2001] as OlmMessage;
    const before = bob.pickle(PICKLE_KEY);
    rejects(() => bob.decrypt(tooFar), 'too-many-skipped-keys');
    expect(bob.pickle(PICKLE_KEY)).toBe(before);
    expect(text(bob.decrypt(messages[2000] as OlmMessage))).toBe('m2000');
    expect(text(bob.decrypt(messages[2001] as OlmMessage))).toBe('m2001');
  });

  it('decrypts a delayed message from an older chain after ratchet steps', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r0'));
    const delayed = alice.encrypt('delayed');
    const sibling = alice.encrypt('sibling');
    expect(text(bob.decrypt(sibling))).toBe('sibling');
    for (let round = 0; round < 3; round++) {
      alice.decrypt(bob.encrypt(`b${round}`));
      bob.decrypt(alice.encrypt(`a${round}`));
    }
    expect(text(bob.decrypt(delayed))).toBe('delayed');
  });

  it('forgets receiver chains beyond the newest five', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r0'));
    const stale = alice.encrypt('stale'); // chain 0 at index 1; never delivered, no skipped key
    bob.decrypt(alice.encrypt('x'));
    for (let round = 0; round < 6; round++) {
      alice.decrypt(bob.encrypt(`b${round}`));
      bob.decrypt(alice.encrypt(`a${round}`));
    }
    const before = bob.pickle(PICKLE_KEY);
    expect(() => bob.decrypt(stale)).toThrow(RatchetError);
    expect(bob.pickle(PICKLE_KEY)).toBe(before);
  });

  it('rejects a pre-key message of another session with session-mismatch', () => {
    const one = connectedPair();
    const two = connectedPair();
    const foreign = two.alice.encrypt('not yours');
    rejectsWithoutChange(one.bob, foreign, 'session-mismatch', one.alice.encrypt('mine'), 'mine');
    expect(one.bob.matchesInboundSession(foreign.body)).toBe(false);
    expect(one.bob.matchesInboundSession(one.alice.encrypt('m').body)).toBe(true);
    expect(one.bob.matchesInboundSession('garbage!')).toBe(false);
  });

  it('pickles and restores mid-conversation; a wrong key or kind is bad-pickle', () => {
    const { alice, bob, aliceAccount } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    const skipped = alice.encrypt('skipped');
    bob.decrypt(alice.encrypt('after'));
    const restored = Session.fromPickle(bob.pickle(PICKLE_KEY), PICKLE_KEY);
    expect(restored.sessionId()).toBe(bob.sessionId());
    expect(restored.hasReceivedMessage()).toBe(true);
    expect(text(restored.decrypt(skipped))).toBe('skipped');
    expect(text(alice.decrypt(restored.encrypt('from restored')))).toBe('from restored');
    rejects(() => Session.fromPickle(bob.pickle(PICKLE_KEY), new Uint8Array(32)), 'bad-pickle');
    rejects(() => Session.fromPickle(aliceAccount.pickle(PICKLE_KEY), PICKLE_KEY), 'bad-pickle');
  });

  it('sends up to index 2^32-2, then refuses with session-exhausted without changing state', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('reply')); // Alice now sends normal messages on her own chain.
    bob.decrypt(alice.encrypt('first on the chain'));
    const senderAt = (index: number) =>
      Session.fromPickle(
        editedPickle(alice.pickle(PICKLE_KEY), (payload) => {
          payload.sender.index = index;
        }),
        PICKLE_KEY,
        stablePickleRandom,
      );
    // Index 2^32-2 is still sent, and its counter decodes.
    const last = senderAt(0xffffffff - 1);
    const lastMessage = last.encrypt('last');
    expect(decodeNormalMessage(decodeBase64(lastMessage.body)).counter).toBe(0xffffffff - 1);
    // It now sits at 2^32-1 and still pickles and restores.
    const exhausted = Session.fromPickle(last.pickle(PICKLE_KEY), PICKLE_KEY, stablePickleRandom);
    for (const session of [last, exhausted, senderAt(0xffffffff)]) {
      const before = session.pickle(PICKLE_KEY);
      rejects(() => session.encrypt('one too many'), 'session-exhausted');
      rejects(() => session.encrypt('still too many'), 'session-exhausted');
      expect(session.pickle(PICKLE_KEY)).toBe(before);
    }
    // A message on the peer's next ratchet key starts a fresh sending chain at index 0.
    exhausted.decrypt(bob.encrypt('new ratchet key'));
    expect(text(bob.decrypt(exhausted.encrypt('fresh chain')))).toBe('fresh chain');
  });

  it('refuses a pickle with more receiver chains or skipped keys than the ratchet keeps', () => {
    const { alice, bob } = connectedPair();
    alice.decrypt(bob.encrypt('r'));
    alice.encrypt('skipped');
    bob.decrypt(alice.encrypt('after')); // Bob: one receiver chain, one skipped key.
    const pickle = bob.pickle(PICKLE_KEY);
    const repeat = (list: unknown[], length: number) => Array.from({ length }, () => list[0]);
    const withLists = (receivers: number, skipped: number) =>
      editedPickle(pickle, (payload) => {
        payload.receivers = repeat(payload.receivers, receivers);
        payload.skipped = repeat(payload.skipped, skipped);
      });
    // At the limits the pickle restores.
    expect(
      Session.fromPickle(
        withLists(MAX_RECEIVER_CHAINS, MAX_SKIPPED_MESSAGE_KEYS),
        PICKLE_KEY,
      ).sessionId(),
    ).toBe(bob.sessionId());
    rejects(
      () => Session.fromPickle(withLists(MAX_RECEIVER_CHAINS + 1, 1), PICKLE_KEY),
      'bad-pickle',
    );
    rejects(
      () => Session.fromPickle(withLists(1, MAX_SKIPPED_MESSAGE_KEYS + 1), PICKLE_KEY),
      'bad-pickle',
    );
    rejects(() => Session.fromPickle(withLists(1, 10_000), PICKLE_KEY), 'bad-pickle');
  });

  it('throws TypeError on wrongly typed arguments and after free()', () => {
    const { alice, bob } = connectedPair();
    expect(() => alice.encrypt(42 as unknown as string)).toThrow(TypeError);
    expect(() => bob.decrypt({ type: 2, body: '' } as unknown as OlmMessage)).toThrow(TypeError);
    expect(() => bob.decrypt(null as unknown as OlmMessage)).toThrow(TypeError);
    expect(() => bob.decrypt({ type: 1, body: 5 } as unknown as OlmMessage)).toThrow(TypeError);
    expect(() => bob.matchesInboundSession(7 as unknown as string)).toThrow(TypeError);
    alice.free();
    expect(() => alice.encrypt('x')).toThrow(TypeError);
  });
});
