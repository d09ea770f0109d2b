/**
 * One inbound `/send` transaction is stored in one database transaction, each PDU in its own
 * SAVEPOINT (services/federation/event-handler/handle-pdu.ts `handleBatch`): a PDU whose storing
 * fails with a database error is rolled back alone — its rows, and the after-commit callbacks
 * registered for it (announcements to `/sync`, cache entries) — while the transaction's other
 * PDUs commit. Run on a real SQLite file and on a real PostgreSQL, where the failed statement
 * also aborts the transaction until `ROLLBACK TO SAVEPOINT` (storage/commit-hooks.ts).
 *
 * Where the failure comes from: the batch's own steps write nothing after the services' timeline
 * hooks (sync's recent events, push's unread counts) have registered their callbacks, so the test
 * adds one more timeline listener, as the push service is one: it registers an after-commit
 * callback and then writes through the transaction into a table whose CHECK constraint refuses
 * the poisoned event — a real constraint violation, raised after every callback of that PDU is
 * registered.
 */
import { stateKeyOf } from '@weft/dag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { currentStreamPosition } from '../src/services/core/stream.ts';
import type { PduOutcome } from '../src/services/federation/event-handler/handle-pdu.ts';
import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer, TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';
import { forwardExtremities, maxDepth } from './room-tip.ts';
import { createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['receive_batch']);

const backends: ReadonlyArray<[string, () => TestServerOptions]> = [
  ['a SQLite file', () => ({})],
  ['PostgreSQL', on('receive_batch')],
];

describe.each(backends)('handleBatch on %s', (_name, options) => {
  let federation: TestFederation;
  let peer: TestPeer;
  let a: TestServer;
  let alice: TestUser;
  let roomId: string;

  /** An event of mallory's (unsigned) after `prev` at `depth`, authorized by the room's state. */
  async function malloryEvent(
    type: string,
    content: Json,
    prev: readonly string[],
    depth: number,
    stateKey?: string,
  ): Promise<Json> {
    const state = await a.services.rooms.currentState(roomId);
    const at = (type: string, key = ''): string => {
      for (const [k, id] of state) if (k === stateKeyOf(type, key)) return id;
      throw new Error(`no ${type} ${key} in the room`);
    };
    const joined = stateKey === undefined;
    return {
      auth_events: [
        at('m.room.create'),
        at('m.room.power_levels'),
        joined ? at('m.room.member', MALLORY) : at('m.room.join_rules'),
      ],
      content,
      depth,
      origin_server_ts: Date.now(),
      prev_events: prev,
      room_id: roomId,
      sender: MALLORY,
      type,
      ...(stateKey === undefined ? {} : { state_key: stateKey }),
    };
  }

  const handleBatch = (pdus: readonly unknown[]): Promise<PduOutcome[]> =>
    a.services.federation.events.handleBatch('m.test', pdus);

  beforeAll(async () => {
    ({ federation, peer } = await startFederationWithPeer(
      ['a.test'],
      'm.test',
      startTestPeer,
      options(),
    ));
    a = federation.server('a.test');
    alice = await a.client.registerUser('alice');
    roomId = await createRoom(a, alice, [], { preset: 'public_chat', room_version: ROOM_VERSION });
    const join = peer.sign(
      await malloryEvent(
        'm.room.member',
        { membership: 'join' },
        await forwardExtremities(a, roomId),
        (await maxDepth(a, roomId)) + 1,
        MALLORY,
      ),
      ROOM_VERSION,
    );
    expect(await handleBatch([join.pdu])).toEqual([{ eventId: join.eventId, status: 'accepted' }]);
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
    await peer?.down();
  });

  it('rolls back the PDU that fails and commits the others, without its after-commit callbacks', async () => {
    const db = a.services.ctx.db;
    const [mallorysJoin] = await forwardExtremities(a, roomId);
    const joinDepth = await maxDepth(a, roomId);
    const message = async (body: string, prev: string, depth: number) =>
      peer.sign(
        await malloryEvent('m.room.message', { msgtype: 'm.text', body }, [prev], depth),
        ROOM_VERSION,
      );
    const first = await message('first', mallorysJoin as string, joinDepth + 1);
    const second = await message('second', first.eventId, joinDepth + 2);
    // Last in the transaction, so nothing committed after it would overwrite what it left behind.
    const poisoned = await message('poisoned', second.eventId, joinDepth + 3);

    // Alice's counts are read (and cached by the push service) before the transaction.
    const before = await sync(a, alice);
    expect(before['rooms']['join'][roomId]['unread_notifications']).toEqual({
      notification_count: 0,
      highlight_count: 0,
    });

    // The ID after its `$` is base64url: no quote can occur in it, and no `$n` that the SQLite
    // executor would take for a placeholder.
    await db.execute(
      `CREATE TABLE batch_listener_rows
         (event_id TEXT NOT NULL CHECK (substr(event_id, 2) <> '${poisoned.eventId.slice(1)}'))`,
    );
    const announcedByListener: string[] = [];
    a.services.rooms.onTimelineEvent(async (tx, event) => {
      if (event.roomId !== roomId) return;
      tx.afterCommit(() => announcedByListener.push(event.eventId));
      await tx.execute('INSERT INTO batch_listener_rows (event_id) VALUES ($1)', [event.eventId]);
    });

    const outcomes = await handleBatch([first.pdu, second.pdu, poisoned.pdu]);
    expect(outcomes.slice(0, 2)).toEqual([
      { eventId: first.eventId, status: 'accepted' },
      { eventId: second.eventId, status: 'accepted' },
    ]);
    expect(outcomes[2]).toMatchObject({ eventId: poisoned.eventId, status: 'rejected' });
    expect((outcomes[2] as { error: string }).error).toBe('could not process event');

    // The rows: the first two events and everything written for them; nothing of the third.
    const stored = await db.query<{ event_id: string; stream_position: number | null }>(
      'SELECT event_id, stream_position FROM events WHERE event_id IN ($1, $2, $3)',
      [first.eventId, second.eventId, poisoned.eventId],
    );
    expect(stored.map((row) => row.event_id).sort()).toEqual(
      [first.eventId, second.eventId].sort(),
    );
    expect(stored.every((row) => row.stream_position !== null)).toBe(true);
    const pushed = (
      await a.services.push.notifications(alice.userId, {
        before: Number.MAX_SAFE_INTEGER,
        limit: 100,
        onlyHighlights: false,
      })
    ).filter((entry) => entry.roomId === roomId);
    // Push evaluated all three (it runs before the failing listener); the third's rows are gone.
    expect(pushed.map((entry) => entry.event.eventId).sort()).toEqual(
      [first.eventId, second.eventId].sort(),
    );
    const listenerRows = await db.query<{ event_id: string }>(
      'SELECT event_id FROM batch_listener_rows',
    );
    expect(listenerRows.map((row) => row.event_id).sort()).toEqual(
      [first.eventId, second.eventId].sort(),
    );
    expect(await forwardExtremities(a, roomId)).toEqual([second.eventId]);

    // The callbacks: the committed PDUs' ran, the rolled-back one's did not.
    expect(announcedByListener).toEqual([first.eventId, second.eventId]);
    // Nothing was announced beyond what committed.
    expect(a.services.ctx.notifier.position).toBe(await currentStreamPosition(db));
    // Alice's counts and timeline are the committed ones (two messages in a two-member room
    // notify).
    const after = await sync(a, alice, { since: before['next_batch'] });
    const room = after['rooms']['join'][roomId];
    expect(room['unread_notifications']).toEqual({ notification_count: 2, highlight_count: 0 });
    expect((room['timeline']['events'] as Json[]).map((event) => event['event_id'])).toEqual([
      first.eventId,
      second.eventId,
    ]);

    // The rolled-back PDU left nothing that marks it seen: resent once the table lets it in, it
    // is stored and announced like any other.
    await db.execute('DROP TABLE batch_listener_rows');
    await db.execute('CREATE TABLE batch_listener_rows (event_id TEXT NOT NULL)');
    expect(await handleBatch([poisoned.pdu])).toEqual([
      { eventId: poisoned.eventId, status: 'accepted' },
    ]);
    expect(announcedByListener).toEqual([first.eventId, second.eventId, poisoned.eventId]);
  });
});
