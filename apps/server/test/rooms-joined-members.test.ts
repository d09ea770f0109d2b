/**
 * A room's joined members and their display names, kept in memory per current state
 * (rooms/joined-members.ts): always what the database says now, inside a write as that
 * transaction sees it, and never a membership that was rolled back — against a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRoom } from '../src/services/rooms/create-room.ts';
import { joinRoom } from '../src/services/rooms/membership.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';
const bob = '@bob:test.local';
const carol = '@carol:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const member = (roomId: string, userId: string, content: Record<string, unknown>) => ({
  roomId,
  type: 'm.room.member',
  stateKey: userId,
  sender: userId,
  content,
});

describe('joined members in memory', () => {
  it('follows joins, leaves and display names, and forgets what was rolled back', async () => {
    const { rooms } = server.services;
    const db = server.services.ctx.db;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      preset: 'public_chat',
    });
    const joined = async () => [...(await rooms.joinedMembers(db, roomId))].sort();
    expect(await joined()).toEqual([alice]);
    // Read twice: the second answer comes from memory and must still be right after a join.
    expect(await joined()).toEqual([alice]);
    await joinRoom(rooms, roomId, bob);
    expect(await joined()).toEqual([alice, bob]);

    await rooms.write((send) =>
      send(member(roomId, bob, { membership: 'join', displayname: 'Bobby' })),
    );
    expect((await rooms.joinedDisplayNames(db, roomId)).get(bob)).toBe('Bobby');
    await rooms.write((send) =>
      send(member(roomId, bob, { membership: 'join', displayname: 'Rob' })),
    );
    expect((await rooms.joinedDisplayNames(db, roomId)).get(bob)).toBe('Rob');

    // A join rolled back with its transaction, read inside it first: not remembered.
    await expect(
      rooms.write(async (send, tx) => {
        await send(member(roomId, carol, { membership: 'join' }));
        expect([...(await rooms.joinedMembers(tx, roomId))].sort()).toEqual([alice, bob, carol]);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await joined()).toEqual([alice, bob]);

    // A join rolled back with its savepoint, the transaction going on to commit.
    await rooms.write(async (send, tx) => {
      await expect(
        tx.savepoint(async () => {
          await send(member(roomId, carol, { membership: 'join' }));
          expect(await rooms.joinedMembers(tx, roomId)).toContain(carol);
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect([...(await rooms.joinedMembers(tx, roomId))].sort()).toEqual([alice, bob]);
    });
    expect(await joined()).toEqual([alice, bob]);

    await rooms.write((send) => send(member(roomId, bob, { membership: 'leave' })));
    expect(await joined()).toEqual([alice]);
    expect((await rooms.joinedDisplayNames(db, roomId)).has(bob)).toBe(false);
  });
});
