/**
 * The whole server on PostgreSQL (a throwaway cluster from test/postgres.ts): register → login →
 * whoami → account data → sync, then a restart on the same database keeps it all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

describe('the server on PostgreSQL', () => {
  let postgres: TestPostgres;
  let server: TestServer;
  let connectionString: string;

  beforeAll(async () => {
    postgres = await startPostgres();
    connectionString = await postgres.createDatabase(`server_${process.pid}`);
    server = await startTestServer({
      file: { database: { backend: 'postgres', connection_string: connectionString } },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await postgres?.stop();
  });

  it('registers, logs in, answers whoami, stores account data, and keeps it across a restart', async () => {
    expect(server.config.database.backend).toBe('postgres');
    const { client } = server;
    const alice = await client.registerUser('alice', 'pg-password');
    const login = await client.request('POST', '/_matrix/client/v3/login', {
      body: {
        type: 'm.login.password',
        identifier: { type: 'm.id.user', user: 'alice' },
        password: 'pg-password',
      },
    });
    expect(login.status).toBe(200);
    const token = String(login.body['access_token']);
    const whoami = await client.request('GET', '/_matrix/client/v3/account/whoami', { token });
    expect(whoami.body).toMatchObject({
      user_id: alice.userId,
      device_id: login.body['device_id'],
    });

    const path = `/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/org.example.pg`;
    expect((await client.request('PUT', path, { token, body: { on: 'postgres' } })).status).toBe(
      200,
    );
    expect((await client.request('GET', path, { token })).body).toEqual({ on: 'postgres' });
    const sync = await client.request<{ account_data: { events: { type: string }[] } }>(
      'GET',
      '/_matrix/client/v3/sync',
      { token },
    );
    expect(sync.body.account_data.events.map((e) => e.type)).toContain('org.example.pg');

    await server.stop();
    server = await startTestServer({
      dataDir: server.dataDir,
      file: { database: { backend: 'postgres', connection_string: connectionString } },
    });
    const again = await server.client.request('GET', path, { token });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ on: 'postgres' });
  });
});
