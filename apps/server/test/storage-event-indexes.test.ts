/**
 * `events_by_room_state_key` (migration 0102) and `events_membership` (0021) hold state events
 * only and still serve the queries that read one state key's history: a message adds no entry,
 * the per-event history visibility and membership reads seek them. Since 0103 they and
 * `events_by_room_position` hold only events with a stream position (an outlier adds no entry),
 * and the readers that compare positions still seek them. `event_txn_ids` is one
 * B-tree (0022, `WITHOUT ROWID`) and keeps the rows it had. On real SQLite files.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EARLIER_REDACTIONS } from '../src/services/rooms/redaction-applies.ts';
import { openSqlite } from '../src/storage/sqlite.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const plan = async (sql: string): Promise<string> =>
  (
    await server.services.ctx.db.query<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, [
      '!r',
      '@u',
    ])
  )
    .map((row) => row.detail)
    .join('\n');

describe('events_by_room_state_key', () => {
  it('is partial and serves the member and history-visibility reads', async () => {
    const index = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_by_room_state_key'",
    );
    expect(index?.sql).toMatch(/WHERE\s+state_key IS NOT NULL AND stream_position IS NOT NULL/);
    expect(
      await plan(`SELECT stream_position, pdu FROM events
        WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2
          AND stream_position IS NOT NULL ORDER BY stream_position`),
    ).toContain('events_by_room_state_key');
    // A user's membership at a position (services/sync/store.ts): `<=` implies NOT NULL.
    expect(
      await plan(`SELECT event_id, pdu, stream_position FROM events
        WHERE room_id = $1 AND type = 'm.room.member' AND state_key = $2 AND stream_position <= 7
        ORDER BY stream_position DESC LIMIT 1`),
    ).toContain('events_by_room_state_key');
    expect(
      await plan(`SELECT stream_position, pdu FROM events
        WHERE room_id = $1 AND type = 'm.room.history_visibility' AND state_key = ''
          AND stream_position IS NOT NULL AND $2 = $2 ORDER BY stream_position`),
    ).toContain('events_by_room_state_key');
  });
});

describe('events_membership', () => {
  it('is partial and serves one user’s member events', async () => {
    const index = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_membership'",
    );
    expect(index?.sql).toMatch(/WHERE\s+state_key IS NOT NULL AND stream_position IS NOT NULL/);
    // RoomService.membershipChanges and the notification list's joined stretches.
    expect(
      await plan(`SELECT event_id FROM events
        WHERE type = 'm.room.member' AND state_key = $1
          AND stream_position > 0 AND stream_position <= 100 AND $2 = $2 ORDER BY stream_position`),
    ).toContain('events_membership');
    expect(
      await plan(`SELECT room_id, stream_position, pdu FROM events
        WHERE type = 'm.room.member' AND state_key = $1 AND stream_position IS NOT NULL
          AND room_id IN (SELECT room_id FROM room_memberships WHERE user_id = $2)
        ORDER BY stream_position`),
    ).toContain('events_membership');
  });
});

describe('events_by_room_position', () => {
  it('holds positioned events only and serves the timeline and state-at-position reads', async () => {
    const index = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'events_by_room_position'",
    );
    expect(index?.sql).toMatch(/WHERE\s+stream_position IS NOT NULL/);
    // services/rooms/timeline.ts (both directions) and RoomService's state at a position.
    for (const sql of [
      `SELECT event_id FROM events WHERE room_id = $1 AND stream_position > 0
        AND stream_position <= 100 AND $2 = $2 ORDER BY stream_position DESC LIMIT 10`,
      `SELECT event_id FROM events WHERE room_id = $1 AND stream_position <= 100 AND $2 = $2
        ORDER BY stream_position DESC LIMIT 1`,
      `SELECT event_id FROM events WHERE room_id = $1 AND stream_position IS NOT NULL AND $2 = $2
        ORDER BY stream_position LIMIT 1`,
    ]) {
      expect(await plan(sql)).toContain('events_by_room_position');
    }
  });
});

describe('event_txn_ids', () => {
  it('is WITHOUT ROWID and keeps the rows written before migrations 0022 and 0120 (and the extremities 0023)', async () => {
    const table = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'event_txn_ids'",
    );
    expect(table?.sql).toMatch(/WITHOUT ROWID/);
    // Migration 0023, likewise: a send replaces its room's extremity in one B-tree.
    const extremities = await server.services.ctx.db.queryOne<{ sql: string }>(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'room_forward_extremities'",
    );
    expect(extremities?.sql).toMatch(/WITHOUT ROWID/);

    const first = await startTestServer();
    const alice = await first.client.registerUser('alice');
    const created = await first.client.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: {},
    });
    const path = `/_matrix/client/v3/rooms/${String(created.body['room_id'])}/send/m.room.message/t1`;
    const sent = await first.client.request('PUT', path, {
      token: alice.accessToken,
      body: { msgtype: 'm.text', body: 'once' },
    });
    expect(sent.status).toBe(200);
    await first.stop();
    // As a data directory from before 0022, 0023 and 0120: rowid tables, with the same rows, and
    // transaction IDs not scoped to their endpoint.
    const db = openSqlite({ path: join(first.dataDir, 'weft.db') });
    await db.transaction(async (tx) => {
      await tx.execute('ALTER TABLE event_txn_ids RENAME TO event_txn_ids_new');
      await tx.execute(`CREATE TABLE event_txn_ids (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL,
        event_id TEXT NOT NULL, PRIMARY KEY (user_id, device_id, txn_id))`);
      await tx.execute(
        `INSERT INTO event_txn_ids SELECT user_id, device_id, txn_id, event_id
           FROM event_txn_ids_new`,
      );
      await tx.execute('DROP TABLE event_txn_ids_new');
      await tx.execute('ALTER TABLE room_forward_extremities RENAME TO extremities_new');
      await tx.execute(`CREATE TABLE room_forward_extremities (
        room_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (room_id, event_id))`);
      await tx.execute('INSERT INTO room_forward_extremities SELECT * FROM extremities_new');
      await tx.execute('DROP TABLE extremities_new');
      await tx.execute(
        `DELETE FROM schema_migrations
          WHERE name LIKE '0022-%' OR name LIKE '0023-%' OR name LIKE '0120-%'`,
      );
    });
    await db.close();

    const second = await startTestServer({ dataDir: first.dataDir });
    try {
      // The retry is answered with the first event: the migrated row is still there.
      const retried = await second.client.request('PUT', path, {
        token: alice.accessToken,
        body: { msgtype: 'm.text', body: 'once' },
      });
      expect(retried.body).toEqual(sent.body);
      const rows = await second.services.ctx.db.query('SELECT txn_id, scope FROM event_txn_ids');
      expect(rows).toEqual([
        {
          txn_id: 't1',
          scope: JSON.stringify(['send', String(created.body['room_id']), 'm.room.message']),
        },
      ]);
      // The room's extremity came through 0023: a new send cites the one before it.
      const next = await second.client.request('PUT', path.replace(/t1$/, 't2'), {
        token: alice.accessToken,
        body: { msgtype: 'm.text', body: 'twice' },
      });
      const event = await second.services.rooms.getEvent(String(next.body['event_id']));
      expect(event?.pdu['prev_events']).toEqual([sent.body['event_id']]);
    } finally {
      await second.stop();
    }
  });
});

describe('events_by_redacts', () => {
  it('serves the read of earlier redactions done for every event received over federation', async () => {
    // Not the room's (room_id, stream_position) index: that scans the whole room per event.
    const rows = await server.services.ctx.db.query<{ detail: string }>(
      `EXPLAIN QUERY PLAN ${EARLIER_REDACTIONS}`,
      ['$e'],
    );
    expect(rows.map((row) => row.detail).join('\n')).toMatch(/USING INDEX events_by_redacts/);
  });
});
