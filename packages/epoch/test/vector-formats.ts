/**
 * Vector formats @weft/epoch checks (`npm run vectors -- <file>` discovers this file).
 *
 * `epoch-megolm-keys`: the `kind: "megolm"` cases of `olm-megolm-generated.json` (libolm 3.2.13
 * through python3-olm). Each libolm session reaches a Weft `RoomKeyReceiver` (over
 * `ratchetMegolm`) the way a room key does — as `m.room_key` with the signed session key, and as
 * `m.forwarded_room_key` with each export — and every message must decrypt to libolm's plaintext,
 * except those before an export's first index. A third case replays the messages in a
 * `forward-secret` room and requires each to be unreadable right after it was read.
 */
import assert from 'node:assert/strict';

import {
  EpochError,
  type OlmPlaintext,
  RoomKeyReceiver,
  type RoomPolicy,
  ratchetMegolm,
} from '@weft/epoch';
import type { VectorCase, VectorFile, VectorFormat } from '@weft/test-vectors';

import { MemoryKeyStore } from './memory-store.ts';

interface MegolmVector {
  name: string;
  kind: 'megolm';
  session_id: string;
  session_key: string;
  messages: { message_index: number; ciphertext: string; plaintext: string }[];
  exports: {
    first_known_index: number;
    exported_session_key: string;
    undecryptable_indices: number[];
  }[];
}

function isMegolmVector(value: unknown): value is MegolmVector {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<MegolmVector>;
  return (
    v.kind === 'megolm' &&
    typeof v.session_key === 'string' &&
    typeof v.session_id === 'string' &&
    Array.isArray(v.messages) &&
    Array.isArray(v.exports)
  );
}

/** The libolm side plays the session's creator: its Olm identity as the receiver would see it. */
const CREATOR = { curve25519: 'libolmCreatorCurve25519', ed25519: 'libolmCreatorEd25519' };
const ME = {
  userId: '@weft:example.org',
  deviceId: 'WEFT',
  curve25519: 'weftCurve25519',
  ed25519: 'weftEd25519',
};

function receiver(policy: RoomPolicy) {
  const store = new MemoryKeyStore();
  return {
    store,
    receiver: new RoomKeyReceiver({
      own: ME,
      megolm: ratchetMegolm,
      store,
      policyFor: () => policy,
    }),
  };
}

function wrap(type: string, content: Record<string, unknown>): OlmPlaintext {
  return {
    type,
    content,
    sender: '@libolm:example.org',
    recipient: ME.userId,
    recipient_keys: { ed25519: ME.ed25519 },
    keys: { ed25519: CREATOR.ed25519 },
  };
}

function roomOf(vector: MegolmVector): string {
  const first = vector.messages[0];
  assert.ok(first, 'a megolm vector has messages');
  const roomId = (JSON.parse(first.plaintext) as { room_id?: unknown }).room_id;
  assert.equal(typeof roomId, 'string', 'the Megolm plaintext carries room_id');
  return roomId as string;
}

function encrypted(vector: MegolmVector, ciphertext: string) {
  return {
    algorithm: 'm.megolm.v1.aes-sha2',
    sender_key: CREATOR.curve25519,
    device_id: 'LIBOLM',
    session_id: vector.session_id,
    ciphertext,
  };
}

async function expectMessage(
  r: RoomKeyReceiver,
  vector: MegolmVector,
  roomId: string,
  index: number,
) {
  const message = vector.messages[index];
  assert.ok(message);
  const decrypted = await r.decrypt(roomId, encrypted(vector, message.ciphertext));
  const expected = JSON.parse(message.plaintext) as { type: string; content: unknown };
  assert.equal(decrypted.messageIndex, message.message_index);
  assert.equal(decrypted.type, expected.type);
  assert.deepEqual(decrypted.content, expected.content);
}

async function expectUnreadable(
  r: RoomKeyReceiver,
  vector: MegolmVector,
  roomId: string,
  index: number,
) {
  const message = vector.messages[index];
  assert.ok(message);
  await assert.rejects(r.decrypt(roomId, encrypted(vector, message.ciphertext)), (e) => {
    assert.ok(EpochError.isInstance(e), `expected EpochError, got ${String(e)}`);
    assert.ok(e.code === 'decrypt-failed' || e.code === 'unknown-session', `code ${e.code}`);
    return true;
  });
}

function casesOf(vector: MegolmVector): VectorCase[] {
  const cases: VectorCase[] = [
    {
      name: `${vector.name} m.room_key`,
      async run() {
        const roomId = roomOf(vector);
        const { receiver: r } = receiver({ mode: 'epoch' });
        const content = {
          algorithm: 'm.megolm.v1.aes-sha2',
          room_id: roomId,
          session_id: vector.session_id,
          session_key: vector.session_key,
        };
        assert.equal(await r.receiveKey(wrap('m.room_key', content), CREATOR.curve25519), 'stored');
        for (const [i] of vector.messages.entries()) await expectMessage(r, vector, roomId, i);
      },
    },
    {
      name: `${vector.name} forward-secret room ratchets past each read message`,
      async run() {
        const roomId = roomOf(vector);
        const { store, receiver: r } = receiver({ mode: 'forward-secret' });
        const content = {
          algorithm: 'm.megolm.v1.aes-sha2',
          room_id: roomId,
          session_id: vector.session_id,
          session_key: vector.session_key,
        };
        await r.receiveKey(wrap('m.room_key', content), CREATOR.curve25519);
        for (const [i, message] of vector.messages.entries()) {
          await expectMessage(r, vector, roomId, i);
          await expectUnreadable(r, vector, roomId, i);
          assert.equal(
            store.get(roomId, vector.session_id)?.session.firstKnownIndex(),
            message.message_index + 1,
          );
        }
      },
    },
  ];
  for (const exported of vector.exports) {
    cases.push({
      name: `${vector.name} m.forwarded_room_key from index ${exported.first_known_index}`,
      async run() {
        const roomId = roomOf(vector);
        const { store, receiver: r } = receiver({ mode: 'shared' });
        const content = {
          algorithm: 'm.megolm.v1.aes-sha2',
          room_id: roomId,
          sender_key: CREATOR.curve25519,
          session_id: vector.session_id,
          session_key: exported.exported_session_key,
          sender_claimed_ed25519_key: CREATOR.ed25519,
          forwarding_curve25519_key_chain: [],
          shared_history: true,
        };
        assert.equal(
          await r.receiveKey(wrap('m.forwarded_room_key', content), CREATOR.curve25519),
          'stored',
        );
        const session = store.get(roomId, vector.session_id)?.session;
        assert.equal(session?.firstKnownIndex(), exported.first_known_index);
        assert.equal(session?.exportAt(exported.first_known_index), exported.exported_session_key);
        for (const [i, message] of vector.messages.entries()) {
          if (exported.undecryptable_indices.includes(message.message_index))
            await expectUnreadable(r, vector, roomId, i);
          else await expectMessage(r, vector, roomId, i);
        }
      },
    });
  }
  return cases;
}

export const epochMegolmKeys: VectorFormat = {
  name: 'epoch-megolm-keys',
  detect: (file: VectorFile) => (file.cases ?? []).some(isMegolmVector),
  cases: (file: VectorFile) => (file.cases ?? []).filter(isMegolmVector).flatMap(casesOf),
};

export const formats: VectorFormat[] = [epochMegolmKeys];
