/**
 * RoomEncryptor while membership changes during a send: a member removed before the key is
 * handed back gets nothing (the room is read inside the queue, and read again when a change is
 * noted meanwhile), and a change noted while an async key store is written does not free the
 * session being shared.
 */
import {
  EpochError,
  type RoomKeyStore,
  type RoomSnapshot,
  ratchetMegolm,
  type StoredRoomKey,
  type ToDeviceMessage,
} from '@weft/epoch';
import { describe, expect, it } from 'vitest';

import { fixture } from './fixture.ts';
import { MemoryKeyStore } from './memory-store.ts';

const text = { msgtype: 'm.text', body: 'hello' };
const BOB = '@bob:weft.test';

function gate(): {
  wait: Promise<void>;
  open: () => void;
  reached: Promise<void>;
  hit: () => void;
} {
  let open = () => {};
  let hit = () => {};
  const wait = new Promise<void>((r) => {
    open = r;
  });
  const reached = new Promise<void>((r) => {
    hit = r;
  });
  return { wait, open, reached, hit };
}

/** A key store answering asynchronously; `put` waits for `hold` when set. */
class SlowStore implements RoomKeyStore {
  readonly #keys = new MemoryKeyStore();
  hold: Promise<void> | undefined;
  onPut: (() => void) | undefined;
  async put(key: StoredRoomKey): Promise<void> {
    this.onPut?.();
    if (this.hold !== undefined) await this.hold;
    this.#keys.put(key);
  }
  async get(roomId: string, sessionId: string): Promise<StoredRoomKey | undefined> {
    await Promise.resolve();
    return this.#keys.get(roomId, sessionId);
  }
  async delete(roomId: string, sessionId: string): Promise<void> {
    await Promise.resolve();
    this.#keys.delete(roomId, sessionId);
  }
  async list(roomId: string): Promise<StoredRoomKey[]> {
    await Promise.resolve();
    return this.#keys.list(roomId);
  }
  sessionIds(): Set<string> {
    return this.#keys.sessionIds();
  }
}

const toBob = (messages: readonly ToDeviceMessage[]) => messages.filter((m) => m.userId === BOB);

describe('RoomEncryptor with a room function', () => {
  for (const mode of ['epoch', 'forward-secret'] as const) {
    it(`${mode}: a member kicked while the devices are looked up gets no key and cannot decrypt`, async () => {
      const f = fixture(ratchetMegolm, { mode }, 2);
      let bob: 'join' | 'leave' = 'join';
      const lookup = gate();
      let calls = 0;
      const room = async (): Promise<RoomSnapshot> => {
        calls += 1;
        const snapshot = f.room();
        const members = snapshot.members.map((m) =>
          m.userId === BOB ? { ...m, membership: bob } : m,
        );
        if (calls === 1) {
          lookup.hit();
          await lookup.wait; // the /keys/query of the first attempt, still in flight
        }
        return { members, devices: snapshot.devices };
      };
      const sending = f.encryptor.encrypt('m.room.message', text, room);
      await lookup.reached;
      // Sync applies the kick while the lookup is pending.
      bob = 'leave';
      f.encryptor.noteMembershipChange({ userId: BOB, membership: 'leave' });
      lookup.open();
      const result = await sending;
      expect(calls).toBe(2);
      expect(toBob(result.toDevice)).toEqual([]);
      for (const peer of f.peers) {
        await expect(peer.receiver.decrypt('!unit:weft.test', result.content)).rejects.toThrow();
      }
    });
  }

  it('epoch: a kick noted while the key is being shared discards that key and shares a new one', async () => {
    const store = new SlowStore();
    const f = fixture(ratchetMegolm, { mode: 'epoch' }, 2, { store });
    let bob: 'join' | 'leave' = 'join';
    const room = (): RoomSnapshot => {
      const snapshot = f.room();
      return {
        members: snapshot.members.map((m) => (m.userId === BOB ? { ...m, membership: bob } : m)),
        devices: snapshot.devices,
      };
    };
    const put = gate();
    store.hold = put.wait;
    store.onPut = put.hit;
    const sending = f.encryptor.encrypt('m.room.message', text, room);
    await put.reached;
    bob = 'leave';
    f.encryptor.noteMembershipChange({ userId: BOB, membership: 'leave' });
    store.onPut = undefined;
    put.open();
    const result = await sending;
    expect(toBob(result.toDevice)).toEqual([]);
    // The discarded session's own copy is gone; only the one used is kept.
    expect([...store.sessionIds()]).toEqual([result.content.session_id]);
  });

  it('gives up with membership-unsettled when the room changes during every attempt', async () => {
    const f = fixture(ratchetMegolm, { mode: 'epoch' }, 1);
    const room = (): RoomSnapshot => {
      f.encryptor.noteMembershipChange({ userId: BOB, membership: 'join' });
      return f.room();
    };
    await expect(f.encryptor.encrypt('m.room.message', text, room)).rejects.toSatisfy(
      (e) => EpochError.isInstance(e) && e.code === 'membership-unsettled',
    );
  });
});

describe('RoomEncryptor with an async key store', () => {
  it('a membership change noted mid-share keeps the session; the next message rekeys', async () => {
    const store = new SlowStore();
    const f = fixture(ratchetMegolm, { mode: 'epoch' }, 2, { store });
    const put = gate();
    store.hold = put.wait;
    store.onPut = put.hit;
    const sending = f.encryptor.encrypt('m.room.message', text, f.room());
    await put.reached;
    f.encryptor.noteMembershipChange({ userId: '@carol:weft.test', membership: 'leave' });
    store.onPut = undefined;
    put.open();
    const first = await sending;
    await f.deliver(first.toDevice);
    const read = await f.peers[0]?.receiver.decrypt('!unit:weft.test', first.content);
    expect(read?.content).toEqual(text);
    const second = await f.encryptor.encrypt('m.room.message', text, f.room());
    expect(second.rekey?.reason).toBe('membership-change');
    expect(second.content.session_id).not.toBe(first.content.session_id);
  });
});
