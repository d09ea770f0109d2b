/**
 * NUL (U+0000) on PostgreSQL, which refuses it in text (SQLSTATE 22021) where SQLite stores it:
 * a path parameter holding one (`%00` in a transaction ID) is refused with 400 M_INVALID_PARAM at
 * the edge, and one that reaches storage another way (a display name in a JSON body) is still a
 * 400, never a 500. The storage layer turns 22021 into an `invalid-text` StorageError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type Database, StorageError } from '../src/storage/index.ts';
import { openPostgres } from '../src/storage/postgres.ts';
import { type RegisteredUser, startTestServer, type TestServer } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

describe('NUL in text on PostgreSQL', () => {
  let postgres: TestPostgres;
  let server: TestServer;
  let db: Database;
  let alice: RegisteredUser;
  let roomId: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    const url = await postgres.createDatabase(`nultext_${process.pid}`);
    server = await startTestServer({
      file: { database: { backend: 'postgres', connection_string: url } },
    });
    db = await openPostgres({ connectionString: url });
    alice = await server.client.registerUser('alice');
    const created = await server.client.request('POST', '/_matrix/client/v3/createRoom', {
      token: alice.accessToken,
      body: {},
    });
    roomId = String(created.body['room_id']);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await server?.stop();
    await postgres?.stop();
  });

  it('refuses a NUL in a transaction ID with 400 M_INVALID_PARAM', async () => {
    const room = encodeURIComponent(roomId);
    const sent = await server.client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${room}/send/m.room.message/txn%00one`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } },
    );
    expect(sent.status).toBe(400);
    expect(sent.body['errcode']).toBe('M_INVALID_PARAM');

    const ok = await server.client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${room}/send/m.room.message/txn-two`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'hi' } },
    );
    expect(ok.status).toBe(200);
    const eventId = encodeURIComponent(String(ok.body['event_id']));
    const redacted = await server.client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${room}/redact/${eventId}/r%00`,
      { token: alice.accessToken, body: {} },
    );
    expect(redacted.status).toBe(400);
    expect(redacted.body['errcode']).toBe('M_INVALID_PARAM');

    const toDevice = await server.client.request(
      'PUT',
      '/_matrix/client/v3/sendToDevice/org.example.x/t%00',
      { token: alice.accessToken, body: { messages: {} } },
    );
    expect(toDevice.status).toBe(400);
    expect(toDevice.body['errcode']).toBe('M_INVALID_PARAM');
  });

  it('answers 400, not 500, for a NUL that reaches a TEXT column from a body', async () => {
    const user = encodeURIComponent(alice.userId);
    const set = await server.client.request(
      'PUT',
      `/_matrix/client/v3/profile/${user}/displayname`,
      { token: alice.accessToken, body: { displayname: 'a\u0000b' } },
    );
    expect(set.status).toBe(400);
    expect(set.body['errcode']).toBe('M_INVALID_PARAM');
  });

  it('turns SQLSTATE 22021 into an invalid-text StorageError', async () => {
    await db.execute('CREATE TABLE IF NOT EXISTS nul_probe (t TEXT)');
    const error = await db.execute('INSERT INTO nul_probe (t) VALUES ($1)', ['a\u0000b']).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as StorageError).code).toBe('invalid-text');
    const inTransaction = await db
      .transaction((tx) => tx.execute('INSERT INTO nul_probe (t) VALUES ($1)', ['\u0000']))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((inTransaction as StorageError).code).toBe('invalid-text');
  });
});
