/**
 * Migration 0128 gives `erased_users` the stream position of each erasure. An erasure recorded
 * before it (a data directory from before the column) counts as having come before every event,
 * so its user's events are served redacted to everyone — the erasure the user asked for
 * (client-server-api "POST /account/deactivate", `erase`), never less.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { registerUsers, startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const PASSWORD = 'correct horse battery staple';

describe('migration 0128 (erasure stream positions)', () => {
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('serves the events of a user erased before it redacted to every viewer', async () => {
    server = await startTestServer();
    const [alice, bob] = await registerUsers(server, ['alice', 'bob']);
    if (alice === undefined || bob === undefined) throw new Error('users not registered');
    const roomId = await createRoom(server, alice, [], {
      preset: 'public_chat',
      topic: 'from alice',
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 100 } },
    });
    await call(server, bob, 'POST', `${V3}/join/${enc(roomId)}`, {});
    const eventId = await sendText(server, alice, roomId, 'from alice');
    // Bob's topic copies Alice's in `unsigned.prev_content`.
    const topicId = (
      await call(server, bob, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.topic`, {
        topic: 'from bob',
      })
    )['event_id'];
    const prevTopic = async (on: TestServer, user: TestUser) =>
      (await call(on, user, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(topicId)}`))['unsigned'][
        'prev_content'
      ];
    await call(server, alice, 'POST', `${V3}/account/deactivate`, {
      erase: true,
      auth: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: alice.userId },
        password: PASSWORD,
      },
    });
    const path = `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`;
    // Bob saw the message before the erasure: he keeps it in full.
    expect((await call(server, bob, 'GET', path))['content']['body']).toBe('from alice');
    expect((await prevTopic(server, bob))['topic']).toBe('from alice');

    // As a data directory from before 0128: the erasure is recorded without its position.
    const { dataDir } = server;
    await server.services.ctx.db.transaction(async (tx) => {
      await tx.execute('ALTER TABLE erased_users DROP COLUMN stream_position');
      await tx.execute("DELETE FROM schema_migrations WHERE name LIKE '0128-%'");
    });
    await server.stop();
    server = await startTestServer({ dataDir });

    const rows = await server.services.ctx.db.query<Json>(
      'SELECT user_id, stream_position FROM erased_users',
    );
    expect(rows.map((row) => [row['user_id'], Number(row['stream_position'])])).toEqual([
      [alice.userId, 0],
    ]);
    // Position 0: nobody could see the events before the erasure, Bob included.
    expect((await call(server, bob, 'GET', path))['content']).toEqual({});
    // The copy of her topic in Bob's topic event too (room v11 keeps no topic).
    expect(await prevTopic(server, bob)).toEqual({});
  }, 60_000);
});
