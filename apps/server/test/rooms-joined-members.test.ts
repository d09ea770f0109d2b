/**
 * A room's joined members and their display names, kept in memory per current state
 * (rooms/joined-members.ts): always what the database says now, inside a write as that
 * transaction sees it, and never a membership that was rolled back — against a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRoom } from '../src/services/rooms/create-room.ts';
import { joinRoom } from '../src/services/rooms/membership.ts';
import type { SqlExecutor } from '../src/storage/index.ts';
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

/** A public room created by alice. */
const publicRoom = () =>
  createRoom(server.services.rooms, {
    creator: alice,
    creatorDevice: 'DEV',
    preset: 'public_chat',
  });

describe('joined members in memory', () => {
  it('follows joins, leaves and display names, and forgets what was rolled back', async () => {
    const { rooms } = server.services;
    const db = server.services.ctx.db;
    const roomId = await publicRoom();
    const joined = async () => [...(await rooms.joinedMembers(db, roomId))].sort();
    expect(await joined()).toEqual([alice]);
    // Read twice: the second answer comes from memory and must still be right after a join.
    expect(await joined()).toEqual([alice]);
    await joinRoom(rooms, roomId, bob);
    expect(await joined()).toEqual([alice, bob]);

    await rooms.write((send) =>
      send(member(roomId, bob, { membership: 'join', displayname: 'Bobby' })),
    );
    expect((await rooms.localDisplayNames(db, roomId)).get(bob)).toBe('Bobby');
    await rooms.write((send) =>
      send(member(roomId, bob, { membership: 'join', displayname: 'Rob' })),
    );
    expect((await rooms.localDisplayNames(db, roomId)).get(bob)).toBe('Rob');

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
    expect((await rooms.localDisplayNames(db, roomId)).has(bob)).toBe(false);
  });

  it('gives push only the local members of a room with remote ones, and counts them all', async () => {
    const { rooms } = server.services;
    const db = server.services.ctx.db;
    const roomId = await publicRoom();
    await joinRoom(rooms, roomId, bob);
    // Remote members, one whose server differs from this one's only in case (SQLite's LIKE
    // would match it) and one whose server only ends like this one's name.
    const remote = ['@r1:remote.test', '@r2:remote.test', '@eve:TEST.LOCAL', '@mal:xtest.local'];
    for (const userId of remote) {
      await rooms.write((send) =>
        send(member(roomId, userId, { membership: 'join', displayname: 'bob' })),
      );
    }
    const local = async (executor: SqlExecutor = db) => {
      const { local, count } = await rooms.localJoinedMembers(executor, roomId);
      return { local: [...local].sort(), count };
    };
    expect(await local()).toEqual({ local: [alice, bob], count: 6 });
    expect(await local()).toEqual({ local: [alice, bob], count: 6 });
    // Only local members' names are read, and the remote ones calling themselves "bob" do not
    // make bob's name anyone else's.
    await rooms.write((send) =>
      send(member(roomId, bob, { membership: 'join', displayname: 'Bobby' })),
    );
    expect([...(await rooms.localDisplayNames(db, roomId))]).toEqual([[bob, 'Bobby']]);

    // Inside a write, as the write sees it; a rolled-back local join is not remembered.
    await expect(
      rooms.write(async (send, tx) => {
        await send(member(roomId, carol, { membership: 'join' }));
        expect(await local(tx)).toEqual({ local: [alice, bob, carol], count: 7 });
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await local()).toEqual({ local: [alice, bob], count: 6 });

    // A remote member joining, then a message: the local members other than the sender are
    // its audience, never a remote one, and room_member_count sees every member.
    await rooms.write((send) => send(member(roomId, '@r3:remote.test', { membership: 'join' })));
    expect(await local()).toEqual({ local: [alice, bob], count: 7 });
    await rooms.write((send) =>
      send({
        roomId,
        type: 'm.room.message',
        sender: alice,
        content: { msgtype: 'm.text', body: 'hi' },
      }),
    );
    const counted = await db.query<{ user_id: string }>(
      'SELECT user_id FROM unread_counts WHERE room_id = $1 AND notifications > 0',
      [roomId],
    );
    expect(counted.map((row) => row.user_id)).toEqual([bob]);

    // A local leave and join move the local set, the join read from the database or from memory.
    await rooms.write((send) => send(member(roomId, bob, { membership: 'leave' })));
    expect(await local()).toEqual({ local: [alice], count: 6 });
    expect(await rooms.joinedMembers(db, roomId)).toHaveLength(6);
    await joinRoom(rooms, roomId, carol);
    expect(await local()).toEqual({ local: [alice, carol], count: 7 });
    expect(await rooms.joinedMembers(db, roomId)).toHaveLength(7);
    expect(await local()).toEqual({ local: [alice, carol], count: 7 });
  });
});
