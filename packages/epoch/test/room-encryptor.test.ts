/**
 * RoomEncryptor: key payloads in Matrix form, withheld codes (spec: "Reporting that decryption
 * keys are withheld"), key requests, rekey on demand and its cost report.
 */
import { inspect } from 'node:util';
import {
  EpochError,
  type MegolmBackend,
  RoomEncryptor,
  type RoomKeyWithheldContent,
  type ToDeviceMessage,
} from '@weft/epoch';
import { beforeAll, describe, expect, it } from 'vitest';

import { fixture, ROOM } from './fixture.ts';
import { libolmMegolm, loadLibOlm } from './libolm.ts';
import { MemoryKeyStore } from './memory-store.ts';

let megolm: MegolmBackend;
beforeAll(async () => {
  megolm = libolmMegolm(await loadLibOlm());
});

const text = { msgtype: 'm.text', body: 'hello' };

function withheldCode(message: ToDeviceMessage | undefined): string | undefined {
  if (message?.type !== 'm.room_key.withheld') return undefined;
  return (message.content as RoomKeyWithheldContent).code;
}

describe('RoomEncryptor.encrypt', () => {
  it('emits m.room.encrypted (Megolm) content and Olm-wrapped m.room_key to-device events', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 2);
    const result = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(result.content).toMatchObject({
      algorithm: 'm.megolm.v1.aes-sha2',
      sender_key: f.alice.olm.own.curve25519,
      device_id: 'ALICE',
      session_id: f.encryptor.currentSessionId,
    });
    expect(result.toDevice).toHaveLength(2);
    for (const m of result.toDevice) {
      expect(m.type).toBe('m.room.encrypted');
      expect(m.content).toMatchObject({
        algorithm: 'm.olm.v1.curve25519-aes-sha2',
        sender_key: f.alice.olm.own.curve25519,
      });
    }
    const peer = f.peers[0];
    const first = result.toDevice[0];
    if (peer === undefined || first === undefined) throw new Error('fixture');
    const plaintext = peer.olm.decrypt(first.content as never);
    expect(plaintext).toMatchObject({
      type: 'm.room_key',
      sender: '@alice:weft.test',
      recipient: '@bob:weft.test',
      recipient_keys: { ed25519: peer.olm.own.ed25519 },
      keys: { ed25519: f.alice.olm.own.ed25519 },
      content: {
        algorithm: 'm.megolm.v1.aes-sha2',
        room_id: ROOM,
        session_id: result.content.session_id,
        shared_history: false,
      },
    });
    expect(Object.keys(plaintext.content)).not.toContain('org.weft.single_use');
    expect(result.rekey).toMatchObject({
      reason: 'first-message',
      recipients: 2,
      cost: { olmEncryptions: 2, toDeviceMessages: 2, withheld: 0 },
    });
    // A second message reuses the session and shares nothing.
    const second = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(second.content.session_id).toBe(result.content.session_id);
    expect(second.toDevice).toEqual([]);
    expect(second.cost).toEqual({ toDeviceMessages: 0, olmEncryptions: 0, withheld: 0 });
  });

  it('marks shared rooms’ keys shared_history and forward-secret keys single-use', async () => {
    for (const [mode, shared, single] of [
      ['shared', true, false],
      ['forward-secret', false, true],
    ] as const) {
      const f = fixture(megolm, { mode }, 1);
      const result = await f.encryptor.encrypt('m.room.message', text, f.room());
      const peer = f.peers[0];
      const first = result.toDevice[0];
      if (peer === undefined || first === undefined) throw new Error('fixture');
      const content = peer.olm.decrypt(first.content as never).content;
      expect(content['shared_history']).toBe(shared);
      expect(content['org.weft.single_use']).toBe(single ? true : undefined);
    }
  });

  it('sends m.room_key.withheld m.blacklisted / m.unverified once per session, never the key', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 3, { onlyVerified: true });
    const room = f.room((d) =>
      d.deviceId === 'BOB0'
        ? { ...d, blocked: true }
        : d.deviceId === 'BOB1'
          ? { ...d, verified: true }
          : d,
    );
    const result = await f.encryptor.encrypt('m.room.message', text, room);
    const byDevice = Object.fromEntries(result.toDevice.map((m) => [m.deviceId, m]));
    expect(byDevice['BOB0']?.type).toBe('m.room_key.withheld');
    expect(byDevice['BOB0']?.content).toEqual({
      algorithm: 'm.megolm.v1.aes-sha2',
      room_id: ROOM,
      session_id: result.content.session_id,
      sender_key: f.alice.olm.own.curve25519,
      code: 'm.blacklisted',
      reason: expect.any(String),
    });
    expect(withheldCode(byDevice['BOB2'])).toBe('m.unverified');
    expect(byDevice['BOB1']?.type).toBe('m.room.encrypted');
    expect(result.cost).toEqual({ toDeviceMessages: 3, olmEncryptions: 1, withheld: 2 });
    expect((await f.encryptor.encrypt('m.room.message', text, room)).toDevice).toEqual([]);
  });

  it('starts a new epoch when a device gets blocked (epoch), but not in shared rooms', async () => {
    for (const [mode, rotates] of [
      ['epoch', true],
      ['shared', false],
    ] as const) {
      const f = fixture(megolm, { mode }, 2);
      const first = await f.encryptor.encrypt('m.room.message', text, f.room());
      const blocked = f.room((d) => (d.deviceId === 'BOB0' ? { ...d, blocked: true } : d));
      const next = await f.encryptor.encrypt('m.room.message', text, blocked);
      expect(next.content.session_id !== first.content.session_id).toBe(rotates);
      if (rotates) {
        expect(next.rekey?.reason).toBe('recipients-changed');
        expect(next.toDevice.map((m) => [m.deviceId, m.type])).toEqual([
          ['BOB0', 'm.room_key.withheld'],
          ['BOB1', 'm.room.encrypted'],
        ]);
      }
    }
  });

  it('sends one m.no_olm without room or session when no Olm channel exists, and retries the key later', async () => {
    const f = fixture(megolm, { mode: 'shared' }, 1);
    const peer = f.peers[0];
    if (peer === undefined) throw new Error('fixture');
    f.alice.olm.unreachable.add(peer.olm.own.curve25519);
    const first = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(first.toDevice).toEqual([
      {
        type: 'm.room_key.withheld',
        userId: '@bob:weft.test',
        deviceId: 'BOB0',
        content: {
          algorithm: 'm.megolm.v1.aes-sha2',
          sender_key: f.alice.olm.own.curve25519,
          code: 'm.no_olm',
          reason: expect.any(String),
        },
      },
    ]);
    expect((await f.encryptor.encrypt('m.room.message', text, f.room())).toDevice).toEqual([]);
    f.alice.olm.unreachable.clear();
    const third = await f.encryptor.encrypt('m.room.message', text, f.room());
    // Shared history: the late device gets the session from its first index, so reads all three.
    expect(await f.deliver(third.toDevice)).toEqual(['m.forwarded_room_key']);
    for (const r of [first, third])
      await expect(peer.receiver.decrypt(ROOM, r.content)).resolves.toBeDefined();
  });

  it('refuses to send for a user who is not joined, and rejects wrong argument types', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 1);
    const room = {
      ...f.room(),
      members: [{ userId: '@alice:weft.test', membership: 'leave' as const }],
    };
    await expect(f.encryptor.encrypt('m.room.message', text, room)).rejects.toSatisfy(
      (e) => EpochError.isInstance(e) && e.code === 'not-a-member',
    );
    await expect(f.encryptor.encrypt('', text, f.room())).rejects.toThrow(TypeError);
    await expect(f.encryptor.encrypt('m.room.message', null as never, f.room())).rejects.toThrow(
      TypeError,
    );
    expect(() => new RoomEncryptor(null as never)).toThrow(TypeError);
    expect(
      () =>
        new RoomEncryptor({
          roomId: 'not-a-room',
          own: f.alice.olm.own,
          policy: { mode: 'epoch' },
          megolm,
          olm: f.alice.olm,
          store: new MemoryKeyStore(),
        }),
    ).toThrow(TypeError);
  });
});

describe('RoomEncryptor call ordering', () => {
  it('runs overlapping calls one at a time: one session, shared once, messages in call order', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 3);
    const [a, b, c] = await Promise.all([
      f.encryptor.encrypt('m.room.message', { body: 'a' }, f.room()),
      f.encryptor.encrypt('m.room.message', { body: 'b' }, f.room()),
      f.encryptor.shareKeys(f.room()),
    ]);
    expect(a.rekey?.reason).toBe('first-message');
    expect(b.rekey).toBeUndefined();
    expect(b.content.session_id).toBe(a.content.session_id);
    expect([a.toDevice.length, b.toDevice.length, c.toDevice.length]).toEqual([3, 0, 0]);
    await f.deliver(a.toDevice);
    const peer = f.peers[0];
    expect((await peer?.receiver.decrypt(ROOM, b.content))?.messageIndex).toBe(1);
  });

  it('keeps working after a failed call', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 1);
    const failing = f.encryptor.encrypt('m.room.message', text, null as never);
    const next = f.encryptor.encrypt('m.room.message', text, f.room());
    await expect(failing).rejects.toThrow(TypeError);
    await expect(next).resolves.toMatchObject({ rekey: { reason: 'first-message' } });
  });
});

describe('RoomEncryptor.rekey', () => {
  it('starts and shares a new session at once, reporting one Olm encryption per device', async () => {
    const f = fixture(megolm, { mode: 'shared' }, 4);
    const first = await f.encryptor.encrypt('m.room.message', text, f.room());
    const { toDevice, report } = await f.encryptor.rekey(f.room());
    expect(report).toMatchObject({
      reason: 'on-demand',
      recipients: 4,
      cost: { olmEncryptions: 4, toDeviceMessages: 4, withheld: 0 },
    });
    expect(report?.sessionId).not.toBe(first.content.session_id);
    expect(toDevice).toHaveLength(4);
    const next = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(next.content.session_id).toBe(report?.sessionId);
    expect(next.toDevice).toEqual([]);
  });

  it('is a no-op in forward-secret rooms, where every message already has its own session', async () => {
    const f = fixture(megolm, { mode: 'forward-secret' }, 2);
    expect(await f.encryptor.rekey(f.room())).toEqual({ toDevice: [] });
    const a = await f.encryptor.encrypt('m.room.message', text, f.room());
    const b = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(a.content.session_id).not.toBe(b.content.session_id);
    expect(b.rekey?.reason).toBe('per-message');
    expect(f.alice.store.list(ROOM)).toEqual([]);
  });

  it('honours the rekey option of a kick or invite in every mode', async () => {
    const f = fixture(megolm, { mode: 'shared' }, 1);
    const a = await f.encryptor.encrypt('m.room.message', text, f.room());
    f.encryptor.noteMembershipChange({ userId: '@carol:weft.test', membership: 'leave' });
    const b = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(b.content.session_id).toBe(a.content.session_id);
    f.encryptor.noteMembershipChange({
      userId: '@carol:weft.test',
      membership: 'leave',
      rekey: true,
    });
    const c = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(c.rekey?.reason).toBe('membership-rekey');
  });

  it('rotates after rotateAfterMs, by the injected clock', async () => {
    let now = 1000;
    const f = fixture(megolm, { mode: 'epoch', rotateAfterMs: 50 }, 1, { now: () => now });
    const a = await f.encryptor.encrypt('m.room.message', text, f.room());
    now += 49;
    expect((await f.encryptor.encrypt('m.room.message', text, f.room())).content.session_id).toBe(
      a.content.session_id,
    );
    now += 1;
    expect((await f.encryptor.encrypt('m.room.message', text, f.room())).rekey?.reason).toBe(
      'age-limit',
    );
  });
});

describe('RoomEncryptor.answerKeyRequest', () => {
  it('forwards shared history to a current member, from the first index', async () => {
    const f = fixture(megolm, { mode: 'shared' }, 2);
    const peer = f.peers[1];
    if (peer === undefined) throw new Error('fixture');
    const m1 = await f.encryptor.encrypt('m.room.message', text, f.room());
    const answer = await f.encryptor.answerKeyRequest(
      { roomId: ROOM, sessionId: m1.content.session_id, requester: peer.olm.info() },
      f.room(),
    );
    expect(await f.deliver(answer.toDevice)).toEqual(['m.forwarded_room_key']);
    expect((await peer.receiver.decrypt(ROOM, m1.content)).messageIndex).toBe(0);
  });

  it('withholds with m.unauthorised, m.unavailable and m.blacklisted as the policy dictates', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 2);
    const [bob0, bob1] = f.peers;
    if (bob0 === undefined || bob1 === undefined) throw new Error('fixture');
    const m1 = await f.encryptor.encrypt('m.room.message', text, f.room());
    const ask = async (sessionId: string, requester = bob0.olm.info(), room = f.room()) => {
      const { toDevice } = await f.encryptor.answerKeyRequest(
        { roomId: ROOM, sessionId, requester },
        room,
      );
      expect(toDevice).toHaveLength(1);
      return toDevice[0];
    };
    // A device it was given to may have it again (re-delivery) …
    expect((await ask(m1.content.session_id))?.type).toBe('m.room.encrypted');
    // … but not a device outside the room, nor a device this device blocked.
    const outsider = {
      ...f.room(),
      members: [{ userId: '@alice:weft.test', membership: 'join' as const }],
    };
    expect(withheldCode(await ask(m1.content.session_id, bob0.olm.info(), outsider))).toBe(
      'm.unauthorised',
    );
    expect(
      withheldCode(await ask(m1.content.session_id, { ...bob0.olm.info(), blocked: true })),
    ).toBe('m.blacklisted');
    expect(withheldCode(await ask('unknown-session'))).toBe('m.unavailable');
    // In epoch mode a newcomer may not fetch an earlier epoch.
    const newcomer = {
      ...bob1.olm.info(),
      deviceId: 'BOBNEW',
      curve25519: bob1.olm.own.curve25519,
    };
    expect(
      withheldCode(
        await ask(m1.content.session_id, newcomer, {
          ...f.room(),
          devices: [...f.room().devices, newcomer],
        }),
      ),
    ).toBe('m.unauthorised');
  });

  it('answers m.unavailable in forward-secret rooms: the sender kept nothing', async () => {
    const f = fixture(megolm, { mode: 'forward-secret' }, 1);
    const peer = f.peers[0];
    if (peer === undefined) throw new Error('fixture');
    const m1 = await f.encryptor.encrypt('m.room.message', text, f.room());
    const { toDevice } = await f.encryptor.answerKeyRequest(
      { roomId: ROOM, sessionId: m1.content.session_id, requester: peer.olm.info() },
      f.room(),
    );
    expect(withheldCode(toDevice[0])).toBe('m.unavailable');
  });
});

describe('RoomEncryptor secrecy of its own state', () => {
  it('shows only public state through toJSON and util.inspect', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 1);
    await f.encryptor.encrypt('m.room.message', text, f.room());
    const json = JSON.stringify(f.encryptor);
    expect(JSON.parse(json)).toEqual({
      roomId: ROOM,
      device: 'ALICE',
      policy: { mode: 'epoch' },
      sessionId: f.encryptor.currentSessionId,
      messageIndex: 1,
    });
    expect(inspect(f.encryptor)).toBe(`RoomEncryptor ${json}`);
    expect(inspect(f.peers[0]?.receiver)).toBe('RoomKeyReceiver {"device":"BOB0"}');
  });
});

describe('RoomEncryptor input checks and recipients', () => {
  it('throws TypeError / RangeError on wrong-typed input to every method', async () => {
    const f = fixture(megolm, { mode: 'epoch' }, 1);
    const badRooms = [
      null,
      {},
      { members: [], devices: null },
      { members: [{}], devices: [] },
      { members: [], devices: [{ userId: 1 }] },
    ];
    for (const room of badRooms) {
      await expect(f.encryptor.encrypt('m.room.message', text, room as never)).rejects.toThrow(
        TypeError,
      );
      await expect(f.encryptor.rekey(room as never)).rejects.toThrow(TypeError);
      await expect(f.encryptor.shareKeys(room as never)).rejects.toThrow(TypeError);
    }
    await expect(f.encryptor.answerKeyRequest(null as never, f.room())).rejects.toThrow(TypeError);
    expect(() => f.encryptor.noteMembershipChange(null as never)).toThrow(TypeError);
    expect(() => f.encryptor.setPolicy({ mode: 'nope' as never })).toThrow(RangeError);
    expect(() => f.encryptor.setPolicy({ mode: 'epoch', rotateAfterMs: -5 })).toThrow(RangeError);
    await expect(f.peers[0]?.receiver.receiveKey({} as never, '')).rejects.toThrow(TypeError);
    await expect(f.peers[0]?.receiver.decrypt('', {})).rejects.toThrow(TypeError);
  });

  it('shares with invited users’ devices by default, and only joined ones with includeInvited: false', async () => {
    for (const [includeInvited, expected] of [
      [true, 1],
      [false, 0],
    ] as const) {
      const f = fixture(megolm, { mode: 'epoch' }, 1, { includeInvited });
      const room = {
        ...f.room(),
        members: [
          { userId: '@alice:weft.test', membership: 'join' as const },
          { userId: '@bob:weft.test', membership: 'invite' as const },
        ],
      };
      const result = await f.encryptor.encrypt('m.room.message', text, room);
      expect(result.toDevice).toHaveLength(expected);
    }
  });

  it('never shares with knocking, departed or banned users, nor with its own sending device', async () => {
    for (const membership of ['knock', 'leave', 'ban'] as const) {
      const f = fixture(megolm, { mode: 'epoch' }, 2);
      const room = {
        ...f.room(),
        members: [
          { userId: '@alice:weft.test', membership: 'join' as const },
          { userId: '@bob:weft.test', membership },
        ],
      };
      const result = await f.encryptor.encrypt('m.room.message', text, room);
      expect(result.toDevice).toEqual([]);
      expect(result.rekey?.recipients).toBe(0);
    }
  });
});
