/**
 * Push gateway URLs cannot reach private networks (`push:` in weft.yaml, SSRF): with the default
 * config `POST /pushers/set` refuses a gateway on 127.0.0.1, on an IPv4-mapped loopback, on 10.x
 * or on a host name resolving to loopback (`localhost`), and a pusher set while the policy
 * allowed its address gets no notification once it does not: it is kept, and one warning without
 * the push key is logged for it (not one per event). `push.ip_range_whitelist` and `push.allow_private_addresses` let them
 * through. Real servers, a real gateway on 127.0.0.1, real DNS resolution of `localhost`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { createLog } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { AddressPolicy } from '../src/services/core/address-policy.ts';
import { PUSH_GATEWAY } from '../src/services/pushers/delivery.ts';
import { TestClient, type TestServer } from './harness.ts';
import { TestGateway } from './pushers-suite.ts';
import { call, createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';

/** A server with `push` as its `push:` section, logging warnings into `lines`. */
async function startWithPush(
  push: Json | undefined,
  lines: string[],
  dataDir = mkdtempSync(join(tmpdir(), 'weft-server-')),
): Promise<TestServer> {
  const config = buildConfig(
    { rate_limit: { per_second: 10_000, burst: 10_000 }, ...(push ? { push } : {}) },
    { dataDir, listen: '127.0.0.1:0', serverName: 'test.local' },
  );
  const server = await startServer(config, { log: createLog('warn', (l) => lines.push(l)) });
  return { ...server, config, dataDir, client: new TestClient(server.url) };
}

function pusher(pushkey: string, url: string): Json {
  return {
    kind: 'http',
    app_id: 'org.example.app',
    pushkey,
    app_display_name: 'Example',
    device_display_name: 'Phone',
    lang: 'en',
    data: { url },
  };
}

async function waitUntil(check: () => boolean, what: string, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('push gateway address policy', () => {
  const gateway = new TestGateway();
  let port: string;
  beforeAll(async () => {
    await gateway.start();
    port = new URL(gateway.url).port;
  });
  afterAll(async () => {
    await gateway.stop();
  });

  const url = (host: string) => `http://${host}:${port}/_matrix/push/v1/notify`;

  it('by default refuses loopback, private and localhost gateways at /pushers/set', async () => {
    const lines: string[] = [];
    const server = await startWithPush(undefined, lines);
    try {
      const alice: TestUser = await server.client.registerUser('alice');
      for (const target of [
        url('127.0.0.1'),
        url('[::ffff:127.0.0.1]'),
        url('[::1]'),
        url('10.0.0.1'),
        url('localhost'),
      ]) {
        const answer = await call(
          server,
          alice,
          'POST',
          `${V3}/pushers/set`,
          pusher('secret-key', target),
          400,
        );
        expect(answer['errcode'], target).toBe('M_INVALID_PARAM');
        expect(answer['error']).toContain('private, loopback or reserved address');
      }
      expect((await call(server, alice, 'GET', `${V3}/pushers`))['pushers']).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('keeps a pusher the policy no longer allows, delivers nothing to it and warns once', async () => {
    const lines: string[] = [];
    const first = await startWithPush({ allow_private_addresses: true }, lines);
    const alice: TestUser = await first.client.registerUser('alice');
    const bob: TestUser = await first.client.registerUser('bob');
    const keys = ['secret-key-loopback', 'secret-key-localhost'];
    try {
      await call(
        first,
        alice,
        'POST',
        `${V3}/pushers/set`,
        pusher(keys[0] as string, url('127.0.0.1')),
      );
      await call(
        first,
        alice,
        'POST',
        `${V3}/pushers/set`,
        pusher(keys[1] as string, url('localhost')),
      );
    } finally {
      await first.stop();
    }
    const server = await startWithPush(undefined, lines, first.dataDir);
    try {
      const roomId = await createRoom(server, bob, [alice]);
      await sendText(server, bob, roomId, 'hello');
      await sendText(server, bob, roomId, 'again');
      const denied = () => lines.filter((l) => l.includes('address not allowed'));
      // The invite and two messages: one warning per pusher, none retried.
      await waitUntil(() => denied().length >= 2, 'the refusals');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(denied()).toHaveLength(2);
      expect(gateway.requests).toEqual([]);
      for (const line of lines) expect(line).not.toContain('secret-key');
      const record = JSON.parse(denied()[0] as string) as Json;
      expect(record['level']).toBe('warn');
      expect(record['user_id']).toBe(alice.userId);
      const listed = (await call(server, alice, 'GET', `${V3}/pushers`))['pushers'] as Json[];
      expect(listed.map((p) => p['pushkey']).sort()).toEqual([...keys].sort());
    } finally {
      await server.stop();
    }
  });

  it('delivers to whitelisted ranges, and to any address with allow_private_addresses', async () => {
    for (const [push, host] of [
      [{ ip_range_whitelist: ['127.0.0.0/8'] }, '127.0.0.1'],
      [{ allow_private_addresses: true }, 'localhost'],
    ] as const) {
      const lines: string[] = [];
      const server = await startWithPush(push, lines);
      try {
        const alice: TestUser = await server.client.registerUser('alice');
        const bob: TestUser = await server.client.registerUser('bob');
        const key = `allowed-${host}`;
        await call(server, alice, 'POST', `${V3}/pushers/set`, pusher(key, url(host)));
        const roomId = await createRoom(server, bob, [alice]);
        const eventId = await sendText(server, bob, roomId, 'hello');
        await waitUntil(
          () => gateway.notifications(key).some((n) => n['event_id'] === eventId),
          `the notification to ${host}`,
        );
        expect(lines.filter((l) => l.includes('address not allowed'))).toEqual([]);
      } finally {
        await server.stop();
      }
    }
  });

  it('checks every address, IPv4-mapped ones by their IPv4 ranges', () => {
    const policy = new AddressPolicy(
      { allowPrivateAddresses: false, ipRangeWhitelist: [] },
      PUSH_GATEWAY,
    );
    for (const denied of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      'ff02::1',
      '::ffff:10.0.0.1',
      '64:ff9b:1::a00:1', // RFC 8215 local-use NAT64
      '::7f00:1', // IPv4-compatible 127.0.0.1
    ]) {
      expect(policy.allows(denied), denied).toBe(false);
    }
    for (const allowed of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(policy.allows(allowed), allowed).toBe(true);
    }
    const some = new AddressPolicy(
      { allowPrivateAddresses: false, ipRangeWhitelist: ['10.1.0.0/16', 'fd00:1::/32'] },
      PUSH_GATEWAY,
    );
    expect(some.allows('10.1.9.9')).toBe(true);
    expect(some.allows('10.2.0.1')).toBe(false);
    expect(some.allows('fd00:1::5')).toBe(true);
  });

  it('refuses a malformed push: section with a clear error', () => {
    const build = (push: unknown) =>
      buildConfig({ push }, { dataDir: tmpdir(), listen: '127.0.0.1:0' });
    expect(() => build({ ip_range_whitelist: ['10.0.0.0/33'] })).toThrow(ConfigError);
    expect(() => build({ ip_range_whitelist: ['nonsense'] })).toThrow(
      'push.ip_range_whitelist[0] is not an IP address or CIDR: "nonsense"',
    );
    expect(() => build({ ip_range_whitelist: '10.0.0.0/8' })).toThrow(ConfigError);
    expect(() => build({ allow_private_addresses: 'yes' })).toThrow(
      'push.allow_private_addresses has the wrong type',
    );
    expect(() => build([])).toThrow('push must be a map');
    expect(build(undefined).push).toEqual({ allowPrivateAddresses: false, ipRangeWhitelist: [] });
  });
});
