/**
 * The federation address policy (`federation.allow_private_addresses`, `ip_range_whitelist`;
 * services/federation/https-fetch.ts with services/core/address-policy.ts): by default no
 * federation request connects to loopback, whether the destination's address comes from a
 * `hosts` entry, an IP literal server name or a DNS answer (`localhost:<port>`). A refused
 * destination fails at once (a `TransportError` caused by a `DeniedAddressError`), opens no
 * connection, fails a join with a 502 and puts the sender into backoff; `ip_range_whitelist`
 * with `127.0.0.1/32` lets a real join through. Every other federation test runs with
 * `allow_private_addresses: true` (federation-harness.ts).
 */
import { createServer, type Server } from 'node:https';
import { type AddressInfo, createServer as createTcpServer } from 'node:net';

import { TransportError } from '@weft/transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { DeniedAddressError } from '../src/services/core/address-policy.ts';
import { FederationSender } from '../src/services/federation/sender/queue.ts';
import {
  createTestCa,
  eventually,
  issueCert,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import { forwardExtremities, maxDepth } from './room-tip.ts';
import { createRoom } from './sync-helpers.ts';

describe('federation address policy config (config.ts)', () => {
  it('refuses private addresses by default, with no exceptions', () => {
    const config = buildConfig({}, { dataDir: '/tmp/x' });
    expect(config.federation.allowPrivateAddresses).toBe(false);
    expect(config.federation.ipRangeWhitelist).toEqual([]);
  });

  it('reads allow_private_addresses and ip_range_whitelist next to the other options', () => {
    const config = buildConfig(
      {
        federation: {
          allow_private_addresses: true,
          ip_range_whitelist: ['127.0.0.1/32', '10.1.0.0/16', 'fd00::/8', '192.168.1.7'],
          hosts: { 'b.test': '127.0.0.1:8449' },
        },
      },
      { dataDir: '/tmp/x' },
    );
    expect(config.federation.allowPrivateAddresses).toBe(true);
    expect(config.federation.ipRangeWhitelist).toEqual([
      '127.0.0.1/32',
      '10.1.0.0/16',
      'fd00::/8',
      '192.168.1.7',
    ]);
    expect(config.federation.hosts).toEqual({ 'b.test': '127.0.0.1:8449' });
  });

  it('names the bad entry of a malformed ip_range_whitelist', () => {
    const build = (federation: unknown) => () => buildConfig({ federation }, { dataDir: '/tmp/x' });
    for (const bad of ['127.0.0.1/33', 'fd00::/129', 'not-an-ip', '10.0.0/8', '10.0.0.0/x']) {
      expect(build({ ip_range_whitelist: ['10.0.0.0/8', bad] })).toThrow(ConfigError);
      expect(build({ ip_range_whitelist: ['10.0.0.0/8', bad] })).toThrow(
        `federation.ip_range_whitelist[1] is not an IP address or CIDR: "${bad}"`,
      );
    }
    expect(build({ ip_range_whitelist: '10.0.0.0/8' })).toThrow(
      'federation.ip_range_whitelist must be a list of CIDRs',
    );
    expect(build({ allow_private_addresses: 'yes' })).toThrow(ConfigError);
  });
});

/** A TLS server on loopback that counts every TCP connection made to it. */
async function countingServer(
  federation: { ca: ReturnType<typeof createTestCa> },
  name: string,
): Promise<{ server: Server; port: number; connections: () => number }> {
  const cert = issueCert(federation.ca, name);
  let connections = 0;
  const server = createServer({ cert: cert.cert, key: cert.key }, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"errcode":"M_UNRECOGNIZED","error":"counting server"}');
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

describe('the default policy (loopback refused)', () => {
  const REMOTE = 'b.test';
  const ca = createTestCa();
  let federation: TestFederation;
  let remote: Awaited<ReturnType<typeof countingServer>>;

  beforeAll(async () => {
    remote = await countingServer({ ca }, REMOTE);
    federation = await startFederation(['a.test'], {
      ca,
      extraHosts: { [REMOTE]: `127.0.0.1:${remote.port}` },
      // The harness allows loopback; this test puts the default back.
      file: { federation: { allow_private_addresses: false } },
    });
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
    remote?.server.close();
  });

  it('the counting server does count connections (a direct, unchecked request)', async () => {
    const before = remote.connections();
    await fetch(`https://127.0.0.1:${remote.port}/`).catch(() => undefined); // untrusted CA
    expect(remote.connections()).toBe(before + 1);
  });

  it('refuses a join through a server whose name resolves to 127.0.0.1, without connecting', async () => {
    const before = remote.connections();
    const client = federation.client('a.test');
    const user = await client.registerUser('alice');
    const response = await client.request(
      'POST',
      `/_matrix/client/v3/join/${encodeURIComponent(`!room:${REMOTE}`)}?via=${REMOTE}`,
      { body: {}, token: user.accessToken },
    );
    expect(response.status).toBe(502);
    expect(remote.connections()).toBe(before);
  });

  it('fails a federation request at once with a clear, final error', async () => {
    const before = remote.connections();
    const { client } = federation.server('a.test').services.federation;
    // A `hosts` entry, an IP literal server name, and a name the system resolver answers.
    for (const destination of [REMOTE, `127.0.0.1:${remote.port}`, `localhost:${remote.port}`]) {
      const error = await client.request(destination, 'GET', '/_matrix/federation/v1/version').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(TransportError.isInstance(error), `${destination}: ${String(error)}`).toBe(true);
      const transport = error as TransportError;
      expect(transport.code).toBe('network');
      expect(transport.cause).toBeInstanceOf(DeniedAddressError);
      expect(transport.message).toMatch(/address of the federation destination is not allowed/);
      expect(transport.message).toMatch(/127\.0\.0\.1|::1/);
      expect(transport.message).toMatch(/federation\.allow_private_addresses/);
    }
    expect(remote.connections()).toBe(before);
  });

  it('puts the sender into backoff for a refused destination, as for an unreachable one', async () => {
    const before = remote.connections();
    const { services } = federation.server('a.test');
    const sender = new FederationSender(services.ctx, services.federation.client, {
      baseMs: 3_600_000,
      maxMs: 3_600_000,
    });
    try {
      const edu = { edu_type: 'm.typing', content: { room_id: '!r:a.test', typing: false } };
      await sender.queueEdu([REMOTE], edu);
      await eventually(
        async () => sender.destinationStatus(REMOTE).failures === 1,
        'the first attempt to fail',
      );
      expect(sender.destinationStatus(REMOTE)).toEqual({
        attempts: 1,
        failures: 1,
        backingOff: true,
      });
      expect(await sender.pending(REMOTE)).toBe(1);
    } finally {
      sender.stop();
    }
    expect(remote.connections()).toBe(before);
  });
});

describe('ip_range_whitelist', () => {
  let federation: TestFederation;

  beforeAll(async () => {
    federation = await startFederation(['a.test', 'b.test'], {
      file: {
        federation: { allow_private_addresses: false, ip_range_whitelist: ['127.0.0.1/32'] },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
  });

  it('lets a join to servers on 127.0.0.1 through', async () => {
    const { roomId } = await joinedRoomAcross(federation, [
      ['a.test', 'alice'],
      ['b.test', 'bob'],
    ]);
    expect(federation.server('b.test').config.federation.allowPrivateAddresses).toBe(false);
    expect(roomId).toMatch(/^!.+:a\.test$/);
  }, 60_000);
});

describe('a refusal while handling a received PDU', () => {
  // The peer (whose keys are fetched from 127.0.0.1) signs; the transaction's origin resolves to
  // 127.0.0.2, outside the whitelist, so fetching the PDU's unknown auth event is refused.
  const ORIGIN = 'refused.test';
  let federation: TestFederation;
  let peer: TestPeer;

  beforeAll(async () => {
    const ca = createTestCa();
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    federation = await startFederation(['a.test'], {
      ca,
      extraHosts: { 'm.test': `127.0.0.1:${port}`, [ORIGIN]: '127.0.0.2:8448' },
      file: {
        federation: { allow_private_addresses: false, ip_range_whitelist: ['127.0.0.1/32'] },
      },
    });
    peer = await startTestPeer('m.test', port, ca, issueCert(ca, 'm.test'), federation.hosts);
  }, 60_000);

  afterAll(async () => {
    await federation?.close();
    await peer?.down();
  });

  it('tells the remote server a generic reason, without the refused address', async () => {
    const a = federation.server('a.test');
    const alice = await a.client.registerUser('alice');
    const roomId = await createRoom(a, alice, [], { preset: 'public_chat', room_version: '11' });
    const unknownAuth = `$${'A'.repeat(43)}`;
    const event = peer.sign(
      {
        auth_events: [unknownAuth],
        content: { membership: 'join' },
        depth: (await maxDepth(a, roomId)) + 1,
        origin_server_ts: Date.now(),
        prev_events: await forwardExtremities(a, roomId),
        room_id: roomId,
        sender: '@mallory:m.test',
        state_key: '@mallory:m.test',
        type: 'm.room.member',
      },
      '11',
    );
    // What `/send` (api/federation/send.ts) puts into `pdus[event_id].error`.
    const [outcome] = await a.services.federation.events.handleBatch(ORIGIN, [event.pdu]);
    expect(outcome).toEqual({
      eventId: event.eventId,
      status: 'rejected',
      error: `cannot fetch auth event ${unknownAuth}`,
    });
  });
});
