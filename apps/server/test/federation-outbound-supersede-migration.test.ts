/**
 * Migration 0129 keys the outbound queue's superseding rows (`federation_outbound.supersede_key`,
 * services/federation/sender/queue.ts): the `m.presence` EDUs an older server queued get the key,
 * so the next announcement still supersedes them (spec server-server-api "Presence": the queue
 * holds a destination's latest state, not every change), and no other row gets it. The database
 * here was written by a server, then put back at the schema before 0129, with more EDU rows than
 * the migration reads at once. On SQLite and on PostgreSQL.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { FederationSender } from '../src/services/federation/sender/queue.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases(['supersede']);

describe('migration 0129 (superseding outbound EDUs) with rows, on SQLite', () => {
  supersedeKeySuite(() => ({}));
});
describe('migration 0129 (superseding outbound EDUs) with rows, on PostgreSQL', () => {
  supersedeKeySuite(on('supersede'));
});

/** More EDU rows than the migration reads at once (its batch is 500). */
const MANY_TYPING = 501;

const update = (status_msg: string) => ({
  user_id: '@u:test.local',
  presence: 'online',
  status_msg,
});
const presence = (status: string) => ({
  edu_type: 'm.presence',
  content: { push: [update(status)] },
});

function supersedeKeySuite(options: () => TestServerOptions): void {
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  // Federation off: the restarted server does not try to deliver the rows the test reads.
  const start = (dataDir?: string) => {
    const base = options();
    return startTestServer({
      ...base,
      ...(dataDir === undefined ? {} : { dataDir }),
      file: { ...base.file, federation: { enabled: false } },
    });
  };

  it('keys the presence EDUs queued before it, which the next announcement supersedes', async () => {
    server = await start();
    const { dataDir } = server;
    const typing = { edu_type: 'm.typing', content: { room_id: '!r:test.local', typing: false } };
    // A to-device message naming m.presence inside its content: not a presence EDU.
    const toDevice = {
      edu_type: 'm.direct_to_device',
      content: { sender: '@u:test.local', type: 'm.presence', message_id: 'm1', messages: {} },
    };
    // As a database from before 0129, with rows as the older server queued them.
    await server.services.ctx.db.transaction(async (tx) => {
      await tx.execute('DROP INDEX federation_outbound_superseding');
      await tx.execute('ALTER TABLE federation_outbound DROP COLUMN supersede_key');
      await tx.execute("DELETE FROM schema_migrations WHERE name LIKE '0129-%'");
      const insert = (destination: string, kind: string, payload: unknown) =>
        tx.execute(
          'INSERT INTO federation_outbound (destination, kind, payload) VALUES ($1, $2, $3)',
          [destination, kind, JSON.stringify(payload)],
        );
      for (let i = 0; i < MANY_TYPING; i += 1) await insert('g.test', 'edu', typing);
      await insert('e.test', 'pdu', { type: 'm.room.message', content: { body: 'm.presence' } });
      await insert('e.test', 'edu', typing);
      await insert('e.test', 'edu', presence('old'));
      await insert('e.test', 'edu', toDevice);
      await insert('f.test', 'edu', presence('f'));
    });
    await server.stop();
    server = await start(dataDir);

    const db = server.services.ctx.db;
    const keyed = await db.query<{ destination: string; payload: string; supersede_key: string }>(
      `SELECT destination, payload, supersede_key FROM federation_outbound
        WHERE supersede_key IS NOT NULL ORDER BY id`,
    );
    expect(
      keyed.map((row) => [row.destination, JSON.parse(row.payload), row.supersede_key]),
    ).toEqual([
      ['e.test', presence('old'), 'm.presence'],
      ['f.test', presence('f'), 'm.presence'],
    ]);

    // A stopped sender: queueing wakes no destination.
    const sender = new FederationSender(server.services.ctx, server.services.federation.client);
    sender.stop();
    const seen: unknown[][] = [];
    await sender.queueSupersedingEdus(
      'm.presence',
      new Map([
        [
          'e.test',
          (pending: unknown[]) => {
            seen.push(pending);
            return [{ push: [update('new')] }];
          },
        ],
      ]),
    );
    expect(seen).toEqual([[presence('old').content]]);
    const forE = await db.query<{ kind: string; payload: string }>(
      "SELECT kind, payload FROM federation_outbound WHERE destination = 'e.test' ORDER BY id",
    );
    expect(forE.map((row) => [row.kind, JSON.parse(row.payload)])).toEqual([
      ['pdu', { type: 'm.room.message', content: { body: 'm.presence' } }],
      ['edu', typing],
      ['edu', toDevice],
      ['edu', presence('new')],
    ]);
    expect(await sender.pending('f.test')).toBe(1);
    expect(await sender.pending('g.test')).toBe(MANY_TYPING);
  }, 60_000);
}
