/**
 * Vector formats of @weft/ratchet for `../shared/vectors/olm-megolm-generated.json` (made by
 * libolm 3.2.13 through python3-olm with a recorded random stream; format in
 * ../shared/vectors/README.md). Each case replays libolm's randomness into Weft and requires
 * libolm's keys, session IDs and ciphertexts byte for byte, and decrypts libolm's messages.
 */
import assert from 'node:assert/strict';

import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

import { decodeBase64 } from '../src/base64.ts';
import { Account, type OlmMessage, Session } from '../src/index.ts';
import { openLibolmPickle } from '../src/pickle.ts';
import { megolmFormat } from './megolm-vector-format.ts';
import { recordedRandom } from './olm-recorded-random.ts';

interface OlmParty {
  random: string;
  ed25519_seed: string;
  curve25519_private: string;
  identity_keys: { curve25519: string; ed25519: string };
}

interface OlmVectorMessage {
  sender: 'alice' | 'bob';
  message_type: 0 | 1;
  ciphertext: string;
  plaintext: string;
  random_consumed?: string[];
}

interface OlmVector {
  name: string;
  kind: 'olm';
  random_calls: string[];
  alice: OlmParty;
  bob: OlmParty;
  bob_one_time_key: { key_id: string; public: string; private: string };
  outbound_session_random: { base_key_private: string; ratchet_key_private: string };
  session_id: string;
  messages: OlmVectorMessage[];
  pickle_passphrase: string;
  pickles: Record<string, { pickle: string; decrypted_plaintext_b64: string }>;
}

function isOlmVector(value: unknown): value is OlmVector {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<OlmVector>;
  return v.kind === 'olm' && Array.isArray(v.random_calls) && Array.isArray(v.messages);
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Identity keys come from the recorded seeds: Ed25519 seed, then Curve25519 private key. */
function identityCase(vector: OlmVector): VectorCase {
  return {
    name: `${vector.name} identity keys from libolm's account randomness`,
    run: () => {
      for (const party of [vector.alice, vector.bob]) {
        const seed = decodeBase64(party.ed25519_seed);
        const curve = decodeBase64(party.curve25519_private);
        assert.deepEqual(concat(seed, curve), decodeBase64(party.random));
        const account = Account.create(recordedRandom([decodeBase64(party.random)]).random);
        assert.deepEqual(account.identityKeys(), party.identity_keys);
      }
    },
  };
}

/**
 * The whole exchange replayed from libolm's random stream: both accounts, Bob's one-time keys,
 * Alice's outbound session, then every message encrypted by its sender (must equal libolm's
 * ciphertext) and decrypted by its receiver (must equal the plaintext).
 */
function exchangeCase(vector: OlmVector): VectorCase {
  return {
    name: `${vector.name} exchange reproduced byte for byte`,
    run: () => {
      const stream = recordedRandom(vector.random_calls.map(decodeBase64));
      const alice = Account.create(stream.random);
      const bob = Account.create(stream.random);
      assert.deepEqual(alice.identityKeys(), vector.alice.identity_keys);
      assert.deepEqual(bob.identityKeys(), vector.bob.identity_keys);

      // libolm handed Bob one 64-byte buffer: two one-time keys, the first of which Alice uses.
      const otkBuffer = vector.random_calls.map(decodeBase64)[2];
      assert.ok(otkBuffer !== undefined);
      bob.generateOneTimeKeys(otkBuffer.length / 32);
      assert.equal(
        bob.oneTimeKeys()[vector.bob_one_time_key.key_id],
        vector.bob_one_time_key.public,
      );
      assert.deepEqual(decodeBase64(vector.bob_one_time_key.private), otkBuffer.subarray(0, 32));

      const aliceSession = alice.createOutboundSession(
        vector.bob.identity_keys.curve25519,
        vector.bob_one_time_key.public,
      );
      assert.equal(aliceSession.sessionId(), vector.session_id);
      let bobSession: Session | undefined;

      for (const [i, message] of vector.messages.entries()) {
        const sending = message.sender === 'alice' ? aliceSession : bobSession;
        assert.ok(sending !== undefined, `message ${i}: sender has a session`);
        const encrypted = sending.encrypt(message.plaintext);
        assert.deepEqual(
          encrypted,
          { type: message.message_type, body: message.ciphertext },
          `message ${i}`,
        );

        const libolmMessage: OlmMessage = { type: message.message_type, body: message.ciphertext };
        let plaintext: Uint8Array;
        if (message.sender === 'alice' && bobSession === undefined) {
          const created = bob.createInboundSession(
            vector.alice.identity_keys.curve25519,
            message.ciphertext,
          );
          bobSession = created.session;
          plaintext = created.plaintext;
          assert.equal(bobSession.sessionId(), vector.session_id);
          assert.equal(
            bob.oneTimeKeys()[vector.bob_one_time_key.key_id],
            undefined,
            'used key removed',
          );
        } else {
          const receiving = message.sender === 'alice' ? bobSession : aliceSession;
          assert.ok(receiving !== undefined);
          plaintext = receiving.decrypt(libolmMessage);
        }
        assert.equal(decoder.decode(plaintext), message.plaintext, `message ${i} plaintext`);
      }
      assert.equal(stream.remaining(), 0, 'every recorded random buffer consumed');
    },
  };
}

/**
 * libolm's own pickles (taken after the exchange) open to their recorded plaintext and import
 * into Weft: same identity keys and one-time keys, same signatures (Ed25519 is deterministic),
 * and the imported sessions keep talking to each other.
 */
function libolmPickleCase(vector: OlmVector): VectorCase {
  return {
    name: `${vector.name} libolm pickles import`,
    run: () => {
      const pickles = vector.pickles;
      const get = (name: string) => {
        const entry = pickles[name];
        assert.ok(entry !== undefined, `pickle ${name} present`);
        return entry;
      };
      for (const name of Object.keys(pickles)) {
        const entry = get(name);
        assert.deepEqual(
          openLibolmPickle(entry.pickle, vector.pickle_passphrase),
          decodeBase64(entry.decrypted_plaintext_b64),
          name,
        );
      }
      const alice = Account.fromLibolmPickle(get('alice_account').pickle, vector.pickle_passphrase);
      const bob = Account.fromLibolmPickle(get('bob_account').pickle, vector.pickle_passphrase);
      assert.deepEqual(alice.identityKeys(), vector.alice.identity_keys);
      assert.deepEqual(bob.identityKeys(), vector.bob.identity_keys);
      const fromSeed = Account.create(recordedRandom([decodeBase64(vector.alice.random)]).random);
      assert.equal(alice.sign('signed by both'), fromSeed.sign('signed by both'));
      // Bob's second one-time key is still unused (the first one was consumed by the session).
      assert.equal(Object.keys(bob.oneTimeKeys()).includes(vector.bob_one_time_key.key_id), false);
      assert.equal(Object.keys(bob.oneTimeKeys()).length, 1);

      const aliceSession = Session.fromLibolmPickle(
        get('alice_session').pickle,
        vector.pickle_passphrase,
      );
      const bobSession = Session.fromLibolmPickle(
        get('bob_session').pickle,
        vector.pickle_passphrase,
      );
      assert.equal(aliceSession.sessionId(), vector.session_id);
      assert.equal(bobSession.sessionId(), vector.session_id);
      const onward = aliceSession.encrypt('after import');
      assert.equal(onward.type, 1);
      assert.equal(decoder.decode(bobSession.decrypt(onward)), 'after import');
      assert.equal(decoder.decode(aliceSession.decrypt(bobSession.encrypt('reply'))), 'reply');
    },
  };
}

/** Olm: accounts, sessions and messages (`kind: "olm"` cases). */
const olmFormat: VectorFormat = {
  name: 'olm-libolm',
  detect: (file: VectorFile) => (file.cases ?? []).some(isOlmVector),
  cases: (file: VectorFile) =>
    (file.cases ?? [])
      .filter(isOlmVector)
      .flatMap((vector) => [identityCase(vector), exchangeCase(vector), libolmPickleCase(vector)]),
};

export const formats: VectorFormat[] = [olmFormat, megolmFormat];
