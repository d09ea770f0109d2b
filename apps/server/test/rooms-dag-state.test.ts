/**
 * `dagStateOf` (rooms/auth.ts), shared by the event build and the membership changes: a map of
 * state keys to event IDs becomes the DAG state the auth rules read — each event as stored, with
 * its `event_id` — and an ID the store does not hold is left out, never a hole in the map.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { dagStateOf } from '../src/services/rooms/auth.ts';
import { createRoom } from '../src/services/rooms/create-room.ts';
import { currentStateEventIds } from '../src/services/rooms/room-store.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('dagStateOf', () => {
  it('maps each state key to its stored event, with its ID, and leaves out unknown IDs', async () => {
    const { rooms } = server.services;
    const roomId = await createRoom(rooms, {
      creator: alice,
      creatorDevice: 'DEVICE',
      preset: 'private_chat',
      name: 'dag state',
    });
    const db = server.services.ctx.db;
    const keys: (readonly [string, string])[] = [
      ['m.room.create', ''],
      ['m.room.member', alice],
      ['m.room.name', ''],
    ];
    const ids = await currentStateEventIds(db, roomId, keys);
    expect(ids.size).toBe(3);
    // Read from the database, not the cache the creation just filled.
    for (const id of ids.values()) rooms.events.evict(id);
    const missingKey = stateKeyOf('m.room.topic', '');
    ids.set(missingKey, '$not-stored:test.local');

    const state = await dagStateOf(db, rooms.events, ids);

    expect([...state.keys()].sort()).toEqual(
      keys.map(([type, stateKey]) => stateKeyOf(type, stateKey)).sort(),
    );
    expect(state.has(missingKey)).toBe(false);
    for (const [key, event] of state) {
      expect(event.event_id).toBe(ids.get(key));
    }
    const name = state.get(stateKeyOf('m.room.name', ''));
    expect(name?.content).toEqual({ name: 'dag state' });
    expect(name?.sender).toBe(alice);
  });
});
