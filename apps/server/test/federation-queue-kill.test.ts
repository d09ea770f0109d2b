/**
 * No message lost when the sending server is killed (sender/queue.ts, spec server-server-api
 * "Transactions"): a real `weft-server` PROCESS with a TLS federation listener queues an event
 * for a peer that is down, is SIGKILLed, restarted on the same data directory, and delivers the
 * queued event to the peer once it is back.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  createPublicRoom,
  createTestCa,
  federationConfigYaml,
  issueCert,
} from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import { TestClient } from './harness.ts';
import { freePort, type SpawnedServer, spawnServer } from './spawn.ts';

let server: SpawnedServer | undefined;
let peer: TestPeer | undefined;

afterAll(async () => {
  await server?.kill();
  await peer?.down();
});

async function waitFor(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('outbound queue across a SIGKILL', () => {
  it('delivers a transaction queued before the kill after the restart', async () => {
    const ca = createTestCa();
    const [clientPort, federationPort, peerPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const hosts = {
      'a.test': `127.0.0.1:${federationPort}`,
      'm.test': `127.0.0.1:${peerPort}`,
    };
    server = await spawnServer({
      serverName: 'a.test',
      port: clientPort,
      configYaml: federationConfigYaml(ca, issueCert(ca, 'a.test'), federationPort, hosts),
    });
    const dataDir = server.dataDir;
    peer = await startTestPeer('m.test', peerPort, ca, issueCert(ca, 'm.test'), hosts);
    const client = new TestClient(server.url);
    const alice = await client.registerUser('alice');
    const roomId = await createPublicRoom(client, alice);
    const state = await client.request<Array<Record<string, string>>>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
      { token: alice.accessToken },
    );
    const idOf = (type: string) => state.body.find((event) => event['type'] === type)?.['event_id'];
    const latest = await client.request<{ chunk: Array<Record<string, string>> }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1`,
      { token: alice.accessToken },
    );
    const join = peer.sign(
      {
        auth_events: [
          idOf('m.room.create'),
          idOf('m.room.power_levels'),
          idOf('m.room.join_rules'),
        ],
        content: { membership: 'join' },
        depth: 100,
        origin_server_ts: Date.now(),
        prev_events: [latest.body.chunk[0]?.['event_id']],
        room_id: roomId,
        sender: '@mallory:m.test',
        state_key: '@mallory:m.test',
        type: 'm.room.member',
      },
      '11',
    );
    expect(await peer.send('a.test', 'join', [join.pdu])).toEqual({ pdus: { [join.eventId]: {} } });

    await peer.down();
    const sent = await client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/k1`,
      { token: alice.accessToken, body: { msgtype: 'm.text', body: 'queued before the kill' } },
    );
    expect(sent.status).toBe(200);
    // Let the first delivery attempt fail against the stopped peer, then kill without shutdown.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await server.kill();
    await peer.up();
    server = await spawnServer({
      serverName: 'a.test',
      port: clientPort,
      dataDir,
      configYaml: null,
    });
    const bodies = () =>
      (peer?.received ?? []).flatMap((txn) =>
        txn.pdus.map((pdu) => (pdu['content'] as Record<string, unknown>)['body']),
      );
    await waitFor('delivery after the restart', () => bodies().includes('queued before the kill'));
    expect(
      bodies().filter((body) => body === 'queued before the kill').length,
    ).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
