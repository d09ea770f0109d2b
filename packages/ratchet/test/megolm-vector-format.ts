/**
 * The Megolm vector format for `../shared/vectors/olm-megolm-generated.json` (`kind: "megolm"`
 * cases, made by libolm 3.2.13 through python3-olm with a recorded random stream). Registered in
 * `vector-formats.ts`. Each case replays libolm's randomness into a Weft `GroupSession` and
 * requires libolm's session ID, session keys and every ciphertext byte for byte, then decrypts
 * libolm's messages from the session key and from each export.
 */
import assert from 'node:assert/strict';

import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

import { decodeBase64, encodeBase64 } from '../src/base64.ts';
import { RatchetError } from '../src/errors.ts';
import { GroupSession, InboundGroupSession } from '../src/index.ts';
import { openLibolmPickle } from '../src/pickle.ts';
import type { RandomSource } from '../src/random.ts';

interface MegolmVector {
  name: string;
  kind: 'megolm';
  random_calls: string[];
  ratchet_initial_R0: string;
  ed25519_seed: string;
  session_id: string;
  session_key: string;
  session_key_after_all_messages: { index: number; key: string };
  messages: { message_index: number; ciphertext: string; plaintext: string }[];
  exports: {
    first_known_index: number;
    exported_session_key: string;
    undecryptable_indices: number[];
  }[];
  pickle_passphrase: string;
  outbound_pickle: { pickle: string; decrypted_plaintext_b64: string };
}

function isMegolmVector(value: unknown): value is MegolmVector {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<MegolmVector>;
  return v.kind === 'megolm' && Array.isArray(v.random_calls) && Array.isArray(v.messages);
}

/** Serves the recorded buffers as one byte stream, whatever the request sizes. */
function replay(buffers: readonly string[]): { random: RandomSource; remaining: () => number } {
  const stream = Uint8Array.from(buffers.flatMap((b) => [...decodeBase64(b)]));
  let offset = 0;
  return {
    random: (length) => {
      assert.ok(offset + length <= stream.length, 'random stream exhausted');
      offset += length;
      return stream.slice(offset - length, offset);
    },
    remaining: () => stream.length - offset,
  };
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function outboundCase(vector: MegolmVector): VectorCase {
  return {
    name: `${vector.name} outbound session reproduced byte for byte`,
    run: () => {
      const stream = replay(vector.random_calls);
      const session = new GroupSession(stream.random);
      assert.equal(stream.remaining(), 0, 'exactly the recorded randomness consumed');
      // libolm's one buffer is the initial ratchet followed by the Ed25519 seed.
      const recorded = decodeBase64(vector.random_calls.join(''));
      assert.deepEqual(recorded.subarray(0, 128), decodeBase64(vector.ratchet_initial_R0));
      assert.deepEqual(recorded.subarray(128), decodeBase64(vector.ed25519_seed));

      assert.equal(session.sessionId(), vector.session_id);
      assert.equal(session.messageIndex(), 0);
      assert.equal(session.sessionKey(), vector.session_key);
      for (const message of vector.messages) {
        assert.equal(session.messageIndex(), message.message_index);
        assert.equal(
          session.encrypt(message.plaintext),
          message.ciphertext,
          `index ${message.message_index}`,
        );
      }
      assert.equal(session.messageIndex(), vector.session_key_after_all_messages.index);
      assert.equal(session.sessionKey(), vector.session_key_after_all_messages.key);
    },
  };
}

function inboundCase(vector: MegolmVector): VectorCase {
  return {
    name: `${vector.name} libolm messages decrypted from the session key`,
    run: () => {
      const inbound = InboundGroupSession.fromSessionKey(vector.session_key);
      assert.equal(inbound.sessionId(), vector.session_id);
      assert.equal(inbound.firstKnownIndex(), 0);
      // Out of order first (from the initial ratchet), then in order (from the cached one).
      for (const message of [...vector.messages].reverse().concat(vector.messages)) {
        const { plaintext, messageIndex } = inbound.decrypt(message.ciphertext);
        assert.equal(messageIndex, message.message_index);
        assert.equal(decoder.decode(plaintext), message.plaintext);
      }
    },
  };
}

function exportCases(vector: MegolmVector): VectorCase[] {
  return vector.exports.map((entry) => ({
    name: `${vector.name} export at index ${entry.first_known_index}`,
    run: () => {
      const inbound = InboundGroupSession.fromSessionKey(vector.session_key);
      assert.equal(inbound.exportAt(entry.first_known_index), entry.exported_session_key);
      const imported = InboundGroupSession.importSession(entry.exported_session_key);
      assert.equal(imported.sessionId(), vector.session_id);
      assert.equal(imported.firstKnownIndex(), entry.first_known_index);
      assert.equal(imported.exportAt(entry.first_known_index), entry.exported_session_key);
      for (const message of vector.messages) {
        if (entry.undecryptable_indices.includes(message.message_index)) {
          assert.throws(
            () => imported.decrypt(message.ciphertext),
            (e: unknown) => RatchetError.isInstance(e) && e.code === 'unknown-message-index',
          );
          assert.equal(imported.exportAt(message.message_index), undefined);
        } else {
          const { plaintext, messageIndex } = imported.decrypt(message.ciphertext);
          assert.equal(messageIndex, message.message_index);
          assert.equal(decoder.decode(plaintext), message.plaintext);
        }
      }
    },
  }));
}

function libolmPickleCase(vector: MegolmVector): VectorCase {
  return {
    name: `${vector.name} libolm outbound pickle read and continued`,
    run: () => {
      const passphrase = new TextEncoder().encode(vector.pickle_passphrase);
      const raw = openLibolmPickle(vector.outbound_pickle.pickle, passphrase);
      assert.equal(encodeBase64(raw), vector.outbound_pickle.decrypted_plaintext_b64);
      const session = GroupSession.fromLibolmPickle(
        vector.outbound_pickle.pickle,
        vector.pickle_passphrase,
      );
      assert.equal(session.sessionId(), vector.session_id);
      assert.equal(session.messageIndex(), vector.session_key_after_all_messages.index);
      // Signed with the expanded key libolm stored: byte-identical to libolm's own session key.
      assert.equal(session.sessionKey(), vector.session_key_after_all_messages.key);
      assert.throws(
        () => GroupSession.fromLibolmPickle(vector.outbound_pickle.pickle, 'wrong passphrase'),
        (e: unknown) => RatchetError.isInstance(e) && e.code === 'bad-pickle',
      );
    },
  };
}

/** Megolm: outbound and inbound group sessions (`kind: "megolm"` cases). */
export const megolmFormat: VectorFormat = {
  name: 'megolm-libolm',
  detect: (file: VectorFile) => (file.cases ?? []).some(isMegolmVector),
  cases: (file: VectorFile) =>
    (file.cases ?? [])
      .filter(isMegolmVector)
      .flatMap((vector) => [
        outboundCase(vector),
        inboundCase(vector),
        ...exportCases(vector),
        libolmPickleCase(vector),
      ]),
};
