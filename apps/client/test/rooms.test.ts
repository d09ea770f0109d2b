/**
 * Room list, state and members, back-pagination, typing and receipts with real clients on a real
 * Weft server.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { WeftClient } from '../src/index.ts';
import { newClient, PASSPHRASE, readable, syncAll, tempDir } from './helpers.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

describe('rooms', () => {
  it('lists rooms with state and members, paginates back, and shows typing and receipts', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'alice-m');
    let bob = await newClient(server.url, dir, 'bob-m');
    const roomId = await alice.createRoom({
      name: 'Plans',
      policy: 'shared',
      invite: [bob.userId],
    });
    const plain = await alice.createRoom({ name: 'Open', policy: null });
    await syncAll(alice, bob);
    expect(bob.room(roomId).membership).toBe('invite');
    await bob.join(roomId);
    for (let i = 0; i < 12; i++) await alice.sendText(roomId, `m${i}`);
    await alice.sendText(plain, 'not encrypted');
    await syncAll(alice, bob);

    expect(
      alice
        .rooms()
        .map((r) => r.roomId)
        .sort(),
    ).toEqual([roomId, plain].sort());
    expect(alice.room(roomId).name).toBe('Plans');
    expect(alice.policy(roomId)?.mode).toBe('shared');
    expect(alice.policy(plain)).toBeUndefined();
    const plainEvent = alice.room(plain).timeline.find((e) => e.type === 'm.room.message');
    expect(plainEvent?.encrypted).toBe(false);
    expect(
      bob
        .room(roomId)
        .members()
        .filter((m) => m.membership === 'join')
        .map((m) => m.userId)
        .sort(),
    ).toEqual([alice.userId, bob.userId].sort());

    // Back-pagination in small pages reaches the start of the room.
    bob.dropHistory(roomId);
    let pages = 0;
    while ((await bob.loadOlder(roomId, 5)) > 0) pages += 1;
    expect(pages).toBeGreaterThan(2);
    expect(readable(bob, roomId)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`));
    // The cached pages come back from the store in the same order after a restart.
    await bob.close();
    bob = WeftClient.open({
      homeserver: server.url,
      storePath: join(dir, 'bob-m.db'),
      passphrase: PASSPHRASE,
    });
    expect(readable(bob, roomId)).toEqual(Array.from({ length: 12 }, (_, i) => `m${i}`));

    await bob.setTyping(roomId, true);
    await alice.syncOnce(0);
    expect(alice.room(roomId).typing).toEqual([bob.userId]);
    const last = bob.room(roomId).timeline.at(-1);
    if (last?.eventId === undefined) throw new Error('no last event');
    await bob.sendReceipt(roomId, last.eventId);
    await alice.syncOnce(0);
    expect(alice.room(roomId).receipts.get(bob.userId)).toBe(last.eventId);
  });

  it('syncs an account where another client wrote floats (a tag order) into account data', async () => {
    const password = 'password of tag-fan';
    const fan = await server.client.registerUser('tag-fan', password);
    const created = await server.client.request('POST', '/_matrix/client/v3/createRoom', {
      token: fan.accessToken,
      body: { name: 'Favourite' },
    });
    const roomId = String(created.body['room_id']);
    const user = encodeURIComponent(fan.userId);
    // What Element writes when a room is made a favourite.
    const tagged = await server.client.request(
      'PUT',
      `/_matrix/client/v3/user/${user}/rooms/${encodeURIComponent(roomId)}/tags/m.favourite`,
      { token: fan.accessToken, body: { order: 0.5 } },
    );
    expect(tagged.status).toBe(200);
    const client = WeftClient.open({
      homeserver: server.url,
      storePath: join(tempDir(), 'tag-fan.db'),
      passphrase: PASSPHRASE,
    });
    await client.login('tag-fan', password);
    await client.syncOnce(0);
    expect(client.rooms().map((room) => room.roomId)).toContain(roomId);
    expect(client.room(roomId).name).toBe('Favourite');
  });
});
