/**
 * The rooms service API that /sync reads (services/rooms/index.ts): memberships, membership
 * changes, timelines with pagination tokens, state at a stream position, the client event format.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentStreamPosition } from '../src/services/core/stream.ts';
import { toClientEvent } from '../src/services/rooms/client-event.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { changeMembership, joinRoom } from '../src/services/rooms/membership.ts';
import { parseRoomToken } from '../src/services/rooms/timeline.ts';
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

describe('RoomService', () => {
  it('creates a room whose state and memberships are readable, in every supported version', async () => {
    const { rooms } = server.services;
    for (const version of ['10', '11', '12']) {
      const roomId = await createRoom(rooms, {
        creator: alice,
        creatorDevice: 'DEV',
        roomVersion: version,
        name: `room ${version}`,
        invite: [bob],
      });
      const state = await rooms.currentState(roomId);
      expect(state.has(stateKeyOf('m.room.create', ''))).toBe(true);
      expect(state.has(stateKeyOf('m.room.power_levels', ''))).toBe(true);
      const name = await rooms.currentStateEvent(roomId, 'm.room.name', '');
      expect(name?.pdu['content']).toEqual({ name: `room ${version}` });
      expect((await rooms.membership(roomId, alice))?.membership).toBe('join');
      expect((await rooms.membership(roomId, bob))?.membership).toBe('invite');
      if (version === '12') {
        const create = await rooms.currentStateEvent(roomId, 'm.room.create', '');
        expect(roomId).toBe(`!${create?.eventId.slice(1)}`);
        expect(create?.pdu['room_id']).toBeUndefined();
      }
    }
  });

  it('returns timelines in stream order with limited flags and tokens that paginate', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const before = await currentStreamPosition(server.services.ctx.db);
    for (let i = 0; i < 5; i++) {
      await rooms.send(
        {
          roomId,
          type: 'm.room.message',
          sender: alice,
          content: { body: `m${i}`, msgtype: 'm.text' },
        },
        { senderDevice: 'DEV', txnId: `t${i}` },
      );
    }
    const now = await currentStreamPosition(server.services.ctx.db);
    const slice = await rooms.timeline(roomId, { fromPosition: before, toPosition: now, limit: 3 });
    expect(slice.limited).toBe(true);
    expect(slice.events.map((e) => (e.pdu['content'] as { body: string }).body)).toEqual([
      'm2',
      'm3',
      'm4',
    ]);
    const token = parseRoomToken(slice.prevBatch);
    expect(token).toBe((slice.events[0]?.streamPosition ?? 0) - 1);
    const all = await rooms.timeline(roomId, { fromPosition: before, toPosition: now, limit: 10 });
    expect(all.limited).toBe(false);
    expect(all.events).toHaveLength(5);

    const first = all.events[0];
    if (first === undefined) throw new Error('no events');
    const mine = toClientEvent(first, {
      now: Date.now(),
      viewer: { userId: alice, deviceId: 'DEV' },
      includeRoomId: false,
    });
    expect(mine['room_id']).toBeUndefined();
    expect((mine['unsigned'] as Record<string, unknown>)['transaction_id']).toBe('t0');
    const theirs = toClientEvent(first, {
      now: Date.now(),
      viewer: { userId: alice, deviceId: 'OTHER' },
    });
    expect(theirs['room_id']).toBe(roomId);
    expect((theirs['unsigned'] as Record<string, unknown>)['transaction_id']).toBeUndefined();
  });

  it('reports membership changes between positions and state at a past position', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      preset: 'public_chat',
    });
    const before = await currentStreamPosition(server.services.ctx.db);
    await joinRoom(rooms, roomId, bob);
    const joined = await currentStreamPosition(server.services.ctx.db);
    await changeMembership(rooms, { roomId, sender: bob, target: bob, membership: 'leave' });
    const after = await currentStreamPosition(server.services.ctx.db);
    const changes = await rooms.membershipChanges(bob, before, after);
    expect(changes.filter((c) => c.roomId === roomId).map((c) => c.membership)).toEqual([
      'join',
      'leave',
    ]);
    const atJoin = await rooms.stateAtPosition(roomId, joined);
    const memberAtJoin = (await rooms.getEvent(atJoin.get(stateKeyOf('m.room.member', bob)) ?? ''))
      ?.pdu['content'] as Record<string, unknown>;
    expect(memberAtJoin['membership']).toBe('join');
    const current = await rooms.currentStateEvent(roomId, 'm.room.member', bob);
    expect(current?.pdu['content']).toMatchObject({ membership: 'leave' });
    expect(current?.unsigned?.['prev_content']).toMatchObject({ membership: 'join' });
    expect((await rooms.roomsForUser(bob)).find((r) => r.roomId === roomId)?.membership).toBe(
      'leave',
    );
  });

  it('refuses an event the authorization rules reject, storing nothing', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const before = await currentStreamPosition(server.services.ctx.db);
    await expect(
      rooms.send({ roomId, type: 'm.room.message', sender: bob, content: { body: 'x' } }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(before);
  });
  it('makes v12 trusted_private_chat invitees additional creators, with no creator in power levels', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      roomVersion: '12',
      preset: 'trusted_private_chat',
      invite: [bob],
    });
    const create = await rooms.currentStateEvent(roomId, 'm.room.create', '');
    expect(create?.pdu['content']).toMatchObject({
      room_version: '12',
      additional_creators: [bob],
    });
    const power = await rooms.currentStateEvent(roomId, 'm.room.power_levels', '');
    expect((power?.pdu['content'] as Record<string, unknown> | undefined)?.['users']).toEqual({});
    // v10/v11: invitees of trusted_private_chat get the creator's level instead.
    const v11 = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      roomVersion: '11',
      preset: 'trusted_private_chat',
      invite: [bob],
    });
    const power11 = await rooms.currentStateEvent(v11, 'm.room.power_levels', '');
    expect((power11?.pdu['content'] as Record<string, unknown> | undefined)?.['users']).toEqual({
      [alice]: 100,
      [bob]: 100,
    });
  });

  it('gives m.room.tombstone level 150 in v12 (creators only) and 100 before', async () => {
    // Spec client-server "POST /createRoom": for room version 12 and higher the level for
    // m.room.tombstone "MUST explicitly be higher than state_default. For example, set to 150
    // instead of 100" (Synapse uses 150 when the room version privileges its creators).
    const { rooms } = server.services;
    const levels = async (version: string) => {
      const roomId = await createRoom(rooms, {
        creator: alice,
        creatorDevice: 'DEV',
        roomVersion: version,
      });
      const power = await rooms.currentStateEvent(roomId, 'm.room.power_levels', '');
      const content = power?.pdu['content'] as Record<string, unknown> | undefined;
      return content?.['events'] as Record<string, number> | undefined;
    };
    expect((await levels('12'))?.['m.room.tombstone']).toBe(150);
    expect((await levels('11'))?.['m.room.tombstone']).toBe(100);
    expect((await levels('10'))?.['m.room.tombstone']).toBe(100);
  });

  it('sends one event for concurrent requests with the same transaction ID', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const before = await currentStreamPosition(server.services.ctx.db);
    const ids = await Promise.all(
      Array.from({ length: 5 }, () =>
        rooms.send(
          { roomId, type: 'm.room.message', sender: alice, content: { body: 'once' } },
          { senderDevice: 'DEV', txnId: 'concurrent' },
        ),
      ),
    );
    expect(new Set(ids).size).toBe(1);
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(before + 1);
    // The same transaction ID from another device is a different transaction.
    const other = await rooms.send(
      { roomId, type: 'm.room.message', sender: alice, content: { body: 'once' } },
      { senderDevice: 'OTHER', txnId: 'concurrent' },
    );
    expect(other).not.toBe(ids[0]);
  });
});
