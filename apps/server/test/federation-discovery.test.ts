/**
 * Server discovery (services/federation/discovery/resolve-server.ts; spec server-server-api
 * "Resolving server names"): the explicit host map wins, IP literals and explicit ports are used
 * as given, `.well-known/matrix/server` delegates (port 8448 by default), and without it the
 * name is used on port 8448. Also the `federation:` config section (config.ts).
 */
import { describe, expect, it } from 'vitest';

import { buildConfig, ConfigError } from '../src/config.ts';
import { ServerResolver } from '../src/services/federation/discovery/resolve-server.ts';

function resolver(wellKnown: Record<string, unknown>, hosts: Record<string, string> = {}) {
  const asked: string[] = [];
  const r = new ServerResolver(
    hosts,
    async (url) => {
      asked.push(url);
      const host = new URL(url).hostname;
      if (!(host in wellKnown)) throw new Error('no well-known');
      return wellKnown[host];
    },
    () => 0,
  );
  return { r, asked };
}

describe('ServerResolver', () => {
  it('uses the explicit host map first, keeping the server name for TLS and Host', async () => {
    const { r, asked } = resolver(
      { 'a.test': { 'm.server': 'elsewhere:1' } },
      { 'a.test': '127.0.0.1:9000' },
    );
    expect(await r.resolve('a.test')).toEqual({
      host: '127.0.0.1',
      port: 9000,
      tlsName: 'a.test',
      hostHeader: 'a.test',
    });
    expect(asked).toEqual([]);
  });

  it('connects to IP literals and explicit ports directly', async () => {
    const { r, asked } = resolver({});
    expect(await r.resolve('10.0.0.1')).toMatchObject({ host: '10.0.0.1', port: 8448 });
    expect(await r.resolve('b.test:1234')).toMatchObject({
      host: 'b.test',
      port: 1234,
      hostHeader: 'b.test:1234',
    });
    expect(await r.resolve('[::1]:99')).toMatchObject({ host: '::1', port: 99 });
    expect(asked).toEqual([]);
  });

  it('follows .well-known delegation (default port 8448) and caches it', async () => {
    const { r, asked } = resolver({
      'c.test': { 'm.server': 'matrix.c.test' },
      'd.test': { 'm.server': 'matrix.d.test:443' },
    });
    expect(await r.resolve('c.test')).toEqual({
      host: 'matrix.c.test',
      port: 8448,
      tlsName: 'matrix.c.test',
      hostHeader: 'matrix.c.test',
    });
    expect(await r.resolve('d.test')).toMatchObject({ host: 'matrix.d.test', port: 443 });
    await r.resolve('c.test');
    expect(asked).toEqual([
      'https://c.test/.well-known/matrix/server',
      'https://d.test/.well-known/matrix/server',
    ]);
  });

  it('falls back to the name on port 8448 without a usable .well-known', async () => {
    const { r } = resolver({ 'f.test': { 'm.server': 42 } });
    expect(await r.resolve('e.test')).toMatchObject({
      host: 'e.test',
      port: 8448,
      tlsName: 'e.test',
    });
    expect(await r.resolve('f.test')).toMatchObject({ host: 'f.test', port: 8448 });
  });
});

describe('federation config (config.ts)', () => {
  it('defaults to enabled, no listener, verification on', () => {
    const config = buildConfig({}, { dataDir: '/tmp/x' });
    expect(config.federation).toMatchObject({
      enabled: true,
      listen: undefined,
      insecureSkipTlsVerify: false,
      hosts: {},
    });
  });

  it('parses the listener, paths relative to the data directory, and the host map', () => {
    const config = buildConfig(
      {
        federation: {
          listen: '0.0.0.0:8448',
          tls_cert: 'cert.pem',
          tls_key: '/etc/key.pem',
          hosts: { 'b.test': '127.0.0.1:8449' },
        },
      },
      { dataDir: '/srv/weft' },
    );
    expect(config.federation.listen).toEqual({ host: '0.0.0.0', port: 8448 });
    expect(config.federation.tlsCert).toBe('/srv/weft/cert.pem');
    expect(config.federation.tlsKey).toBe('/etc/key.pem');
    expect(config.federation.hosts).toEqual({ 'b.test': '127.0.0.1:8449' });
  });

  it('refuses a malformed host map entry', () => {
    expect(() =>
      buildConfig({ federation: { hosts: { 'b.test': 'no-port' } } }, { dataDir: '/tmp/x' }),
    ).toThrow(ConfigError);
  });
});
