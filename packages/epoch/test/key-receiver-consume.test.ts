/**
 * RoomKeyReceiver: a single-use (forward-secret) key is deleted only after the caller's checks
 * pass, and a deleted key is never stored again (a replayed Olm message).
 */

import { type OlmPlaintext, RoomKeyReceiver, ratchetMegolm } from '@weft/epoch';
import { describe, expect, it } from 'vitest';

import { ROOM } from './fixture.ts';
import { MemoryKeyStore } from './memory-store.ts';

const me = { userId: '@bob:weft.test', deviceId: 'BOB', curve25519: 'bobCurve', ed25519: 'bobEd' };
const alice = { curve25519: 'aliceCurve', ed25519: 'aliceEd' };

function setup(mode: 'forward-secret' | 'epoch' = 'forward-secret') {
  const store = new MemoryKeyStore();
  const receiver = new RoomKeyReceiver({
    own: me,
    megolm: ratchetMegolm,
    store,
    policyFor: () => ({ mode }),
  });
  return { store, receiver };
}

function roomKey(
  session: { sessionId(): string; sessionKey(): string },
  extra: Record<string, unknown> = {},
): OlmPlaintext {
  return {
    type: 'm.room_key',
    content: {
      algorithm: 'm.megolm.v1.aes-sha2',
      room_id: ROOM,
      session_id: session.sessionId(),
      session_key: session.sessionKey(),
      ...extra,
    },
    sender: '@alice:weft.test',
    recipient: me.userId,
    recipient_keys: { ed25519: me.ed25519 },
    keys: { ed25519: alice.ed25519 },
  };
}

function event(session: { sessionId(): string; encrypt(p: string): string }, body: string) {
  return {
    algorithm: 'm.megolm.v1.aes-sha2',
    sender_key: alice.curve25519,
    device_id: 'ALICE',
    session_id: session.sessionId(),
    ciphertext: session.encrypt(
      JSON.stringify({ type: 'm.room.message', content: { body }, room_id: ROOM }),
    ),
  };
}

describe('RoomKeyReceiver single-use keys', () => {
  it('keeps the key when the caller’s check refuses the event, deletes it once one passes', async () => {
    const { store, receiver } = setup();
    const out = ratchetMegolm.createOutbound();
    await receiver.receiveKey(roomKey(out, { 'org.weft.single_use': true }), alice.curve25519);
    const content = event(out, 'once');
    const refused = new Error('forged copy');
    await expect(
      receiver.decrypt(ROOM, content, () => {
        throw refused;
      }),
    ).rejects.toBe(refused);
    expect(store.sessionIds().has(out.sessionId())).toBe(true);
    const seen: string[] = [];
    const decrypted = await receiver.decrypt(ROOM, content, (e, key) => {
      seen.push(key.senderClaimedEd25519);
      expect(e.content).toEqual({ body: 'once' });
    });
    expect(decrypted.content).toEqual({ body: 'once' });
    expect(seen).toEqual([alice.ed25519]);
    expect(store.sessionIds().has(out.sessionId())).toBe(false);
  });

  it('refuses a deleted single-use key that arrives again', async () => {
    const { store, receiver } = setup();
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out, { 'org.weft.single_use': true });
    expect(await receiver.receiveKey(key, alice.curve25519)).toBe('stored');
    const content = event(out, 'once');
    await receiver.decrypt(ROOM, content);
    expect(store.sessionIds().has(out.sessionId())).toBe(false);
    expect(await receiver.receiveKey(key, alice.curve25519)).toBe('refused-deleted');
    expect(store.sessionIds().has(out.sessionId())).toBe(false);
    await expect(receiver.decrypt(ROOM, content)).rejects.toMatchObject({
      code: 'unknown-session',
    });
  });

  it('uses the store’s tombstones when it keeps them', async () => {
    const tombstones = new Set<string>();
    const store = Object.assign(new MemoryKeyStore(), {
      markDeleted: (roomId: string, sessionId: string) => {
        tombstones.add(`${roomId}|${sessionId}`);
      },
      wasDeleted: (roomId: string, sessionId: string) => tombstones.has(`${roomId}|${sessionId}`),
    });
    const make = () =>
      new RoomKeyReceiver({
        own: me,
        megolm: ratchetMegolm,
        store,
        policyFor: () => ({ mode: 'forward-secret' }),
      });
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out, { 'org.weft.single_use': true });
    await make().receiveKey(key, alice.curve25519);
    await make().decrypt(ROOM, event(out, 'once'));
    expect(tombstones.has(`${ROOM}|${out.sessionId()}`)).toBe(true);
    // A new receiver (a restart) still refuses it.
    expect(await make().receiveKey(key, alice.curve25519)).toBe('refused-deleted');
  });

  it.each([
    ['only markDeleted', 'markDeleted'],
    ['only wasDeleted', 'wasDeleted'],
  ] as const)('remembers deleted keys in memory for a store with %s', async (_name, method) => {
    const calls: string[] = [];
    const store = Object.assign(
      new MemoryKeyStore(),
      method === 'markDeleted'
        ? { markDeleted: () => void calls.push('markDeleted') }
        : {
            wasDeleted: () => {
              calls.push('wasDeleted');
              return false;
            },
          },
    );
    const receiver = new RoomKeyReceiver({
      own: me,
      megolm: ratchetMegolm,
      store,
      policyFor: () => ({ mode: 'forward-secret' }),
    });
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out, { 'org.weft.single_use': true });
    expect(await receiver.receiveKey(key, alice.curve25519)).toBe('stored');
    await receiver.decrypt(ROOM, event(out, 'once'));
    expect(store.sessionIds().has(out.sessionId())).toBe(false);
    // The replayed key is refused: half a tombstone API is not used at all.
    expect(await receiver.receiveKey(key, alice.curve25519)).toBe('refused-deleted');
    expect(calls).toEqual([]);
  });

  it('never winds a key that ratchets after reading back to an earlier index', async () => {
    const { store, receiver } = setup();
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out); // no single-use marker: ratcheted forward after each message
    await receiver.receiveKey(key, alice.curve25519);
    const first = event(out, 'first');
    await receiver.decrypt(ROOM, first);
    expect(store.get(ROOM, out.sessionId())?.session.firstKnownIndex()).toBe(1);
    expect(await receiver.receiveKey(key, alice.curve25519)).toBe('kept-existing');
    await expect(receiver.decrypt(ROOM, first)).rejects.toMatchObject({ code: 'decrypt-failed' });
  });
});
