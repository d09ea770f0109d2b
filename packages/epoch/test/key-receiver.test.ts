/**
 * RoomKeyReceiver: the spec's receiving rules for `m.room_key` / `m.forwarded_room_key`
 * (client-server API, `m.megolm.v1.aes-sha2`: keys only over Olm, from a trusted source, a stored
 * session replaced only by a lower first index; the room ID inside the ciphertext) and the
 * per-policy key-store rules.
 */

import {
  EpochError,
  type MegolmBackend,
  type OlmPlaintext,
  RoomKeyReceiver,
  type RoomPolicy,
  ratchetMegolm,
} from '@weft/epoch';
import { beforeAll, describe, expect, it } from 'vitest';

import { ROOM } from './fixture.ts';
import { libolmMegolm, loadLibOlm } from './libolm.ts';
import { MemoryKeyStore } from './memory-store.ts';

let libolm: MegolmBackend;
beforeAll(async () => {
  libolm = libolmMegolm(await loadLibOlm());
});

const me = { userId: '@bob:weft.test', deviceId: 'BOB', curve25519: 'bobCurve', ed25519: 'bobEd' };
const alice = { curve25519: 'aliceCurve', ed25519: 'aliceEd' };

function receiver(policy: RoomPolicy | undefined, megolm: MegolmBackend = ratchetMegolm) {
  const store = new MemoryKeyStore();
  return {
    store,
    receiver: new RoomKeyReceiver({ own: me, megolm, store, policyFor: () => policy }),
  };
}

function wrap(
  type: string,
  content: Record<string, unknown>,
  over: Partial<OlmPlaintext> = {},
): OlmPlaintext {
  return {
    type,
    content,
    sender: '@alice:weft.test',
    recipient: me.userId,
    recipient_keys: { ed25519: me.ed25519 },
    keys: { ed25519: alice.ed25519 },
    ...over,
  };
}

function roomKey(
  session: { sessionId(): string; sessionKey(): string },
  extra: Record<string, unknown> = {},
) {
  return wrap('m.room_key', {
    algorithm: 'm.megolm.v1.aes-sha2',
    room_id: ROOM,
    session_id: session.sessionId(),
    session_key: session.sessionKey(),
    ...extra,
  });
}

function event(
  session: { sessionId(): string; encrypt(p: string): string },
  body: string,
  roomId = ROOM,
) {
  return {
    algorithm: 'm.megolm.v1.aes-sha2',
    sender_key: alice.curve25519,
    device_id: 'ALICE',
    session_id: session.sessionId(),
    ciphertext: session.encrypt(
      JSON.stringify({ type: 'm.room.message', content: { body }, room_id: roomId }),
    ),
  };
}

async function code(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (e) {
    return EpochError.isInstance(e) ? e.code : `not EpochError: ${String(e)}`;
  }
  return undefined;
}

describe('RoomKeyReceiver.receiveKey', () => {
  it('stores an m.room_key and decrypts with it, keeping it in epoch rooms', async () => {
    const { store, receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    expect(await r.receiveKey(roomKey(out), alice.curve25519)).toBe('stored');
    const decrypted = await r.decrypt(ROOM, event(out, 'one'));
    expect(decrypted).toEqual({
      type: 'm.room.message',
      content: { body: 'one' },
      sessionId: out.sessionId(),
      messageIndex: 0,
      senderKey: alice.curve25519,
    });
    expect(store.get(ROOM, out.sessionId())?.senderClaimedEd25519).toBe(alice.ed25519);
    await r.decrypt(ROOM, event(out, 'two'));
    expect(store.sessionIds().has(out.sessionId())).toBe(true);
  });

  it('refuses keys addressed to another user or device', async () => {
    const { receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out);
    expect(
      await code(r.receiveKey({ ...key, recipient: '@eve:weft.test' }, alice.curve25519)),
    ).toBe('wrong-recipient');
    expect(
      await code(r.receiveKey({ ...key, recipient_keys: { ed25519: 'other' } }, alice.curve25519)),
    ).toBe('wrong-recipient');
  });

  it('accepts a forwarded key only from the session’s creator, with an empty chain', async () => {
    const { receiver: r } = receiver({ mode: 'shared' });
    const out = ratchetMegolm.createOutbound();
    const early = event(out, 'early');
    const exported = ratchetMegolm.inboundFromSessionKey(
      roomKey(out).content['session_key'] as string,
    );
    const forwarded = (extra: Record<string, unknown>) =>
      wrap('m.forwarded_room_key', {
        algorithm: 'm.megolm.v1.aes-sha2',
        room_id: ROOM,
        sender_key: alice.curve25519,
        session_id: out.sessionId(),
        session_key: exported.exportAt(1),
        sender_claimed_ed25519_key: alice.ed25519,
        forwarding_curve25519_key_chain: [],
        ...extra,
      });
    expect(await code(r.receiveKey(forwarded({}), 'carolCurve'))).toBe('untrusted-forward');
    expect(
      await code(
        r.receiveKey(
          forwarded({ forwarding_curve25519_key_chain: ['carolCurve'] }),
          alice.curve25519,
        ),
      ),
    ).toBe('untrusted-forward');
    expect(
      await code(
        r.receiveKey(forwarded({ sender_claimed_ed25519_key: 'forged' }), alice.curve25519),
      ),
    ).toBe('untrusted-forward');
    expect(await r.receiveKey(forwarded({}), alice.curve25519)).toBe('stored');
    // The key was exported from index 1: index 0 stays unreadable.
    expect(await code(r.decrypt(ROOM, early))).toBe('decrypt-failed');
    expect((await r.decrypt(ROOM, event(out, 'later'))).messageIndex).toBe(1);
  });

  it('replaces a stored session only with one that starts earlier, and only from the same sender', async () => {
    const { store, receiver: r } = receiver({ mode: 'shared' });
    const out = ratchetMegolm.createOutbound();
    const atZero = roomKey(out);
    const first = event(out, 'first');
    const atOne = roomKey(out);
    expect(await r.receiveKey(atOne, alice.curve25519)).toBe('stored');
    expect(await r.receiveKey(atOne, alice.curve25519)).toBe('kept-existing');
    expect(await code(r.receiveKey(atZero, 'mallory'))).toBe('session-mismatch');
    expect(await r.receiveKey(atZero, alice.curve25519)).toBe('stored');
    expect(store.get(ROOM, out.sessionId())?.session.firstKnownIndex()).toBe(0);
    expect((await r.decrypt(ROOM, first)).messageIndex).toBe(0);
  });

  it('rejects a session_id that is not the key’s own, malformed keys and foreign payloads', async () => {
    const { receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    expect(
      await code(r.receiveKey(roomKey(out, { session_id: 'spoofed' }), alice.curve25519)),
    ).toBe('session-mismatch');
    expect(await code(r.receiveKey(roomKey(out, { session_key: 'AAAA' }), alice.curve25519))).toBe(
      'invalid-content',
    );
    expect(await code(r.receiveKey(roomKey(out, { algorithm: 'm.other' }), alice.curve25519))).toBe(
      'invalid-content',
    );
    expect(await code(r.receiveKey(roomKey(out, { room_id: 7 }), alice.curve25519))).toBe(
      'invalid-content',
    );
    expect(await code(r.receiveKey(wrap('m.dummy', {}), alice.curve25519))).toBe('invalid-content');
    expect(await code(r.receiveKey(null as never, alice.curve25519))).toBe('invalid-content');
  });
});

describe('RoomKeyReceiver.decrypt', () => {
  it('refuses an event whose encrypted room_id names another room (a server moving events)', async () => {
    const { receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    await r.receiveKey(roomKey(out), alice.curve25519);
    expect(await code(r.decrypt(ROOM, event(out, 'x', '!elsewhere:weft.test')))).toBe(
      'room-mismatch',
    );
  });

  it('reports unknown sessions and malformed events with typed codes', async () => {
    const { receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    expect(await code(r.decrypt(ROOM, event(out, 'x')))).toBe('unknown-session');
    expect(await code(r.decrypt(ROOM, { algorithm: 'm.olm.v1.curve25519-aes-sha2' }))).toBe(
      'invalid-content',
    );
    expect(await code(r.decrypt(ROOM, 'text'))).toBe('invalid-content');
    expect(
      () =>
        new RoomKeyReceiver({
          own: me,
          megolm: ratchetMegolm,
          store: new MemoryKeyStore(),
        } as never),
    ).toThrow(TypeError);
  });

  it('deletes a single-use (forward-secret) key as soon as its message is decrypted', async () => {
    const { store, receiver: r } = receiver({ mode: 'forward-secret' });
    const out = ratchetMegolm.createOutbound();
    await r.receiveKey(roomKey(out, { 'org.weft.single_use': true }), alice.curve25519);
    const message = event(out, 'once');
    expect((await r.decrypt(ROOM, message)).content).toEqual({ body: 'once' });
    expect(store.list(ROOM)).toEqual([]);
    expect(await code(r.decrypt(ROOM, message))).toBe('unknown-session');
  });

  it.each(['@weft/ratchet', 'libolm'])(
    'in a forward-secret room, ratchets an unmarked (non-Weft) session past each decrypted message (%s)',
    async (name) => {
      const megolm = name === 'libolm' ? libolm : ratchetMegolm;
      const { store, receiver: r } = receiver({ mode: 'forward-secret' }, megolm);
      const out = megolm.createOutbound();
      await r.receiveKey(roomKey(out), alice.curve25519);
      const m0 = event(out, 'zero');
      const m1 = event(out, 'one');
      expect((await r.decrypt(ROOM, m0)).messageIndex).toBe(0);
      expect(store.get(ROOM, out.sessionId())?.session.firstKnownIndex()).toBe(1);
      expect(await code(r.decrypt(ROOM, m0))).toBe('decrypt-failed');
      expect((await r.decrypt(ROOM, m1)).messageIndex).toBe(1);
      expect(store.get(ROOM, out.sessionId())?.session.firstKnownIndex()).toBe(2);
    },
  );

  it('in shared and epoch rooms keeps an unmarked session whole', async () => {
    for (const mode of ['shared', 'epoch'] as const) {
      const { store, receiver: r } = receiver({ mode });
      const out = ratchetMegolm.createOutbound();
      await r.receiveKey(roomKey(out), alice.curve25519);
      const m0 = event(out, 'zero');
      await r.decrypt(ROOM, m0);
      await r.decrypt(ROOM, m0);
      expect(store.get(ROOM, out.sessionId())?.session.firstKnownIndex()).toBe(0);
    }
  });
});

describe('EpochError', () => {
  it('is recognised across copies by its marker and carries context without secrets', async () => {
    const { receiver: r } = receiver({ mode: 'epoch' });
    const out = ratchetMegolm.createOutbound();
    const key = roomKey(out, { session_id: 'spoofed' });
    try {
      await r.receiveKey(key, alice.curve25519);
      expect.unreachable();
    } catch (e) {
      expect(EpochError.isInstance(e)).toBe(true);
      expect(e).toBeInstanceOf(EpochError);
      if (!EpochError.isInstance(e)) return;
      expect(e.name).toBe('EpochError');
      expect(e.roomId).toBe(ROOM);
      expect(e.sessionId).toBe('spoofed');
      expect(e.message).not.toContain(key.content['session_key'] as string);
    }
    expect(EpochError.isInstance({ [Symbol.for('weft.epoch.error')]: true })).toBe(true);
    expect(EpochError.isInstance(new Error('x'))).toBe(false);
    expect(EpochError.isInstance(null)).toBe(false);
  });
});
