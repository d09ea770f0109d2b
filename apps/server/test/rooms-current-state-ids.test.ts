/**
 * The current state's IDs an event build asks for, kept in memory per state group
 * (rooms/current-state-ids.ts): read once per group and room, read again once the state moves,
 * and never kept from a write that rolled back — whose state group ID SQLite hands out again —
 * against a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildEvent } from '../src/services/rooms/create-event.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { joinRoom } from '../src/services/rooms/membership.ts';
import { loadRoom } from '../src/services/rooms/room-store.ts';
import { rulesOf } from '../src/services/rooms/service.ts';
import type { SqlExecutor } from '../src/storage/index.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';
const bob = '@bob:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const message = (roomId: string, sender: string, body: string) => ({
  roomId,
  type: 'm.room.message',
  sender,
  content: { msgtype: 'm.text', body },
});

/** `db` with a count of its reads of `room_current_state`. */
function counting(db: SqlExecutor): { db: SqlExecutor; reads: () => number } {
  let reads = 0;
  const count = (sql: string): string => {
    if (sql.includes('FROM room_current_state')) reads++;
    return sql;
  };
  return {
    db: {
      query: (sql, params) => db.query(count(sql), params),
      queryOne: (sql, params) => db.queryOne(count(sql), params),
      execute: (sql, params) => db.execute(sql, params),
      afterCommit: (callback) => db.afterCommit(callback),
      beforeCommit: (work) => db.beforeCommit(work),
    },
    reads: () => reads,
  };
}

/**
 * Builds (not sends) bob's message in a transaction of its own, through the cache and without
 * it: the reads the first made; both must cite the same auth events.
 */
async function buildAsBob(roomId: string): Promise<number> {
  const { rooms } = server.services;
  return server.services.ctx.db.transaction(async (tx) => {
    const room = await loadRoom(tx, roomId);
    if (room === undefined) throw new Error('no room');
    const probe = counting(tx);
    const draft = message(roomId, bob, 'hello');
    const rules = rulesOf(room.roomVersion);
    const cached = await buildEvent(
      probe.db,
      rooms.ctx,
      rooms.events,
      room,
      rules,
      draft,
      rooms.currentStateIds,
    );
    const reads = probe.reads();
    const direct = await buildEvent(tx, rooms.ctx, rooms.events, room, rules, draft);
    expect(cached.pdu['auth_events']).toEqual(direct.pdu['auth_events']);
    expect(cached.pdu['auth_events']).toHaveLength(3);
    return reads;
  });
}

const publicRoom = () =>
  createRoom(server.services.rooms, {
    creator: alice,
    creatorDevice: 'DEV',
    preset: 'public_chat',
  });

describe('current state IDs in memory', () => {
  it('reads them once per state group, and again when the state moves', async () => {
    const { rooms } = server.services;
    const roomId = await publicRoom();
    await joinRoom(rooms, roomId, bob);
    expect(await buildAsBob(roomId)).toBe(1);
    // Committed: the next build at the same state reads nothing.
    expect(await buildAsBob(roomId)).toBe(0);
    await rooms.send(message(roomId, alice, 'not a state change'));
    expect(await buildAsBob(roomId)).toBe(0);
    await rooms.send({
      roomId,
      type: 'm.room.topic',
      stateKey: '',
      sender: alice,
      content: { topic: 'moved' },
    });
    expect(await buildAsBob(roomId)).toBe(1);
    expect(await buildAsBob(roomId)).toBe(0);
  });

  it('keeps nothing read in a savepoint that rolled back, whose group ID comes back', async () => {
    const { rooms } = server.services;
    const roomId = await publicRoom();
    await joinRoom(rooms, roomId, bob);
    const groupOf = async () => (await loadRoom(server.services.ctx.db, roomId))?.currentStateGroup;
    let rolledBackGroup: number | null | undefined;
    let committedGroup: number | null | undefined;
    await rooms.write(async (send, tx) => {
      await expect(
        tx.savepoint(async () => {
          // Bob kicked: a new state group, in which bob's send is refused…
          await send({
            roomId,
            type: 'm.room.member',
            stateKey: bob,
            sender: alice,
            content: { membership: 'leave' },
          });
          rolledBackGroup = (await loadRoom(tx, roomId))?.currentStateGroup;
          await send(message(roomId, bob, 'refused'));
        }),
      ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
      // …then rolled back; the next state change gets the same group ID with bob still joined.
      // Built without the cache, so nothing it reads replaces what the refused send read.
      const room = await loadRoom(tx, roomId);
      if (room === undefined) throw new Error('no room');
      const topic = await buildEvent(tx, rooms.ctx, rooms.events, room, rulesOf(room.roomVersion), {
        roomId,
        type: 'm.room.topic',
        stateKey: '',
        sender: alice,
        content: { topic: 'after the rollback' },
      });
      await rooms.persistBuilt(tx, room, topic);
      committedGroup = (await loadRoom(tx, roomId))?.currentStateGroup;
    });
    expect(committedGroup).toBe(rolledBackGroup);
    expect(await groupOf()).toBe(committedGroup);
    // Had the refused send's reads been kept, bob would be refused at that group now.
    const sent = await rooms.send(message(roomId, bob, 'allowed'));
    expect(sent).toMatch(/^\$/);
  });
});
