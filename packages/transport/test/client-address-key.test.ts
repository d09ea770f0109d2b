/**
 * Per-address limits count an IPv6 client by its /64 prefix (a client usually holds a whole /64
 * and could otherwise take a fresh bucket per address; Synapse's limiters do the same), an
 * IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) as its IPv4 address, IPv4 per
 * address. Spellings of one address (RFC 4291 §2.2: `::`, leading zeros, letter case, a dotted
 * tail) are one key.
 */
import { clientAddressKey, createMatrixApp, TokenBucketRateLimiter } from '@weft/transport';
import { describe, expect, it } from 'vitest';

describe('clientAddressKey', () => {
  it('groups IPv6 addresses by /64, whatever their spelling', () => {
    const key = '2001:db8:0:0::/64';
    expect(clientAddressKey('2001:db8::1')).toBe(key);
    expect(clientAddressKey('2001:0db8:0:0::2')).toBe(key);
    expect(clientAddressKey('2001:DB8:0000:0000:ffff:ffff:ffff:ffff')).toBe(key);
    expect(clientAddressKey('2001:db8::ffff:1.2.3.4')).toBe(key);
    expect(clientAddressKey('2001:db8::1%eth0')).toBe(key);
    expect(clientAddressKey('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(clientAddressKey('2001:db8:0:1::1')).not.toBe(key);
    expect(clientAddressKey('::1')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('::')).toBe('0:0:0:0::/64');
    expect(clientAddressKey('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
    expect(clientAddressKey('1:2:3:4:5:6:7::')).toBe('1:2:3:4::/64');
  });

  it('an IPv4-mapped IPv6 address is its IPv4 address; IPv4 counts per address', () => {
    expect(clientAddressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressKey('::FFFF:c000:201')).toBe('192.0.2.1');
    expect(clientAddressKey('0:0:0:0:0:ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientAddressKey('192.0.2.2')).toBe('192.0.2.2');
  });

  it('leaves what is no IP address as it is', () => {
    for (const text of [
      'spoofed',
      '',
      '1::2::3',
      ':1',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '12345::1',
      '::ffff:1.2.3.256',
      '1.2.3.4::',
      '[2001:db8::1]:443',
    ]) {
      expect(clientAddressKey(text)).toBe(text);
    }
  });
});

describe('rate-limit buckets of client addresses', () => {
  /** An app limited to one request per address, answering through `answer` from `peer`. */
  function makeApp() {
    const app = createMatrixApp<string>({
      rateLimiter: new TokenBucketRateLimiter({ burst: 1, perSecond: 0.001, now: () => 0 }),
    });
    app.endpoint({
      method: 'GET',
      path: '/available',
      auth: 'none',
      rateLimit: true,
      handler: () => ({}),
    });
    return async (peer: string) =>
      (
        await app.answer({
          method: 'GET',
          target: '/available',
          rawHeaders: [],
          remoteAddress: peer,
        })
      ).status;
  }

  it('two addresses in one /64 share a bucket; another /64 has its own', async () => {
    const status = makeApp();
    expect(await status('2001:db8::1')).toBe(200);
    expect(await status('2001:0db8:0:0::2')).toBe(429);
    expect(await status('2001:db8:0:0:1234:5678:9abc:def0')).toBe(429);
    expect(await status('2001:db8:0:1::1')).toBe(200);
  });

  it('an IPv4-mapped address shares the IPv4 address bucket, not its neighbours', async () => {
    const status = makeApp();
    expect(await status('192.0.2.1')).toBe(200);
    expect(await status('::ffff:192.0.2.1')).toBe(429);
    expect(await status('::ffff:192.0.2.2')).toBe(200);
    expect(await status('192.0.2.2')).toBe(429);
  });
});
