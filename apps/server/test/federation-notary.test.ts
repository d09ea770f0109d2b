/**
 * Key fetching through a notary (keys/notary.ts; spec server-server-api "Querying Keys Through
 * Another Server"): three real servers over TLS. A cannot reach b.test at all (its host map
 * sends b.test to a port nothing listens on), but c.test can, and A names c.test in
 * `federation.trusted_key_servers`. A user of B joins a room on A: A must verify B's X-Matrix
 * requests and B's join event, so it needs B's keys — and gets them from C's
 * `/_matrix/key/v2/query`, checking C's signature and B's self-signature. With C's key pinned
 * to a wrong value, A refuses C's answer and the join fails.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateSigningKey } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { type RunningServer, startServer } from '../src/server.ts';
import {
  createTestCa,
  federationConfigFile,
  issueCert,
  startFederation,
  type TestCa,
  type TestFederation,
} from './federation-harness.ts';
import { TestClient } from './harness.ts';
import { freePort } from './spawn.ts';

let ca: TestCa;
let federation: TestFederation;
const a = { dataDir: '', clientPort: 0, federationPort: 0, deadPort: 0 };
let serverA: RunningServer | undefined;
let bob: { accessToken: string };

/** Starts a.test, which reaches c.test but not b.test, with `trusted` as its notaries. */
async function startA(trusted: unknown[]): Promise<RunningServer> {
  const hosts = {
    'b.test': `127.0.0.1:${a.deadPort}`,
    'c.test': federation.hosts['c.test'] as string,
  };
  // A fresh client port per start: the test's fetch keeps connections to the previous one.
  a.clientPort = await freePort();
  const config = buildConfig(
    federationConfigFile(ca, issueCert(ca, 'a.test'), a.federationPort, hosts, {
      federation: { trusted_key_servers: trusted },
    }),
    { dataDir: a.dataDir, listen: `127.0.0.1:${a.clientPort}`, serverName: 'a.test' },
  );
  serverA = await startServer(config, { log: silentLog });
  return serverA;
}

async function createPublicRoom(server: RunningServer, creator: string): Promise<string> {
  const client = new TestClient(server.url);
  const alice = await client.registerUser(creator);
  const created = await client.request('POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    body: { preset: 'public_chat' },
  });
  expect(created.status).toBe(200);
  return String(created.body['room_id']);
}

async function joinFromB(roomId: string): Promise<number> {
  const joined = await federation
    .client('b.test')
    .request('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=a.test`, {
      token: bob.accessToken,
      body: {},
    });
  return joined.status;
}

beforeAll(async () => {
  ca = createTestCa();
  a.dataDir = mkdtempSync(join(tmpdir(), 'weft-notary-a-'));
  a.federationPort = await freePort();
  a.deadPort = await freePort();
  federation = await startFederation(['b.test', 'c.test'], {
    ca,
    extraHosts: { 'a.test': `127.0.0.1:${a.federationPort}` },
  });
  bob = await federation.client('b.test').registerUser('bob');
}, 60_000);

afterAll(async () => {
  await serverA?.stop();
  await federation?.close();
});

describe('server keys through a notary', () => {
  it('refuses a notary answer whose notary signature does not verify', async () => {
    const notaryKeyId = federation.server('c.test').services.ctx.signingKey.keyId;
    const server = await startA([
      {
        server_name: 'c.test',
        // C's key ID, pinned to some other key: C's real signature cannot verify under it.
        verify_keys: { [notaryKeyId]: generateSigningKey().publicKeyBase64 },
      },
    ]);
    const roomId = await createPublicRoom(server, 'alice1');
    expect(await joinFromB(roomId)).not.toBe(200);
    const stored = await server.services.ctx.db.query(
      'SELECT key_id FROM server_keys WHERE server_name = $1',
      ['b.test'],
    );
    expect(stored).toEqual([]);
    await server.stop();
    serverA = undefined;
  });

  it("gets an unreachable server's keys from the notary and verifies both signatures", async () => {
    const server = await startA([{ server_name: 'c.test' }]);
    const roomId = await createPublicRoom(server, 'alice2');
    expect(await joinFromB(roomId)).toBe(200);

    const bKeyId = federation.server('b.test').services.ctx.signingKey.keyId;
    const rows = await server.services.ctx.db.query<{ key_id: string; response: string }>(
      'SELECT key_id, response FROM server_keys WHERE server_name = $1',
      ['b.test'],
    );
    expect(rows.map((row) => row.key_id)).toEqual([bKeyId]);
    // The stored answer is B's own response as C vouched for it: signed by both.
    const response = JSON.parse(rows[0]?.response ?? '{}') as {
      signatures: Record<string, unknown>;
    };
    expect(Object.keys(response.signatures).sort()).toEqual(['b.test', 'c.test']);
    // C's key came from C itself (A can reach C).
    const notaryRows = await server.services.ctx.db.query(
      'SELECT key_id FROM server_keys WHERE server_name = $1',
      ['c.test'],
    );
    expect(notaryRows.length).toBe(1);
    const members = await server.services.rooms.members(roomId);
    expect(members).toContain('@bob:b.test');
  });
});
