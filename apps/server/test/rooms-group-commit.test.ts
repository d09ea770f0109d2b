/**
 * Group commit of sends (RoomService.send): sends that arrive while a transaction runs share
 * one transaction, keep their order, and a refused send fails alone (its own savepoint rolls
 * back; the others run once and commit) — against a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { changeMembership, joinRoom } from '../src/services/rooms/membership.ts';
import { forwardExtremities } from '../src/services/rooms/room-store.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';
const bob = '@bob:test.local';
const mallory = '@mallory:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

/** Counts the write transactions `work` runs (the database itself is real). */
async function countTransactions<T>(work: () => Promise<T>): Promise<{ result: T; count: number }> {
  const db = server.services.ctx.db;
  const original = db.transaction.bind(db);
  let count = 0;
  db.transaction = ((fn: Parameters<typeof original>[0]) => {
    count++;
    return original(fn);
  }) as typeof db.transaction;
  try {
    return { result: await work(), count };
  } finally {
    db.transaction = original;
  }
}

describe('group commit of sends', () => {
  it('commits concurrent sends together, in the order they were made', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      preset: 'public_chat',
    });
    await joinRoom(rooms, roomId, bob);
    const { result: ids, count } = await countTransactions(() =>
      Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          rooms.send(
            {
              roomId,
              type: 'm.room.message',
              sender: i % 2 === 0 ? alice : bob,
              content: { body: `m${i}` },
            },
            { senderDevice: 'DEV', txnId: `order-${i}` },
          ),
        ),
      ),
    );
    // The queue is flushed after the event loop turn that made them: one transaction for all.
    expect(count).toBe(1);
    expect(new Set(ids).size).toBe(10);
    const position = await currentStreamPosition(server.services.ctx.db);
    const slice = await rooms.timeline(roomId, { toPosition: position, limit: 10 });
    expect(slice.events.map((event) => event.eventId)).toEqual(ids);
    expect(slice.events.map((event) => (event.pdu['content'] as { body: string }).body)).toEqual(
      Array.from({ length: 10 }, (_, i) => `m${i}`),
    );
  });

  it('refuses one send of a batch alone; the others commit', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const send = (sender: string, body: string) =>
      rooms.send({ roomId, type: 'm.room.message', sender, content: { body } });
    const before = await currentStreamPosition(server.services.ctx.db);
    const { result: outcomes, count } = await countTransactions(() =>
      Promise.allSettled([
        send(alice, 'first'),
        send(alice, 'second'),
        send(mallory, 'not a member'),
        send(alice, 'third'),
      ]),
    );
    // One transaction: the refused send's savepoint rolled back, the others were not re-run.
    expect(count).toBe(1);
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(before + 3);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const refused = outcomes[2] as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const position = await currentStreamPosition(server.services.ctx.db);
    const slice = await rooms.timeline(roomId, { toPosition: position, limit: 3 });
    expect(slice.events.map((event) => (event.pdu['content'] as { body: string }).body)).toEqual([
      'first',
      'second',
      'third',
    ]);
  });

  it('sends one event for a transaction ID repeated inside one batch', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const before = await currentStreamPosition(server.services.ctx.db);
    const draft = { roomId, type: 'm.room.message', sender: alice, content: { body: 'once' } };
    const [, first, second] = await Promise.all([
      // One batch: the second repeat sees the first one's transaction ID row.
      rooms.send({ ...draft, content: { body: 'ahead' } }),
      rooms.send(draft, { senderDevice: 'DEV', txnId: 'repeat' }),
      rooms.send(draft, { senderDevice: 'DEV', txnId: 'repeat' }),
    ]);
    expect(second).toBe(first);
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(before + 2);
  });

  it('answers a repeated transaction ID with the first event, even once the room refuses the sender', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEV',
      preset: 'public_chat',
    });
    await joinRoom(rooms, roomId, bob);
    const draft = { roomId, type: 'm.room.message', sender: bob, content: { body: 'retried' } };
    const first = await rooms.send(draft, { senderDevice: 'BOB', txnId: 'retry' });
    const before = await currentStreamPosition(server.services.ctx.db);
    // A send alone in its transaction: the retry fails at its transaction ID's insert.
    expect(await rooms.send(draft, { senderDevice: 'BOB', txnId: 'retry' })).toBe(first);
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(before);
    // Bob leaves: a new send is refused, the retry still gets the event it made.
    await changeMembership(rooms, { roomId, sender: bob, target: bob, membership: 'leave' });
    const left = await currentStreamPosition(server.services.ctx.db);
    await expect(
      rooms.send(draft, { senderDevice: 'BOB', txnId: 'after-leaving' }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(await rooms.send(draft, { senderDevice: 'BOB', txnId: 'retry' })).toBe(first);
    // The same transaction ID from another device is another send (and refused now).
    await expect(
      rooms.send(draft, { senderDevice: 'OTHER', txnId: 'retry' }),
    ).rejects.toMatchObject({ errcode: 'M_FORBIDDEN' });
    expect(await currentStreamPosition(server.services.ctx.db)).toBe(left);
  });

  it('chains a batch: each event cites the one before, and the last is the only extremity', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, { creator: alice, creatorDevice: 'DEV' });
    const [before] = await forwardExtremities(server.services.ctx.db, roomId);
    const ids = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        rooms.send({ roomId, type: 'm.room.message', sender: alice, content: { body: `c${i}` } }),
      ),
    );
    const events = await Promise.all(ids.map((id) => rooms.getEvent(id)));
    expect(events.map((event) => event?.pdu['prev_events'])).toEqual([
      [before],
      ...ids.slice(0, -1).map((id) => [id]),
    ]);
    expect(await forwardExtremities(server.services.ctx.db, roomId)).toEqual([ids.at(-1)]);
  });
});
