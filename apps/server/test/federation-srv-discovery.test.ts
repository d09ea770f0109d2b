/**
 * SRV discovery (services/federation/discovery/srv-lookup.ts and resolve-server.ts; spec
 * server-server-api "Resolving server names" steps 3.3-3.5 and 4-6) against a REAL DNS server:
 * a small UDP responder this test starts on loopback, answering SRV queries from a table (and
 * NXDOMAIN otherwise); the resolver is pointed at it with `federation.dns_servers`
 * (dns.Resolver#setServers). Then two real homeservers that know each other only through those
 * SRV records talk over TLS.
 */
import { createSocket, type Socket } from 'node:dgram';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ServerResolver } from '../src/services/federation/discovery/resolve-server.ts';
import {
  createSrvLookup,
  type SrvTarget,
} from '../src/services/federation/discovery/srv-lookup.ts';
import { createTestCa, startFederation, type TestFederation } from './federation-harness.ts';
import { call } from './sync-helpers.ts';

/** A DNS responder answering SRV (type 33) queries from `records`; NXDOMAIN for other names. */
interface DnsResponder {
  readonly address: string;
  readonly records: Map<string, SrvTarget[]>;
  /** Every question asked, as `name/type`. */
  readonly asked: string[];
  close(): Promise<void>;
}

function encodeName(name: string): Buffer {
  const labels = name.split('.').filter((label) => label !== '');
  return Buffer.concat([
    ...labels.map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
    Buffer.from([0]),
  ]);
}

/** RFC 1035 section 4: one question in, the matching SRV records (RFC 2782) out. */
function answer(query: Buffer, records: Map<string, SrvTarget[]>, asked: string[]): Buffer {
  let offset = 12;
  const labels: string[] = [];
  for (let length = query[offset] ?? 0; length !== 0; length = query[offset] ?? 0) {
    labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
    offset += 1 + length;
  }
  offset += 1;
  const type = query.readUInt16BE(offset);
  const question = query.subarray(12, offset + 4);
  const name = labels.join('.').toLowerCase();
  asked.push(`${name}/${type}`);
  const found = type === 33 ? records.get(name) : undefined;
  const known = records.has(name);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, AA, RD copied, RA; rcode 3 (NXDOMAIN) for a name we do not have.
  header.writeUInt16BE(0x8480 | (query.readUInt16BE(2) & 0x0100) | (known ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(found?.length ?? 0, 6);
  const answers = (found ?? []).map((record) => {
    const target = encodeName(record.name);
    const rr = Buffer.alloc(12 + 6);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(33, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(6 + target.length, 10);
    rr.writeUInt16BE(record.priority, 12);
    rr.writeUInt16BE(record.weight, 14);
    rr.writeUInt16BE(record.port, 16);
    return Buffer.concat([rr, target]);
  });
  return Buffer.concat([header, question, ...answers]);
}

async function startDnsResponder(): Promise<DnsResponder> {
  const records = new Map<string, SrvTarget[]>();
  const asked: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    socket.send(answer(query, records, asked), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${socket.address().port}`,
    records,
    asked,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function srv(name: string, port: number, priority = 10, weight = 5): SrvTarget {
  return { name, port, priority, weight };
}

let dns: DnsResponder;

beforeAll(async () => {
  dns = await startDnsResponder();
});

afterAll(async () => {
  await dns.close();
});

describe('ServerResolver with SRV records from a real DNS server', () => {
  /** A resolver asking `dns`; `.well-known` answers come from `wellKnown` (by host). */
  function resolver(wellKnown: Record<string, unknown> = {}): ServerResolver {
    return new ServerResolver(
      {},
      async (url) => {
        const host = new URL(url).hostname;
        if (!(host in wellKnown)) throw new Error('no well-known');
        return wellKnown[host];
      },
      () => 0,
      createSrvLookup([dns.address]),
    );
  }

  it('uses _matrix-fed._tcp, keeping the server name for TLS and Host', async () => {
    dns.records.set('_matrix-fed._tcp.s1.test', [srv('fed.s1.test', 1111)]);
    expect(await resolver().resolve('s1.test')).toEqual({
      host: 'fed.s1.test',
      port: 1111,
      tlsName: 's1.test',
      hostHeader: 's1.test',
    });
  });

  it('falls back to the deprecated _matrix._tcp, and prefers _matrix-fed._tcp when both exist', async () => {
    dns.records.set('_matrix._tcp.s2.test', [srv('old.s2.test', 2222)]);
    expect(await resolver().resolve('s2.test')).toMatchObject({ host: 'old.s2.test', port: 2222 });
    dns.records.set('_matrix._tcp.s3.test', [srv('old.s3.test', 3333)]);
    dns.records.set('_matrix-fed._tcp.s3.test', [srv('new.s3.test', 3334)]);
    expect(await resolver().resolve('s3.test')).toMatchObject({ host: 'new.s3.test', port: 3334 });
  });

  it('takes the lowest priority, then the heaviest weight; "." means no service', async () => {
    dns.records.set('_matrix-fed._tcp.s4.test', [
      srv('backup.s4.test', 1, 20, 100),
      srv('light.s4.test', 2, 10, 1),
      srv('heavy.s4.test', 3, 10, 50),
    ]);
    expect(await resolver().resolve('s4.test')).toMatchObject({ host: 'heavy.s4.test', port: 3 });
    dns.records.set('_matrix-fed._tcp.s5.test', [srv('.', 0)]);
    expect(await resolver().resolve('s5.test')).toMatchObject({ host: 's5.test', port: 8448 });
  });

  it('looks up SRV for a .well-known delegation without a port, under the delegated name', async () => {
    dns.records.set('_matrix-fed._tcp.m.s6.test', [srv('box.s6.test', 6666)]);
    expect(await resolver({ 's6.test': { 'm.server': 'm.s6.test' } }).resolve('s6.test')).toEqual({
      host: 'box.s6.test',
      port: 6666,
      tlsName: 'm.s6.test',
      hostHeader: 'm.s6.test',
    });
  });

  it('asks no SRV record for explicit ports, IP literals or a delegation with a port', async () => {
    const before = dns.asked.length;
    const r = resolver({ 's7.test': { 'm.server': 'm.s7.test:7777' } });
    expect(await r.resolve('s8.test:1234')).toMatchObject({ host: 's8.test', port: 1234 });
    expect(await r.resolve('10.1.2.3')).toMatchObject({ host: '10.1.2.3', port: 8448 });
    expect(await r.resolve('s7.test')).toMatchObject({ host: 'm.s7.test', port: 7777 });
    expect(dns.asked.slice(before)).toEqual([]);
  });

  it('ends at <name>:8448 when there is no record at all (NXDOMAIN from the server)', async () => {
    const before = dns.asked.length;
    expect(await resolver().resolve('s9.test')).toEqual({
      host: 's9.test',
      port: 8448,
      tlsName: 's9.test',
      hostHeader: 's9.test',
    });
    expect(dns.asked.slice(before)).toEqual([
      '_matrix-fed._tcp.s9.test/33',
      '_matrix._tcp.s9.test/33',
    ]);
  });

  it('treats an unreachable DNS server as no record', async () => {
    const r = new ServerResolver(
      {},
      async () => undefined,
      () => 0,
      createSrvLookup(['127.0.0.1:9'], 200),
    );
    expect(await r.resolve('s10.test')).toMatchObject({ host: 's10.test', port: 8448 });
  });
});

describe('two homeservers that find each other only through SRV records', () => {
  let a: TestFederation;
  let b: TestFederation;

  beforeAll(async () => {
    const ca = createTestCa();
    // Each federation's host map names only its own server: the other is found through DNS.
    const file = { federation: { dns_servers: [dns.address] } };
    a = await startFederation(['a.test'], { ca, file });
    b = await startFederation(['b.test'], { ca, file });
    const portOf = (federation: TestFederation, name: string) =>
      Number(new URL(federation.federationUrl(name)).port);
    // The deprecated service name for one of them: both steps are exercised end to end.
    dns.records.set('_matrix-fed._tcp.a.test', [srv('localhost', portOf(a, 'a.test'))]);
    dns.records.set('_matrix._tcp.b.test', [srv('localhost', portOf(b, 'b.test'))]);
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('a.test reads a b.test profile over TLS (b.test verifies a.test through its SRV record)', async () => {
    expect(a.hosts['b.test']).toBeUndefined();
    const bob = await b.client('b.test').registerUser('bob');
    await call(
      b.server('b.test'),
      bob,
      'PUT',
      `/_matrix/client/v3/profile/${bob.userId}/displayname`,
      {
        displayname: 'Bob via SRV',
      },
    );
    const alice = await a.client('a.test').registerUser('alice');
    const profile = await call(
      a.server('a.test'),
      alice,
      'GET',
      `/_matrix/client/v3/profile/${encodeURIComponent(bob.userId)}`,
    );
    expect(profile['displayname']).toBe('Bob via SRV');
    expect(dns.asked).toContain('_matrix-fed._tcp.b.test/33');
    expect(dns.asked).toContain('_matrix._tcp.b.test/33');
  }, 60_000);
});
