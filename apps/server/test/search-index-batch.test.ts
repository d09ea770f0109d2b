/**
 * The search index is written at the end of an event's transaction, out of every savepoint
 * (services/search/service.ts, storage `beforeCommit`): a batch of sends, each in its own
 * savepoint as group commit runs them, adds one FTS5 segment rather than one per event; a send
 * rolled back with its savepoint leaves no index row; a redaction later in the same transaction
 * still removes its target's row — against a real SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createRoom } from '../src/services/rooms/create-room.ts';
import { startTestServer, type TestServer } from './harness.ts';

let server: TestServer;
const alice = '@alice:test.local';

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const message = (roomId: string, body: string) => ({
  roomId,
  type: 'm.room.message',
  sender: alice,
  content: { msgtype: 'm.text', body },
});

/** A private room of alice's. */
const privateRoom = () =>
  createRoom(server.services.rooms, {
    creator: alice,
    creatorDevice: 'DEV',
    preset: 'private_chat',
  });

/** The stream positions of the events whose body holds `word` (the index's rowids). */
const found = async (word: string): Promise<number[]> => {
  const rows = await server.services.ctx.db.query<{ rowid: number }>(
    'SELECT rowid FROM event_search WHERE event_search MATCH $1 ORDER BY rowid',
    [word],
  );
  return rows.map((row) => row.rowid);
};

/** Rows of the FTS5 index's data table: its structure record, averages and segment pages. */
const dataRows = async (): Promise<number> => {
  const row = await server.services.ctx.db.queryOne<{ n: number }>(
    'SELECT count(*) AS n FROM event_search_data',
  );
  return Number(row?.n);
};

describe('search index writes at the end of the transaction', () => {
  it('indexes a batch of sends in savepoints as one segment, without the rolled-back one', async () => {
    const { rooms } = server.services;
    const roomId = await privateRoom();
    const words = ['aardvark', 'bandicoot', 'capybara', 'dugong', 'echidna', 'fossa'];
    const before = await dataRows();
    const positions = await rooms.write(async (send, tx) => {
      const sent: (number | null | undefined)[] = [];
      for (const word of words) {
        sent.push((await tx.savepoint(() => send(message(roomId, word)))).streamPosition);
      }
      await expect(
        tx.savepoint(async () => {
          await send(message(roomId, 'gerenuk'));
          throw new Error('this send fails');
        }),
      ).rejects.toThrow('this send fails');
      return sent;
    });
    for (const [i, word] of words.entries()) expect(await found(word)).toEqual([positions[i]]);
    expect(await found('gerenuk')).toEqual([]);
    // One new segment of one leaf page: six words fit. Written inside each savepoint, FTS5
    // flushed a segment at every SAVEPOINT and RELEASE: six segment rows or more.
    expect((await dataRows()) - before).toBe(1);
  });

  it('removes an event sent and redacted in the same transaction', async () => {
    const { rooms } = server.services;
    const roomId = await privateRoom();
    await rooms.write(async (send, tx) => {
      await tx.savepoint(() => send(message(roomId, 'narwhal before')));
      const redacted = await tx.savepoint(() => send(message(roomId, 'quokka')));
      await send(message(roomId, 'narwhal between'));
      await send({
        roomId,
        type: 'm.room.redaction',
        sender: alice,
        content: { redacts: redacted.eventId },
        redacts: redacted.eventId,
      });
    });
    expect(await found('quokka')).toEqual([]);
    expect(await found('narwhal')).toHaveLength(2);
  });

  it('stores the batch when an index write fails, the event unindexed', async () => {
    const { rooms } = server.services;
    const db = server.services.ctx.db;
    const roomId = await privateRoom();
    await db.executeScript('ALTER TABLE event_search RENAME TO event_search_away');
    let sent: string[];
    try {
      sent = await rooms.write(async (send, tx) => [
        (await tx.savepoint(() => send(message(roomId, 'okapi')))).eventId,
        (await tx.savepoint(() => send(message(roomId, 'pangolin')))).eventId,
      ]);
    } finally {
      await db.executeScript('ALTER TABLE event_search_away RENAME TO event_search');
    }
    // Both sends committed (neither index row could be written)…
    for (const eventId of sent) expect(await rooms.getEvent(eventId)).toBeDefined();
    expect(await found('okapi')).toEqual([]);
    // …and the index takes the next event as before.
    const next = await rooms.write(async (send) => send(message(roomId, 'pangolin again')));
    expect(await found('pangolin')).toEqual([next.streamPosition]);
  });
});
