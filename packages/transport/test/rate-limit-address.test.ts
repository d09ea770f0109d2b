/**
 * Unauthenticated requests are rate-limited per client address, not in one shared bucket: the
 * peer's address comes from `PlainRequest.remoteAddress` (`answer`, both when an endpoint matches
 * as sent and when Hono routes it), or from @hono/node-server's `env.incoming` (`fetch`);
 * `X-Forwarded-For` counts only from a peer `trustedProxy` names. Handlers see that same address
 * as `clientAddress` (login counts failed passwords per user and client address).
 */
import { createMatrixApp, type MatrixAppOptions, TokenBucketRateLimiter } from '@weft/transport';
import { describe, expect, it } from 'vitest';

function makeApp(options: MatrixAppOptions<string> = {}) {
  const keys: string[] = [];
  const limiter = new TokenBucketRateLimiter({ burst: 1, perSecond: 0.001, now: () => 0 });
  const take = limiter.take.bind(limiter);
  limiter.take = (key, cost) => {
    keys.push(key);
    return take(key, cost);
  };
  const app = createMatrixApp<string>({ rateLimiter: limiter, ...options });
  app.endpoint({
    method: 'POST',
    path: '/login',
    auth: 'none',
    rateLimit: true,
    handler: () => ({}),
  });
  return { app, keys };
}

const plain = (remoteAddress: string | undefined, headers: string[] = [], target = '/login') => ({
  method: 'POST',
  target,
  rawHeaders: headers,
  body: new TextEncoder().encode('{}'),
  ...(remoteAddress !== undefined ? { remoteAddress } : {}),
});

describe('rate-limit keys of unauthenticated requests', () => {
  it('answer: one address exhausting its bucket leaves another address alone', async () => {
    const { app, keys } = makeApp();
    expect((await app.answer(plain('10.0.0.1'))).status).toBe(200);
    expect((await app.answer(plain('10.0.0.1'))).status).toBe(429);
    expect((await app.answer(plain('10.0.0.2'))).status).toBe(200);
    expect(keys).toEqual(['address:10.0.0.1', 'address:10.0.0.1', 'address:10.0.0.2']);
  });

  it('answer: a target routed by Hono (not matched as sent) keeps its peer address', async () => {
    const { app, keys } = makeApp();
    expect((await app.answer(plain('10.0.0.1', [], '/./login'))).status).toBe(200);
    expect((await app.answer(plain('10.0.0.1', [], '/./login'))).status).toBe(429);
    expect((await app.answer(plain('10.0.0.2', [], '/./login'))).status).toBe(200);
    expect(keys).toEqual(['address:10.0.0.1', 'address:10.0.0.1', 'address:10.0.0.2']);
  });

  it('answer without a remote address: the shared anonymous bucket, as before', async () => {
    const { app, keys } = makeApp();
    expect((await app.answer(plain(undefined))).status).toBe(200);
    expect(keys).toEqual(['anonymous']);
  });

  it('fetch: the Node adapter socket address in env.incoming', async () => {
    const { app, keys } = makeApp();
    const post = (address: string) =>
      app.fetch(new Request('http://h/login', { method: 'POST', body: '{}' }), {
        incoming: { socket: { remoteAddress: address } },
      });
    expect((await post('2001:db8:1::1')).status).toBe(200);
    expect((await post('2001:db8:1::1')).status).toBe(429);
    expect((await post('2001:db8:2::1')).status).toBe(200);
    expect(keys).toEqual([
      'address:2001:db8:1:0::/64',
      'address:2001:db8:1:0::/64',
      'address:2001:db8:2:0::/64',
    ]);
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy', async () => {
    const { app, keys } = makeApp();
    await app.answer(plain('10.0.0.1', ['X-Forwarded-For', '1.2.3.4']));
    const trusting = makeApp({ trustedProxy: (address) => address === '10.0.0.9' });
    await trusting.app.answer(plain('10.0.0.1', ['X-Forwarded-For', '1.2.3.4']));
    expect([...keys, ...trusting.keys]).toEqual(['address:10.0.0.1', 'address:10.0.0.1']);
  });

  it('takes the right-most untrusted X-Forwarded-For entry from a trusted proxy', async () => {
    const proxies = new Set(['10.0.0.9', '10.0.0.8']);
    const { app, keys } = makeApp({ trustedProxy: (address) => proxies.has(address) });
    // A client may send its own X-Forwarded-For; only what trusted proxies appended counts.
    await app.answer(
      plain('10.0.0.9', ['X-Forwarded-For', 'spoofed, 1.2.3.4', 'x-forwarded-for', '10.0.0.8']),
    );
    await app.answer(plain('10.0.0.9', ['X-Forwarded-For', '10.0.0.8']));
    await app.answer(plain('10.0.0.9'));
    await app.answer(plain('10.0.0.9', ['X-Forwarded-For', ' , 5.6.7.8']));
    expect(keys).toEqual([
      'address:1.2.3.4',
      'address:10.0.0.8',
      'address:10.0.0.9',
      'address:5.6.7.8',
    ]);
  });

  it('a clientAddress option still wins, falling back to the peer when it has none', async () => {
    const { app, keys } = makeApp({ clientAddress: (c) => c.req.header('x-test') });
    await app.answer(plain('10.0.0.1', ['x-test', 'given']));
    await app.answer(plain('10.0.0.1'));
    expect(keys).toEqual(['address:given', 'address:10.0.0.1']);
  });
});

describe('the client address handlers see', () => {
  /** An app whose endpoints answer the `clientAddress` their handler received. */
  function echoApp(options: MatrixAppOptions<string> = {}) {
    const app = createMatrixApp<string>({
      rateLimiter: new TokenBucketRateLimiter({ burst: 100, perSecond: 1 }),
      ...options,
    });
    for (const rateLimit of [true, false]) {
      app.endpoint({
        method: 'POST',
        path: rateLimit ? '/limited' : '/unlimited',
        auth: 'none',
        rateLimit,
        handler: ({ clientAddress }) => ({ address: clientAddress ?? null }),
      });
    }
    return app;
  }
  const addressOf = async (answer: Promise<{ body: string | Uint8Array }>) => {
    const { body } = await answer;
    return JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(body)).address;
  };

  it("the peer's address, whether or not the endpoint is rate-limited", async () => {
    const app = echoApp();
    for (const target of ['/limited', '/unlimited', '/./limited']) {
      expect(await addressOf(app.answer(plain('10.0.0.1', [], target)))).toBe('10.0.0.1');
      const spoofed = plain('10.0.0.1', ['X-Forwarded-For', '1.2.3.4'], target);
      expect(await addressOf(app.answer(spoofed))).toBe('10.0.0.1');
    }
    expect(await addressOf(app.answer(plain(undefined, [], '/limited')))).toBe(null);
    const viaFetch = app.fetch(new Request('http://h/limited', { method: 'POST', body: '{}' }), {
      incoming: { socket: { remoteAddress: '::1' } },
    });
    expect(await (await viaFetch).json()).toEqual({ address: '::1' });
  });

  it('the forwarded client through a trusted proxy, as the rate-limit key has it', async () => {
    const proxies = new Set(['10.0.0.9', '10.0.0.8']);
    const keys: string[] = [];
    const limiter = new TokenBucketRateLimiter({ burst: 100, perSecond: 1 });
    const take = limiter.take.bind(limiter);
    limiter.take = (key, cost) => {
      keys.push(key);
      return take(key, cost);
    };
    const app = echoApp({ rateLimiter: limiter, trustedProxy: (a) => proxies.has(a) });
    const headers = ['X-Forwarded-For', 'spoofed, 1.2.3.4', 'X-Forwarded-For', '10.0.0.8'];
    for (const target of ['/limited', '/unlimited', '/./limited']) {
      expect(await addressOf(app.answer(plain('10.0.0.9', headers, target)))).toBe('1.2.3.4');
    }
    // Only from a trusted peer.
    expect(await addressOf(app.answer(plain('10.0.0.1', headers, '/limited')))).toBe('10.0.0.1');
    expect(keys).toEqual(['address:1.2.3.4', 'address:1.2.3.4', 'address:10.0.0.1']);
  });
});
