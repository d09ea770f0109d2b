/**
 * Rooms storage: state groups stored as deltas with bounded chains (a state event writes one
 * row, not the whole state), and everything — state, history, transaction IDs — read back the
 * same after a restart on the same data directory, with cold caches.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { currentStateEventIds, currentStateSql } from '../src/services/rooms/room-store.ts';
import { startTestServer, type TestServer } from './harness.ts';

const alice = '@alice:test.local';
let server: TestServer | undefined;
afterAll(async () => {
  await server?.stop();
});

describe('rooms storage', () => {
  it('stores state as deltas and reads the same state, history and txn IDs after a restart', async () => {
    server = await startTestServer();
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const positions: number[] = [];
    for (let i = 0; i < 150; i++) {
      await rooms.write((send) =>
        send({
          roomId,
          type: 'org.example.item',
          stateKey: `k${i}`,
          sender: alice,
          content: { i },
        }),
      );
      positions.push(await currentStreamPosition(server.services.ctx.db));
    }
    const messageId = await rooms.send(
      { roomId, type: 'm.room.message', sender: alice, content: { body: 'last' } },
      { senderDevice: 'DEV', txnId: 'once' },
    );
    // 150 state events over ~10 base entries: full copies would be > 11,000 rows; deltas with a
    // snapshot every 64 groups stay within a few hundred.
    const rows = await server.services.ctx.db.queryOne<{ n: number }>(
      'SELECT COUNT(*) AS n FROM state_group_entries',
    );
    expect(Number(rows?.n)).toBeLessThan(600);

    const dataDir = server.dataDir;
    await server.stop();
    server = await startTestServer({ dataDir });
    const after = server.services.rooms;
    const state = await after.currentState(roomId);
    for (let i = 0; i < 150; i++)
      expect(state.has(stateKeyOf('org.example.item', `k${i}`))).toBe(true);
    const mid = await after.stateAtPosition(roomId, positions[99] ?? 0);
    expect(mid.has(stateKeyOf('org.example.item', 'k99'))).toBe(true);
    expect(mid.has(stateKeyOf('org.example.item', 'k100'))).toBe(false);
    expect(mid.size).toBe(state.size - 50);
    const item = await after.getEvent(mid.get(stateKeyOf('org.example.item', 'k42')) ?? '');
    expect(item?.pdu['content']).toEqual({ i: 42 });

    const again = await after.send(
      { roomId, type: 'm.room.message', sender: alice, content: { body: 'last' } },
      { senderDevice: 'DEV', txnId: 'once' },
    );
    expect(again).toBe(messageId);
    const now = await currentStreamPosition(server.services.ctx.db);
    const tail = await after.timeline(roomId, { toPosition: now, limit: 3 });
    expect(tail.events.map((e) => e.stateKey ?? e.type)).toEqual([
      'k148',
      'k149',
      'm.room.message',
    ]);
  });

  it("reads a send's auth state by primary key, not by scanning the room's current state", async () => {
    server ??= await startTestServer();
    const { rooms, ctx } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    for (let i = 0; i < 40; i++) {
      await rooms.write((send) =>
        send({ roomId, type: 'org.example.item', stateKey: `k${i}`, sender: alice, content: {} }),
      );
    }
    const other = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const keys = [
      ['m.room.create', ''],
      ['m.room.member', alice],
      ['org.example.item', 'k7'],
      ['m.room.member', '@nobody:test.local'],
    ] as const;
    const ids = await currentStateEventIds(ctx.db, roomId, keys);
    const state = await rooms.currentState(roomId);
    expect([...ids.keys()].sort()).toEqual(
      [
        stateKeyOf('m.room.create', ''),
        stateKeyOf('m.room.member', alice),
        stateKeyOf('org.example.item', 'k7'),
      ].sort(),
    );
    for (const [key, id] of ids) expect(id).toBe(state.get(key));
    // The other room's entries for the same keys are not this room's.
    const otherIds = await currentStateEventIds(ctx.db, other, keys);
    expect(otherIds.get(stateKeyOf('m.room.create', ''))).not.toBe(
      ids.get(stateKeyOf('m.room.create', '')),
    );
    expect(otherIds.has(stateKeyOf('org.example.item', 'k7'))).toBe(false);
    // SQLite's plan: one search on the whole key (room, type, state key) per entry.
    const plan = await ctx.db.query<{ detail: string }>(
      `EXPLAIN QUERY PLAN ${currentStateSql(keys.length)}`,
      [roomId, ...keys.flat()],
    );
    const searches = plan.map((row) => row.detail).filter((d) => d.includes('room_current_state'));
    expect(searches).toEqual([
      expect.stringMatching(/\(room_id=\? AND type=\? AND state_key=\?\)/),
    ]);
  });
});
