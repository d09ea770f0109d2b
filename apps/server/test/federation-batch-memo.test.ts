/**
 * The memo of stored events one inbound `/send` batch shares between its PDUs
 * (services/federation/event-handler/batch-memo.ts), against a real, migrated SQLite file: it
 * answers an event it read before without reading it again, and after a PDU's SAVEPOINT rolls
 * back, `forget` makes it read again — an event the rolled-back PDU wrote is no longer stored,
 * and an event the batch reads next must not be answered from what the rollback took back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { BatchMemo } from '../src/services/federation/event-handler/batch-memo.ts';
import type { Database, SqlExecutor } from '../src/storage/index.ts';
import { migrate } from '../src/storage/migrate.ts';
import { openSqlite } from '../src/storage/sqlite.ts';

let dir: string;
let db: Database;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'weft-batch-memo-'));
  db = openSqlite({ path: join(dir, 'memo.db') });
  await migrate(db);
});

afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Stores a minimal event row (what `loadDagEvents` reads: its PDU JSON and rejected flag). */
async function storeEvent(tx: SqlExecutor, eventId: string, body: string): Promise<void> {
  const pdu = {
    room_id: '!memo:remote.test',
    type: 'm.room.message',
    sender: '@alice:remote.test',
    content: { body },
    depth: 1,
    origin_server_ts: 1,
    prev_events: [],
    auth_events: [],
  };
  await tx.execute(
    `INSERT INTO events (event_id, room_id, depth, type, sender, origin_server_ts, pdu, outlier)
     VALUES ($1, $2, 1, 'm.room.message', $3, 1, $4, 1)`,
    [eventId, pdu.room_id, pdu.sender, JSON.stringify(pdu)],
  );
}

/** The `content.body` of each event the memo answers for `ids`. */
async function bodies(memo: BatchMemo, tx: SqlExecutor, ids: string[]): Promise<string[]> {
  const events = await memo.events(tx, ids);
  return [...events.values()].map((event) => String((event.content as { body: string }).body));
}

describe('BatchMemo', () => {
  it('answers events it read before without reading them again', async () => {
    await db.transaction(async (tx) => {
      await storeEvent(tx, '$kept', 'kept');
      const memo = new BatchMemo();
      expect(await bodies(memo, tx, ['$kept', '$absent'])).toEqual(['kept']);
      // Gone from the table, still in the memo: the second read did not touch the row.
      await tx.execute("DELETE FROM events WHERE event_id = '$kept'");
      expect(await bodies(memo, tx, ['$kept'])).toEqual(['kept']);
    });
  });

  it('after a rolled-back savepoint, forget drops what the rolled-back writes put there', async () => {
    await db.transaction(async (tx) => {
      const memo = new BatchMemo();
      // One PDU of the batch stores an event, which the memo reads; then the PDU fails.
      await expect(
        tx.savepoint(async () => {
          await storeEvent(tx, '$rolled-back', 'first attempt');
          expect(await bodies(memo, tx, ['$rolled-back'])).toEqual(['first attempt']);
          throw new Error('the PDU failed');
        }),
      ).rejects.toThrow('the PDU failed');
      memo.forget();
      // The rollback took the row back: the memo must not answer it any more.
      expect(await bodies(memo, tx, ['$rolled-back'])).toEqual([]);
      // A later PDU stores the same event ID again: its own content is what is read.
      await storeEvent(tx, '$rolled-back', 'second attempt');
      expect(await bodies(memo, tx, ['$rolled-back'])).toEqual(['second attempt']);
    });
  });
});
