/**
 * `/sync` keeps each user's memberships between long-polls (services/sync/service.ts
 * `#memberships`) while nothing is announced for the user: an invite, a join, a leave and a
 * forget must each still show (or stop showing) in the next sync.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('kept memberships across long-polls', () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await server.client.registerUser('alice');
    bob = await server.client.registerUser('bob');
  });
  afterAll(() => server.stop());

  it('follows invites, joins, leaves and forgets', async () => {
    const shared = await createRoom(server, alice, [bob]);
    let token: string = (await sync(server, alice))['next_batch'];
    const next = async (): Promise<Json> => {
      const body = await sync(server, alice, { since: token, timeout: 10_000 });
      token = body['next_batch'];
      return body;
    };
    // Two quiet-ish rounds fill the kept memberships.
    await sendText(server, bob, shared, 'one');
    expect(Object.keys((await next())['rooms']['join'])).toEqual([shared]);

    // An invite reaches a long-poll that was waiting on the kept rooms.
    const newRoom = await createRoom(server, bob);
    const waiting = next();
    await call(server, bob, 'POST', `${V3}/rooms/${enc(newRoom)}/invite`, {
      user_id: alice.userId,
    });
    expect(Object.keys((await waiting)['rooms']['invite'])).toEqual([newRoom]);

    // After joining, the new room's messages wake and reach her.
    await call(server, alice, 'POST', `${V3}/join/${enc(newRoom)}`, {});
    await next();
    const inNewRoom = next();
    await sendText(server, bob, newRoom, 'in the new room');
    const body = await inNewRoom;
    expect(body['rooms']['join'][newRoom]['timeline']['events'].at(-1)['content']['body']).toBe(
      'in the new room',
    );

    // Leaving, then forgetting before syncing: the room shows in neither section.
    await call(server, alice, 'POST', `${V3}/rooms/${enc(newRoom)}/leave`, {});
    await call(server, alice, 'POST', `${V3}/rooms/${enc(newRoom)}/forget`, {});
    const afterForget = await sync(server, alice, { since: token, timeout: 0 });
    expect(afterForget['rooms']['leave']).not.toHaveProperty(newRoom);
    expect(afterForget['rooms']['join']).not.toHaveProperty(newRoom);
    // And the shared room still wakes her.
    token = afterForget['next_batch'];
    const last = next();
    await sendText(server, bob, shared, 'still here');
    expect(Object.keys((await last)['rooms']['join'])).toEqual([shared]);
  });
});
