/**
 * Migration 0120 keys `event_txn_ids` by endpoint too (services/rooms/txn-scope.ts) and gives the
 * rows of an older database their scope: `/send`'s built in SQL, `/redact`'s from the redaction's
 * PDU, in batches. The database here was written by a server, then put back at the schema before
 * 0120; after the migration, retries of the old requests still get their first event (spec
 * client-server-api "Transaction identifiers"). On SQLite and on PostgreSQL, whose JSON quoting
 * must give the very strings `JSON.stringify` gives.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { redactTxnScope, sendTxnScope } from '../src/services/rooms/txn-scope.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['txnscopes']);

describe('migration 0120 (transaction ID scopes) with rows, on SQLite', () => {
  txnScopeSuite(() => ({}));
});
describe('migration 0120 (transaction ID scopes) with rows, on PostgreSQL', () => {
  txnScopeSuite(on('txnscopes'));
});

/** More redaction rows than the migration reads at once (its batch is 500). */
const MANY_REDACTIONS = 501;

function txnScopeSuite(options: () => TestServerOptions): void {
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it('gives the rows written before it their endpoint, and old retries their first event', async () => {
    server = await startTestServer(options());
    const alice = await server.client.registerUser('alice');
    const put = async (path: string, body: Record<string, unknown>) => {
      const answer = await (server as TestServer).client.request('PUT', path, {
        token: alice.accessToken,
        body,
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return String(answer.body['event_id']);
    };
    const created = await server.client.request('POST', `${V3}/createRoom`, {
      token: alice.accessToken,
      body: {},
    });
    const roomId = String(created.body['room_id']);
    // A type whose JSON form needs escapes (a quote, a backslash) and has a non-ASCII letter.
    const oddType = 'org.example."quoted"\\type.é';
    const paths = {
      message: `${V3}/rooms/${enc(roomId)}/send/m.room.message/m1`,
      odd: `${V3}/rooms/${enc(roomId)}/send/${enc(oddType)}/o1`,
      doomed: `${V3}/rooms/${enc(roomId)}/send/m.room.message/m2`,
    };
    const message = await put(paths.message, { msgtype: 'm.text', body: 'kept' });
    const odd = await put(paths.odd, { n: 1 });
    const doomed = await put(paths.doomed, { msgtype: 'm.text', body: 'redacted' });
    const redactPath = `${V3}/rooms/${enc(roomId)}/redact/${enc(doomed)}/r1`;
    const redaction = await put(redactPath, {});

    // As a database from before 0120: rows keyed without their endpoint. One row's event is
    // gone; many more point at the redaction, so the migration reads them in several batches.
    const { dataDir } = server;
    await server.services.ctx.db.transaction(async (tx) => {
      await tx.execute(`CREATE TABLE event_txn_ids_old (
        user_id TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL,
        event_id TEXT NOT NULL, PRIMARY KEY (user_id, device_id, txn_id))`);
      await tx.execute(
        `INSERT INTO event_txn_ids_old SELECT user_id, device_id, txn_id, event_id
           FROM event_txn_ids`,
      );
      const insert = `INSERT INTO event_txn_ids_old (user_id, device_id, txn_id, event_id)
        VALUES ($1, $2, $3, $4)`;
      await tx.execute(insert, [alice.userId, alice.deviceId, 'gone', '$no-such-event']);
      for (let i = 0; i < MANY_REDACTIONS; i += 1) {
        const txnId = `bulk-${String(i).padStart(4, '0')}`;
        await tx.execute(insert, [alice.userId, alice.deviceId, txnId, redaction]);
      }
      await tx.execute('DROP TABLE event_txn_ids');
      await tx.execute('ALTER TABLE event_txn_ids_old RENAME TO event_txn_ids');
      await tx.execute("DELETE FROM schema_migrations WHERE name LIKE '0120-%'");
    });
    await server.stop();
    server = await startTestServer({ ...options(), dataDir });

    // Each retry is answered with its first event: the migrated scope is the one looked up.
    expect(await put(paths.message, { msgtype: 'm.text', body: 'kept' })).toBe(message);
    expect(await put(paths.odd, { n: 1 })).toBe(odd);
    expect(await put(paths.doomed, { msgtype: 'm.text', body: 'redacted' })).toBe(doomed);
    expect(await put(redactPath, {})).toBe(redaction);

    const rows = await server.services.ctx.db.query<{ txn_id: string; scope: string }>(
      'SELECT txn_id, scope FROM event_txn_ids ORDER BY txn_id',
    );
    const redactScope = redactTxnScope(roomId, doomed);
    expect(rows.filter((row) => !row.txn_id.startsWith('bulk-'))).toEqual([
      { txn_id: 'm1', scope: sendTxnScope(roomId, 'm.room.message') },
      { txn_id: 'm2', scope: sendTxnScope(roomId, 'm.room.message') },
      { txn_id: 'o1', scope: sendTxnScope(roomId, oddType) },
      { txn_id: 'r1', scope: redactScope },
    ]);
    const bulk = rows.filter((row) => row.txn_id.startsWith('bulk-'));
    expect(bulk).toHaveLength(MANY_REDACTIONS);
    expect(new Set(bulk.map((row) => row.scope))).toEqual(new Set([redactScope]));
  });
}
