/**
 * Federation test harness: N homeservers on loopback, each with a REAL TLS federation listener
 * whose certificate is issued by a CA this harness creates with `openssl` in a temporary
 * directory. Every server trusts that CA through `federation.ca_file` (verification stays on)
 * and finds the others through an explicit `federation.hosts` map; `allow_private_addresses`
 * lets federation requests reach loopback (a test's `file.federation` may set it back).
 *
 * - `createTestCa()` / `issueCert(ca, name)`: the certificates (also for hand-written test peers).
 * - `startFederation(names)`: in-process servers (fast); `restart(name)` reuses the data directory
 *   and both ports, so queued transactions and caught-up state can be observed.
 * - `federationConfigYaml(...)`: the same config for spawned server processes (kill tests).
 * - `startFederationWithPeer(names, peer, startPeer)`: servers beside a peer the test runs, such
 *   as `keyServerPeer(keys)`, a key server whose answers the test controls.
 * - `federationRequest(from, to, ...)`: one server's signed request to another, errors as answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MatrixError } from '@weft/transport';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { TestClient, type TestServer } from './harness.ts';
import { freePort } from './spawn.ts';
import type { Json } from './sync-helpers.ts';

/** A throwaway certificate authority on disk. */
export interface TestCa {
  readonly dir: string;
  /** PEM file of the CA certificate (what `ca_file` points at). */
  readonly certFile: string;
  readonly keyFile: string;
}

/** A leaf certificate issued by a {@link TestCa}. */
export interface TestCert {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates a CA (EC P-256, one day) in a fresh temporary directory. */
export function createTestCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'weft-fed-ca-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-days',
      '1',
      '-subj',
      '/CN=Weft test CA',
    ],
    dir,
  );
  return { dir, certFile: join(dir, 'ca.pem'), keyFile: join(dir, 'ca.key') };
}

/** Issues a certificate for DNS name `name` (plus 127.0.0.1) signed by `ca`. */
export function issueCert(ca: TestCa, name: string): TestCert {
  const base = name.replace(/[^A-Za-z0-9.-]/g, '_');
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${base}.key`,
      '-out',
      `${base}.csr`,
      '-subj',
      `/CN=${name}`,
    ],
    ca.dir,
  );
  writeFileSync(
    join(ca.dir, `${base}.ext`),
    `subjectAltName=DNS:${name},IP:127.0.0.1\nbasicConstraints=CA:FALSE\n`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${base}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${base}.pem`,
      '-days',
      '1',
      '-extfile',
      `${base}.ext`,
    ],
    ca.dir,
  );
  const certFile = join(ca.dir, `${base}.pem`);
  const keyFile = join(ca.dir, `${base}.key`);
  return {
    certFile,
    keyFile,
    cert: readFileSync(certFile, 'utf8'),
    key: readFileSync(keyFile, 'utf8'),
  };
}

/** One server of a test federation. */
export interface FederationMember {
  readonly name: string;
  readonly dataDir: string;
  readonly clientPort: number;
  readonly federationPort: number;
  readonly cert: TestCert;
  /** The running server, or `undefined` while stopped. */
  server: TestServer | undefined;
}

/** A running test federation. */
export interface TestFederation {
  readonly ca: TestCa;
  readonly members: ReadonlyMap<string, FederationMember>;
  /** `server name → 127.0.0.1:<federation port>` for every member (and added peers). */
  readonly hosts: Record<string, string>;
  /** The running server called `name` (throws if stopped). */
  server(name: string): TestServer;
  /** A client for the client-server API of `name`. */
  client(name: string): TestClient;
  /** The federation base URL of `name` (`https://127.0.0.1:<port>`). */
  federationUrl(name: string): string;
  /** Stops one server gracefully (its data directory and ports are kept). */
  stop(name: string): Promise<void>;
  /** Starts a stopped server again on the same data directory and ports. */
  restart(name: string): Promise<TestServer>;
  /** Stops every running server. */
  close(): Promise<void>;
}

/** The YAML-shaped config file of a member (also written for spawned processes). */
export function federationConfigFile(
  ca: TestCa,
  cert: TestCert,
  federationPort: number,
  hosts: Readonly<Record<string, string>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    rate_limit: { per_second: 100_000, burst: 100_000 },
    ...extra,
    federation: {
      enabled: true,
      listen: `127.0.0.1:${federationPort}`,
      tls_cert: cert.certFile,
      tls_key: cert.keyFile,
      ca_file: ca.certFile,
      hosts,
      // Every member listens on loopback, which the outbound address policy refuses by default.
      allow_private_addresses: true,
      ...(extra['federation'] as Record<string, unknown> | undefined),
    },
  };
}

/** {@link federationConfigFile} as weft.yaml text (JSON is valid YAML). */
export function federationConfigYaml(...args: Parameters<typeof federationConfigFile>): string {
  return `${JSON.stringify(federationConfigFile(...args), null, 2)}\n`;
}

/**
 * Starts one in-process server per name (names such as `a.test`), all trusting one test CA and
 * knowing each other's federation ports. `extraHosts` adds peers the test runs itself (a
 * malicious server); their certificates come from `issueCert(federation.ca, name)` — so create
 * the CA first and pass it as `ca` when a peer needs a certificate before the servers start.
 */
export async function startFederation(
  names: readonly string[],
  options: {
    readonly ca?: TestCa;
    readonly extraHosts?: Readonly<Record<string, string>>;
    readonly file?: Record<string, unknown>;
  } = {},
): Promise<TestFederation> {
  const ca = options.ca ?? createTestCa();
  const members = new Map<string, FederationMember>();
  const hosts: Record<string, string> = { ...options.extraHosts };
  for (const name of names) {
    const federationPort = await freePort();
    members.set(name, {
      name,
      dataDir: mkdtempSync(join(tmpdir(), `weft-fed-${name}-`)),
      clientPort: await freePort(),
      federationPort,
      cert: issueCert(ca, name),
      server: undefined,
    });
    hosts[name] = `127.0.0.1:${federationPort}`;
  }
  const member = (name: string): FederationMember => {
    const found = members.get(name);
    if (found === undefined) throw new Error(`no federation member ${name}`);
    return found;
  };
  const launch = async (name: string): Promise<TestServer> => {
    const m = member(name);
    const config = buildConfig(
      federationConfigFile(ca, m.cert, m.federationPort, hosts, options.file),
      { dataDir: m.dataDir, listen: `127.0.0.1:${m.clientPort}`, serverName: name },
    );
    const running = await startServer(config, { log: silentLog });
    const server: TestServer = {
      ...running,
      config,
      dataDir: m.dataDir,
      client: new TestClient(running.url),
    };
    m.server = server;
    return server;
  };
  await Promise.all(names.map(launch));
  const federation: TestFederation = {
    ca,
    members,
    hosts,
    server(name) {
      const server = member(name).server;
      if (server === undefined) throw new Error(`${name} is stopped`);
      return server;
    },
    client: (name) => federation.server(name).client,
    federationUrl: (name) => `https://127.0.0.1:${member(name).federationPort}`,
    async stop(name) {
      const m = member(name);
      const server = m.server;
      m.server = undefined;
      await server?.stop();
    },
    restart: launch,
    async close() {
      await Promise.all([...members.keys()].map((name) => federation.stop(name)));
    },
  };
  return federation;
}

/** How a test starts a peer server it runs itself (`startTestPeer`, `startMaliciousServer`). */
export type StartPeer<Peer> = (
  name: string,
  port: number,
  ca: TestCa,
  cert: TestCert,
  hosts: Readonly<Record<string, string>>,
) => Promise<Peer>;

/**
 * Starts the servers `names` beside a peer the test runs itself, called `peerName` (a
 * hand-written or malicious server): the peer's certificate comes from the same test CA and
 * every server knows the peer's port, so they reach each other over real TLS.
 */
export async function startFederationWithPeer<Peer>(
  names: readonly string[],
  peerName: string,
  startPeer: StartPeer<Peer>,
  options: { readonly file?: Record<string, unknown> } = {},
): Promise<{ federation: TestFederation; peer: Peer }> {
  const ca = createTestCa();
  const port = await freePort();
  const federation = await startFederation(names, {
    ca,
    extraHosts: { [peerName]: `127.0.0.1:${port}` },
    ...options,
  });
  const peer = await startPeer(peerName, port, ca, issueCert(ca, peerName), federation.hosts);
  return { federation, peer };
}

/** A peer that only publishes server keys (see {@link keyServerPeer}). */
export interface KeyServerPeer {
  close(): Promise<void>;
}

/**
 * A peer for {@link startFederationWithPeer} standing in for a remote server's key publishing
 * (spec server-server-api "Publishing Keys"): every `GET /_matrix/key/v2/server` calls `keys()`
 * and answers what it returns, 404 when it returns `undefined`; tests count requests in `keys`.
 */
export function keyServerPeer(keys: () => unknown): StartPeer<KeyServerPeer> {
  return async (_name, port, _ca, cert) => {
    const server = createServer(
      { cert: readFileSync(cert.certFile), key: readFileSync(cert.keyFile) },
      (req, res) => {
        if (req.url === '/_matrix/key/v2/server') {
          const published = keys();
          if (published !== undefined) {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify(published));
            return;
          }
        }
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"errcode":"M_UNRECOGNIZED","error":"no"}');
      },
    );
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    return {
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  };
}

/**
 * A federation request from `from` to the server `destination` (X-Matrix signed unless
 * `authenticated` is false, never retried). An error answer resolves to its status and errcode,
 * so a test can compare refusals as it compares answers.
 */
export async function federationRequest(
  from: TestServer,
  destination: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  authenticated = true,
): Promise<{ status: number; body: Json }> {
  try {
    const answer = await from.services.federation.client.request<Json>(
      destination,
      method,
      path,
      body,
      { authenticated, retry: false },
    );
    return { status: 200, body: answer };
  } catch (error) {
    if (!MatrixError.isInstance(error)) throw error;
    return { status: error.status, body: { errcode: error.errcode } };
  }
}

/** `userId`'s membership of `roomId` as `server` stores it; `'none'` without one. */
export async function membership(
  server: TestServer,
  roomId: string,
  userId: string,
): Promise<string> {
  return (await server.services.rooms.membership(roomId, userId))?.membership ?? 'none';
}

/**
 * Polls `check` every `everyMs` until it returns true; throws naming `what` after `ms`.
 * Delivery between servers is asynchronous (the outbound queue sends transactions in the
 * background), so federation tests wait for an observable result instead of sleeping.
 */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  ms = 30_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A registered user of one test server (what `TestClient.registerUser` returns). */
export type FederatedUser = Awaited<ReturnType<TestClient['registerUser']>>;

/**
 * `user` creates a `public_chat` room through `client` (`content` is merged into the
 * createRoom body); returns the room ID. Throws unless the server answers 200.
 */
export async function createPublicRoom(
  client: TestClient,
  user: { readonly accessToken: string },
  content: Record<string, unknown> = {},
): Promise<string> {
  const created = await client.request('POST', '/_matrix/client/v3/createRoom', {
    body: { preset: 'public_chat', ...content },
    token: user.accessToken,
  });
  if (created.status !== 200) {
    throw new Error(`createRoom: ${created.status} ${JSON.stringify(created.body)}`);
  }
  return String(created.body['room_id']);
}

/**
 * `user` joins `roomId` through the resident server `via`, with the client-server API of the
 * user's server (`POST /join/{roomIdOrAlias}?via=`, which runs make_join/send_join before it
 * answers: spec server-server-api "Joining Rooms"). Throws unless the join answers 200.
 */
export async function joinVia(
  client: TestClient,
  user: { readonly accessToken: string },
  roomId: string,
  via: string,
): Promise<void> {
  const response = await client.request(
    'POST',
    `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?via=${encodeURIComponent(via)}`,
    { body: {}, token: user.accessToken },
  );
  if (response.status !== 200) {
    throw new Error(
      `join ${roomId} via ${via}: ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
}

/**
 * The usual room of a federation test: registers `[server, localpart]` for every entry of
 * `members` (in order), the first creates a `public_chat` room on its server (`createContent`
 * is merged into the createRoom body), and every other one joins it over federation through
 * the first's server. Returns the room ID and the users, in the order of `members`.
 */
export async function joinedRoomAcross<
  const Members extends readonly (readonly [server: string, localpart: string])[],
>(
  federation: TestFederation,
  members: Members,
  createContent: Record<string, unknown> = {},
): Promise<{ roomId: string; users: { -readonly [K in keyof Members]: FederatedUser } }> {
  const users: FederatedUser[] = [];
  for (const [server, localpart] of members) {
    users.push(await federation.client(server).registerUser(localpart));
  }
  const [first, ...rest] = members;
  const creator = users[0];
  if (first === undefined || creator === undefined) throw new Error('joinedRoomAcross: no members');
  const roomId = await createPublicRoom(federation.client(first[0]), creator, createContent);
  for (const [i, [server]] of rest.entries()) {
    await joinVia(federation.client(server), users[i + 1] as FederatedUser, roomId, first[0]);
  }
  return { roomId, users: users as { -readonly [K in keyof Members]: FederatedUser } };
}

/**
 * The room of the federation read tests: alice of a.test creates it, bob of b.test joins it, and
 * alice sends `count` text messages `m0`, `m1`, … to it (waiting `spacingMs` before each when
 * given, so that their timestamps differ). Returns the room ID and the messages' event IDs,
 * oldest first.
 */
export async function roomWithMessages(
  federation: TestFederation,
  count: number,
  spacingMs = 0,
): Promise<{ roomId: string; messages: string[] }> {
  const { roomId, users } = await joinedRoomAcross(federation, [
    ['a.test', 'alice'],
    ['b.test', 'bob'],
  ]);
  const [alice] = users;
  const client = federation.client('a.test');
  const messages: string[] = [];
  for (let i = 0; i < count; i += 1) {
    if (spacingMs > 0) await new Promise((resolve) => setTimeout(resolve, spacingMs));
    const sent = await client.request(
      'PUT',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m${i}`,
      { body: { msgtype: 'm.text', body: `m${i}` }, token: alice.accessToken },
    );
    if (sent.status !== 200) throw new Error(`send: ${sent.status} ${JSON.stringify(sent.body)}`);
    messages.push(String(sent.body['event_id']));
  }
  return { roomId, messages };
}
