/**
 * Unread counts kept per (user, room) (`unread_counts`, migration 0100): they survive a restart;
 * and migration 0101, which stores push actions by room, carries over a data directory written
 * with one `event_push_actions` row per notified user: the same counts and the same
 * `GET /notifications` after it. On SQLite and on PostgreSQL.
 */
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { Database } from '../src/storage/index.ts';

import { migration as pushActions } from '../src/storage/migrations/0050-push-actions.ts';
import { migration as pushActionsByEvent } from '../src/storage/migrations/0053-push-actions-by-event.ts';
import { migration as unreadCounts } from '../src/storage/migrations/0100-unread-counts.ts';
import { openPostgres } from '../src/storage/postgres.ts';
import { openSqlite } from '../src/storage/sqlite.ts';
import {
  registerUsers,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { postgresDatabases } from './postgres.ts';
import { call, createRoom, type Json, sendText, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['unread']);

describe('kept unread counts on restart, on SQLite', () => {
  keptUnreadSuite(() => ({}));
});
describe('kept unread counts on restart, on PostgreSQL', () => {
  keptUnreadSuite(on('unread'));
});

/** The server's database, opened without migrating it (to put it back at an older schema). */
function openUnmigrated(server: TestServer, options: TestServerOptions): Promise<Database> {
  const database = options.file?.['database'] as { connection_string?: string } | undefined;
  if (database?.connection_string !== undefined) {
    return openPostgres({ connectionString: database.connection_string });
  }
  return Promise.resolve(openSqlite({ path: join(server.dataDir, 'weft.db') }));
}

function keptUnreadSuite(options: () => TestServerOptions): void {
  const servers: TestServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.stop().catch(() => {});
  });

  async function counts(server: TestServer, user: TestUser, roomId: string) {
    return (await sync(server, user))['rooms']['join'][roomId]['unread_notifications'];
  }

  /** Everything `GET /notifications` lists for a user. */
  async function listed(server: TestServer, user: TestUser) {
    const body = await call(server, user, 'GET', `${V3}/notifications?limit=100`);
    expect(body['next_token']).toBeUndefined();
    return body['notifications'].map((entry: Json) => ({
      eventId: entry['event']['event_id'],
      room: entry['room_id'],
      read: entry['read'],
      actions: entry['actions'],
      ts: entry['ts'],
    }));
  }

  it('are the same after a restart, and after migration 0101 carries the old rows over', async () => {
    const first = await startTestServer(options());
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

    const second = await startTestServer({ ...options(), dataDir: first.dataDir });
    servers.push(second);
    expect(await counts(second, bob, quiet)).toEqual(expectedQuiet);
    expect(await counts(second, bob, busy)).toEqual(expectedBusy);

    // As a data directory from before migration 0101: one `event_push_actions` row per notified
    // user (migrations 0050, 0053) — what `GET /notifications` listed — and `unread_counts` keyed
    // (user, room), filled by migration 0100 as the old server kept them.
    const listedBefore = {
      bob: await listed(second, bob),
      carol: await listed(second, carol),
      alice: await listed(second, alice),
    };
    await second.stop();
    let oldRows = 0;
    const db = await openUnmigrated(first, options());
    await db.transaction(async (tx) => {
      await tx.execute('DROP TABLE push_room_actions');
      await tx.execute('DROP TABLE push_user_actions');
      await tx.execute('DROP TABLE unread_counts');
      for (const statement of [...pushActions.statements, ...pushActionsByEvent.statements]) {
        await tx.execute(statement);
      }
      const [createUnread, fillUnread] = unreadCounts.statements;
      await tx.execute(String(createUnread));
      for (const [name, entries] of Object.entries(listedBefore)) {
        const user = { alice, bob, carol }[name as 'alice' | 'bob' | 'carol'];
        for (const entry of entries) {
          const highlight = entry.actions.some(
            (action: Json) => action?.['set_tweak'] === 'highlight' && action['value'] !== false,
          );
          oldRows += await tx.execute(
            `INSERT INTO event_push_actions
               (user_id, room_id, event_id, stream_position, notify, highlight, actions_json, ts)
             SELECT $1, room_id, event_id, stream_position, $2, $3, $4, $5
               FROM events WHERE event_id = $6`,
            [
              user.userId,
              entry.actions.includes('notify') ? 1 : 0,
              highlight ? 1 : 0,
              JSON.stringify(entry.actions),
              entry.ts,
              entry.eventId,
            ],
          );
        }
      }
      await tx.execute(String(fillUnread));
      await tx.execute("DELETE FROM schema_migrations WHERE name LIKE '0101-%'");
      // The tables 0101 creates again get the thread column of 0126 again.
      await tx.execute("DELETE FROM schema_migrations WHERE name LIKE '0126-%'");
    });
    await db.close();
    // Bob's invites and messages, carol's messages in the quiet room.
    expect(oldRows).toBeGreaterThanOrEqual(8);

    const third = await startTestServer({ ...options(), dataDir: first.dataDir });
    servers.push(third);
    expect(await counts(third, bob, quiet)).toEqual(expectedQuiet);
    expect(await counts(third, bob, busy)).toEqual(expectedBusy);
    // Carol sent everything in the busy room and read nothing in the quiet one.
    expect(await counts(third, carol, busy)).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(await counts(third, carol, quiet)).toEqual({
      notification_count: 2,
      highlight_count: 0,
    });
    expect(await listed(third, bob)).toEqual(listedBefore.bob);
    expect(await listed(third, carol)).toEqual(listedBefore.carol);
    expect(await listed(third, alice)).toEqual(listedBefore.alice);
    // And they keep counting from there, in both tables.
    await sendText(third, carol, busy, 'after the migration');
    expect(await counts(third, bob, busy)).toEqual({ notification_count: 5, highlight_count: 1 });
    const after = await listed(third, bob);
    expect(after.slice(1)).toEqual(listedBefore.bob);
    expect(after[0]).toMatchObject({ read: false, room: busy });
  });
}
