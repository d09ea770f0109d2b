/**
 * Unread counts kept per (user, room) (`unread_counts`, migration 0100): they survive a restart,
 * and the migration fills them for a data directory written before the table existed, with the
 * counts `/sync` gave when it counted `event_push_actions` on every response.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { afterAll, describe, expect, it } from 'vitest';

import { registerUsers, startTestServer, type TestServer } from './harness.ts';
import { call, createRoom, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

describe('kept unread counts on restart', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop().catch(() => {});
  });

  async function counts(server: TestServer, user: TestUser, roomId: string) {
    return (await sync(server, user))['rooms']['join'][roomId]['unread_notifications'];
  }

  it('are the same after a restart, and after the migration fills them afresh', async () => {
    const first = await startTestServer();
    servers.push(first);
    const [alice, bob, carol] = await registerUsers(first, ['alice', 'bob', 'carol']);
    const quiet = await createRoom(first, alice, [bob, carol]);
    const busy = await createRoom(first, carol, [bob]);
    const read = await sendText(first, alice, quiet, 'read this');
    await sendText(first, alice, quiet, 'not this');
    await call(first, bob, 'POST', `${V3}/rooms/${enc(quiet)}/receipt/m.read/${enc(read)}`, {});
    for (let i = 0; i < 3; i++) await sendText(first, carol, busy, `busy ${i}`);
    await call(first, carol, 'PUT', `${V3}/rooms/${enc(busy)}/send/m.room.message/m1`, {
      msgtype: 'm.text',
      body: 'hey bob',
      'm.mentions': { user_ids: [bob.userId] },
    });
    const expectedQuiet = { notification_count: 1, highlight_count: 0 };
    const expectedBusy = { notification_count: 4, highlight_count: 1 };
    expect(await counts(first, bob, quiet)).toEqual(expectedQuiet);
    expect(await counts(first, bob, busy)).toEqual(expectedBusy);
    await first.stop();

    const second = await startTestServer({ dataDir: first.dataDir });
    servers.push(second);
    expect(await counts(second, bob, quiet)).toEqual(expectedQuiet);
    expect(await counts(second, bob, busy)).toEqual(expectedBusy);
    await second.stop();

    // As a data directory from before migration 0100: no table, the migration not recorded.
    const file = new DatabaseSync(join(first.dataDir, 'weft.db'));
    file.exec('DROP TABLE unread_counts');
    file.exec("DELETE FROM schema_migrations WHERE name LIKE '0100-%'");
    file.close();
    const third = await startTestServer({ dataDir: first.dataDir });
    servers.push(third);
    expect(await counts(third, bob, quiet)).toEqual(expectedQuiet);
    expect(await counts(third, bob, busy)).toEqual(expectedBusy);
    // Carol sent everything in the busy room and read nothing in the quiet one.
    expect(await counts(third, carol, busy)).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(await counts(third, carol, quiet)).toEqual({
      notification_count: 2,
      highlight_count: 0,
    });
    // And they keep counting from there.
    await sendText(third, carol, busy, 'after the migration');
    expect(await counts(third, bob, busy)).toEqual({ notification_count: 5, highlight_count: 1 });
  });
});
