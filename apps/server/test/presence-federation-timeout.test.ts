/**
 * Remote presence times out (services/presence/service.ts, Synapse's FEDERATION_TIMEOUT): a
 * remote user whose server stops sending `m.presence` EDUs (spec server-server-api "Presence")
 * goes `offline` for local viewers after {@link FEDERATION_TIMEOUT_MS} — in GET
 * /presence/{userId}/status and in /sync, whose long-poll is woken — while one refreshed within
 * it stays `online`; also when the row was left `online` by an earlier process; and an update
 * committing while the sweep writes the timeout wins. bob of b.test
 * joins alice's room over real federation; a.test then runs again with a clock the test moves,
 * and the sweep is run by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { handleEdu } from '../src/services/federation/edus/inbound.ts';
import { FEDERATION_TIMEOUT_MS } from '../src/services/presence/service.ts';
import {
  federationConfigFile,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { TestClient, type TestServer } from './harness.ts';
import { call, type Json, sync, type TestUser } from './sync-helpers.ts';

const MINUTE = 60_000;

let federation: TestFederation;
let a: TestServer | undefined;
let alice: TestUser;
let bob: TestUser;
let now = Date.now();

/** (Re)starts a.test on its data directory and ports, with the test's clock. */
async function startA(): Promise<TestServer> {
  await a?.stop();
  const member = federation.members.get('a.test');
  if (member === undefined) throw new Error('no a.test');
  const config = buildConfig(
    federationConfigFile(federation.ca, member.cert, member.federationPort, federation.hosts),
    { dataDir: member.dataDir, listen: `127.0.0.1:${member.clientPort}`, serverName: 'a.test' },
  );
  const running = await startServer(config, { log: silentLog, now: () => now });
  a = { ...running, config, dataDir: member.dataDir, client: new TestClient(running.url) };
  return a;
}

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  ({
    users: [alice, bob],
  } = await joinedRoomAcross(federation, [
    ['a.test', 'alice'],
    ['b.test', 'bob'],
  ]));
  await federation.stop('a.test');
}, 60_000);

afterAll(async () => {
  await a?.stop();
  await federation?.close();
});

/** b.test reports bob `online` (as its transactions do). */
async function bobOnline(server: TestServer): Promise<void> {
  await handleEdu(server.services, 'b.test', {
    edu_type: 'm.presence',
    content: {
      push: [
        { user_id: bob.userId, presence: 'online', last_active_ago: 0, currently_active: true },
      ],
    },
  });
}

async function bobAsAliceSees(server: TestServer): Promise<Json> {
  return call(server, alice, 'GET', `/_matrix/client/v3/presence/${bob.userId}/status`);
}

function bobInSync(body: Json): Json | undefined {
  const events = (body['presence']?.['events'] ?? []) as Json[];
  return events.find((event) => event['sender'] === bob.userId);
}

describe('remote presence timeout', () => {
  it('goes offline when its server stops refreshing it, waking the viewers once', async () => {
    const server = await startA();
    await bobOnline(server);
    const since = (await sync(server, alice, { timeout: 0 }))['next_batch'] as string;

    // Refreshed before the timeout: still online a timeout after the first update.
    now += FEDERATION_TIMEOUT_MS - MINUTE;
    await bobOnline(server);
    now += 2 * MINUTE;
    await server.services.presence.sweep();
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'online' });
    const quiet = await sync(server, alice, { timeout: 0, since });
    expect(bobInSync(quiet)).toMatchObject({ content: { presence: 'online' } });
    const beforeTimeout = quiet['next_batch'] as string;

    // No update for longer than the timeout: the sweep makes bob offline, and alice's waiting
    // sync returns with it.
    const waiting = sync(server, alice, { timeout: 50_000, since: beforeTimeout });
    now += FEDERATION_TIMEOUT_MS;
    await server.services.presence.sweep();
    const woken = await waiting;
    expect(bobInSync(woken)).toMatchObject({
      content: { presence: 'offline', currently_active: false },
    });
    expect(await bobAsAliceSees(server)).toMatchObject({
      presence: 'offline',
      currently_active: false,
    });

    // Once: a later sweep writes nothing more.
    const after = woken['next_batch'] as string;
    now += FEDERATION_TIMEOUT_MS;
    await server.services.presence.sweep();
    expect(bobInSync(await sync(server, alice, { timeout: 0, since: after }))).toBeUndefined();

    // A new update brings bob back.
    await bobOnline(server);
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'online' });
  });

  it('times out a remote user an earlier process left online, counting from its start', async () => {
    await bobOnline(await startA());
    now += FEDERATION_TIMEOUT_MS + MINUTE;
    const server = await startA();
    await server.services.presence.sweep();
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'online' });
    now += FEDERATION_TIMEOUT_MS + MINUTE;
    await server.services.presence.sweep();
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'offline' });
  });

  it('keeps an update that commits while the sweep times the user out', async () => {
    const server = await startA();
    await server.services.presence.sweep();
    await bobOnline(server);
    now += FEDERATION_TIMEOUT_MS + MINUTE;
    // The racing order, driven: b.test's update commits after the sweep decided bob was stale
    // (its check of when his server last sent) and before its `offline` is written.
    const presence = server.services.presence;
    const set = presence.set.bind(presence);
    let raced = false;
    presence.set = async (userId, state, statusMsg, options) => {
      if (userId === bob.userId && state === 'offline' && !raced) {
        raced = true;
        await bobOnline(server);
      }
      return set(userId, state, statusMsg, options);
    };
    try {
      await presence.sweep();
    } finally {
      presence.set = set;
    }
    expect(raced).toBe(true);
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'online' });
    // Fresh: the next sweep within the timeout leaves him online.
    now += MINUTE;
    await presence.sweep();
    expect(await bobAsAliceSees(server)).toMatchObject({ presence: 'online' });
  });
});
