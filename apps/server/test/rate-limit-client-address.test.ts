/**
 * Requests without an access token are rate-limited per client address (the HTTP thread hands
 * each connection's remote address to the app), not in one bucket for everyone: a client
 * exhausting its bucket from one address does not make another address's `/login` 429.
 * `X-Forwarded-For` counts only from `trusted_proxies`. Failed logins are limited per target
 * user and client address (an IPv6 client by its /64), so nobody can lock a user out from
 * elsewhere, and do not count toward UIA's limit (spec "Rate limiting": 429
 * `M_LIMIT_EXCEEDED`, `retry_after_ms`).
 *
 * Clients bind to different loopback addresses (Linux routes all of 127/8 to lo).
 */
import { request as httpRequest } from 'node:http';

import { afterEach, describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { newIdentity, signingKeysBody } from './keys-cross-signing-suite.ts';

const PASSWORD = 'correct horse battery staple';

let server: TestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** One request from `localAddress`; the status and the JSON body. */
function send(
  from: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(path, (server as TestServer).url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        localAddress: from,
        agent: false,
        headers: {
          ...options.headers,
          ...(payload !== undefined ? { 'Content-Type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text === '' ? {} : JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const login = (from: string, user: string, password = PASSWORD) =>
  send(from, 'POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user }, password },
  });

const available = (from: string, headers: Record<string, string> = {}) =>
  send(from, 'GET', '/_matrix/client/v3/register/available?username=nobody', { headers });

/** Sends `/register/available` from `from` until it is refused; how many went through. */
async function exhaust(from: string, headers: Record<string, string> = {}): Promise<number> {
  for (let sent = 0; sent < 50; sent++) {
    const answer = await available(from, headers);
    if (answer.status === 429) return sent;
  }
  throw new Error('never limited');
}

describe('per-address rate limits of unauthenticated requests', () => {
  it("one address exhausting its bucket does not make another address's login 429", async () => {
    server = await startTestServer({ file: { rate_limit: { per_second: 0.001, burst: 5 } } });
    await server.client.registerUser('alice'); // from 127.0.0.1, 2 of its 5
    expect(await exhaust('127.0.0.2')).toBe(5);
    const refused = await available('127.0.0.2');
    expect(refused.status).toBe(429);
    expect(refused.body['errcode']).toBe('M_LIMIT_EXCEEDED');

    const answer = await login('127.0.0.1', 'alice');
    expect(answer.status).toBe(200);
    expect(answer.body['user_id']).toBe('@alice:test.local');
    // A third address has its own bucket too.
    expect((await available('127.0.0.3')).status).toBe(200);
  });

  it('ignores X-Forwarded-For by default', async () => {
    server = await startTestServer({ file: { rate_limit: { per_second: 0.001, burst: 2 } } });
    expect(await exhaust('127.0.0.2', { 'X-Forwarded-For': '192.0.2.1' })).toBe(2);
    expect((await available('127.0.0.2', { 'X-Forwarded-For': '192.0.2.2' })).status).toBe(429);
  });

  it('believes X-Forwarded-For from trusted_proxies only', async () => {
    server = await startTestServer({
      file: { rate_limit: { per_second: 0.001, burst: 2 }, trusted_proxies: ['127.0.0.5/32'] },
    });
    // Through the proxy: one bucket per forwarded client.
    expect(await exhaust('127.0.0.5', { 'X-Forwarded-For': '192.0.2.1' })).toBe(2);
    expect((await available('127.0.0.5', { 'X-Forwarded-For': '192.0.2.2' })).status).toBe(200);
    // A client prepending its own entry is still keyed by the address the proxy appended.
    const spoofed = { 'X-Forwarded-For': '192.0.2.9, 192.0.2.1' };
    expect((await available('127.0.0.5', spoofed)).status).toBe(429);
    // Not from the proxy: the header is ignored.
    expect(await exhaust('127.0.0.6', { 'X-Forwarded-For': '192.0.2.3' })).toBe(2);
    expect((await available('127.0.0.6', { 'X-Forwarded-For': '192.0.2.4' })).status).toBe(429);
  });

  it('trusted_proxies must be a list of IP addresses or CIDRs', () => {
    const build = (value: unknown) =>
      buildConfig({ trusted_proxies: value }, { dataDir: '/tmp/weft-unused' });
    expect(build(undefined).trustedProxies).toEqual([]);
    expect(build(['10.0.0.0/8', '::1']).trustedProxies).toEqual(['10.0.0.0/8', '::1']);
    expect(() => build('10.0.0.1')).toThrow(ConfigError);
    expect(() => build(['proxy.example'])).toThrow(ConfigError);
  });
});

describe('failed logins limited per target user and client address', () => {
  it('answers 429 after 5 failures from one address; other addresses and users log in', async () => {
    server = await startTestServer();
    await server.client.registerUser('alice');
    await server.client.registerUser('bob');
    for (let i = 0; i < 5; i++) {
      const answer = await login('127.0.0.10', 'alice', 'wrong password');
      expect(answer.status).toBe(403);
      expect(answer.body['errcode']).toBe('M_FORBIDDEN');
    }
    // The right password from that address: refused until the window ends.
    const refused = await login('127.0.0.10', 'alice');
    expect(refused.status).toBe(429);
    expect(refused.body['errcode']).toBe('M_LIMIT_EXCEEDED');
    expect(refused.body['retry_after_ms']).toBeGreaterThan(0);
    expect(refused.body['retry_after_ms']).toBeLessThanOrEqual(10 * 60_000);
    // Alice named another way is the same user.
    expect((await login('127.0.0.10', '@Alice:test.local')).status).toBe(429);
    // Alice from another address is not locked out.
    const fromB = await login('127.0.0.11', 'alice');
    expect(fromB.status).toBe(200);

    // Another user is not affected, a failure of theirs neither.
    expect((await login('127.0.0.10', 'bob', 'wrong password')).status).toBe(403);
    expect((await login('127.0.0.10', 'bob')).status).toBe(200);

    // UIA's password stages are unaffected by failed logins: Alice deletes a device with hers.
    const token = String(fromB.body['access_token']);
    const deviceId = String(fromB.body['device_id']);
    const auth = {
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'alice' },
      password: PASSWORD,
    };
    const deleted = await (server as TestServer).client.request(
      'DELETE',
      `/_matrix/client/v3/devices/${deviceId}`,
      { body: { auth }, token },
    );
    expect(deleted.status).toBe(200);
  });

  it('a refused device ID (a cross-signing key ID) is not a failed password', async () => {
    server = await startTestServer();
    const dave = await server.client.registerUser('dave');
    const identity = newIdentity();
    const upload = await server.client.request(
      'POST',
      '/_matrix/client/v3/keys/device_signing/upload',
      { token: dave.accessToken, body: signingKeysBody(dave, identity) },
    );
    expect(upload.status).toBe(200);
    for (let i = 0; i < 6; i++) {
      const answer = await send('127.0.0.1', 'POST', '/_matrix/client/v3/login', {
        body: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'dave' },
          password: PASSWORD,
          device_id: identity.master.publicKeyBase64,
        },
      });
      expect(answer.status).toBe(403);
    }
    expect((await login('127.0.0.1', 'dave')).status).toBe(200);
  });

  it('counts an IPv6 client by its /64, an IPv4-mapped one as its IPv4 address', async () => {
    server = await startTestServer({ file: { trusted_proxies: ['127.0.0.5/32'] } });
    await server.client.registerUser('erin');
    const via = (client: string, password?: string) =>
      send('127.0.0.5', 'POST', '/_matrix/client/v3/login', {
        headers: { 'X-Forwarded-For': client },
        body: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: 'erin' },
          password: password ?? PASSWORD,
        },
      });
    // Five failures spread over one /64 lock that /64 out, however its addresses are spelt.
    for (let i = 1; i <= 5; i++) expect((await via(`2001:db8::${i}`, 'wrong')).status).toBe(403);
    expect((await via('2001:0db8:0:0:ffff::9')).status).toBe(429);
    expect((await via('2001:db8:0:1::1')).status).toBe(200);
    // ::ffff:192.0.2.1 is 192.0.2.1.
    for (let i = 0; i < 5; i++) expect((await via('::ffff:192.0.2.1', 'wrong')).status).toBe(403);
    expect((await via('192.0.2.1')).status).toBe(429);
    expect((await via('192.0.2.2')).status).toBe(200);
  });

  it('a successful login clears the count', async () => {
    server = await startTestServer();
    await server.client.registerUser('carol');
    for (let i = 0; i < 4; i++) {
      expect((await login('127.0.0.1', 'carol', 'wrong')).status).toBe(403);
    }
    expect((await login('127.0.0.1', 'carol')).status).toBe(200);
    for (let i = 0; i < 4; i++) {
      expect((await login('127.0.0.2', 'carol', 'wrong')).status).toBe(403);
    }
    expect((await login('127.0.0.2', 'carol')).status).toBe(200);
  });
});
