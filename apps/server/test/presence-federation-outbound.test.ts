/**
 * Local presence goes out as `m.presence` EDUs (spec server-server-api "Presence";
 * services/federation/edus/presence.ts): alice of a.test shares a room with bob of b.test, and
 * what she sets reaches bob's `/sync` on b.test over real federation, while c.test — whose user
 * shares a room only with carol of a.test — never hears of alice. Then a.test runs again with a
 * clock the test moves, and the sweep is run by hand: its first pass announces alice and dave,
 * left online by the earlier process, in one EDU (read from a.test's queue while b.test is
 * down), and a user who stays `online` is announced again every
 * {@link FEDERATION_PING_INTERVAL_MS}, before remote servers time her out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { startServer } from '../src/server.ts';
import { FEDERATION_PING_INTERVAL_MS, IDLE_TIMEOUT_MS } from '../src/services/presence/service.ts';
import { selectPresence } from '../src/services/presence/store.ts';
import {
  eventually,
  federationConfigFile,
  joinedRoomAcross,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import { TestClient, type TestServer } from './harness.ts';
import { call, type Json, sync, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let alice: TestUser;
let bob: TestUser;
let dave: TestUser;
let carol: TestUser;
let charlie: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test']);
  ({
    users: [alice, bob, dave],
  } = await joinedRoomAcross(federation, [
    ['a.test', 'alice'],
    ['b.test', 'bob'],
    ['a.test', 'dave'],
  ]));
  ({
    users: [carol, charlie],
  } = await joinedRoomAcross(federation, [
    ['a.test', 'carol'],
    ['c.test', 'charlie'],
  ]));
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

/** The last `m.presence` event of `userId` in a `/sync` answer. */
function presenceOf(body: Json, userId: string): Json | undefined {
  const events = (body['presence']?.['events'] ?? []) as Json[];
  return events.filter((event) => event['sender'] === userId).at(-1);
}

async function setPresence(
  server: TestServer,
  user: TestUser,
  presence: string,
  statusMsg: string,
): Promise<void> {
  await call(server, user, 'PUT', `/_matrix/client/v3/presence/${user.userId}/status`, {
    presence,
    status_msg: statusMsg,
  });
}

/** Waits until `viewer`'s `/sync` on `server` shows `userId` with `content`. */
async function seen(
  server: TestServer,
  viewer: TestUser,
  userId: string,
  content: Json,
  what: string,
): Promise<Json> {
  let found: Json | undefined;
  await eventually(async () => {
    found = presenceOf(await sync(server, viewer, { timeout: 0 }), userId);
    return Object.entries(content).every(([key, value]) => found?.['content']?.[key] === value);
  }, what);
  return found as Json;
}

describe('outbound m.presence', () => {
  it('sends a local user’s changes to the servers sharing a room with them, only', async () => {
    const a = federation.server('a.test');
    const b = federation.server('b.test');
    const c = federation.server('c.test');

    await setPresence(a, alice, 'online', 'at lunch');
    const online = await seen(
      b,
      bob,
      alice.userId,
      { presence: 'online', status_msg: 'at lunch' },
      'alice online on b.test',
    );
    expect(online['content']).toMatchObject({ currently_active: true });
    expect(online['content']['last_active_ago']).toBeGreaterThanOrEqual(0);

    await setPresence(a, alice, 'unavailable', 'away');
    await seen(
      b,
      bob,
      alice.userId,
      { presence: 'unavailable', status_msg: 'away' },
      'alice unavailable on b.test',
    );

    // carol's update reaches c.test after anything queued for it before (one queue per
    // destination, in order): c.test has heard nothing of alice.
    await setPresence(a, carol, 'online', 'here');
    await seen(c, charlie, carol.userId, { presence: 'online' }, 'carol online on c.test');
    expect(await selectPresence(c.services.ctx.db, alice.userId)).toBeUndefined();
    expect(await selectPresence(b.services.ctx.db, carol.userId)).toBeUndefined();
  });

  it('announces users who stay online again, together, before remote servers time them out', async () => {
    const before = federation.server('a.test');
    await setPresence(before, alice, 'online', 'still here');
    await setPresence(before, dave, 'online', 'also here');
    await seen(
      federation.server('b.test'),
      bob,
      alice.userId,
      { presence: 'online', status_msg: 'still here' },
      'alice online on b.test',
    );
    await seen(federation.server('b.test'), bob, dave.userId, { presence: 'online' }, 'dave');
    // Delivered rows are deleted after the answer: none may be left for the next process.
    await eventually(
      async () => (await before.services.federation.sender.pending('b.test')) === 0,
      'a.test’s queue for b.test empty',
    );
    await federation.stop('b.test');
    const member = federation.members.get('a.test');
    if (member === undefined) throw new Error('no a.test');
    await federation.stop('a.test');
    let now = Date.now();
    const config = buildConfig(
      federationConfigFile(federation.ca, member.cert, member.federationPort, federation.hosts),
      { dataDir: member.dataDir, listen: `127.0.0.1:${member.clientPort}`, serverName: 'a.test' },
    );
    const running = await startServer(config, { log: silentLog, now: () => now });
    const a: TestServer = {
      ...running,
      config,
      dataDir: member.dataDir,
      client: new TestClient(running.url),
    };
    try {
      // The first pass announces who the earlier process left present, in one EDU.
      await a.services.presence.sweep();
      const queuedPresence = async (): Promise<Json[]> => {
        const rows = await a.services.ctx.db.query<{ payload: string }>(
          "SELECT payload FROM federation_outbound WHERE destination = 'b.test' AND kind = 'edu'",
        );
        return rows
          .map((row) => JSON.parse(row.payload) as Json)
          .filter((edu) => edu['edu_type'] === 'm.presence');
      };
      // Queued in the background once the pass is over.
      await eventually(async () => (await queuedPresence()).length > 0, 'the repeat queued');
      const presenceEdus = await queuedPresence();
      expect(presenceEdus).toHaveLength(1);
      const push = presenceEdus[0]?.['content']['push'] as Json[];
      expect(push.map((update) => update['user_id']).sort()).toEqual(
        [alice.userId, dave.userId].sort(),
      );
      expect(push.find((update) => update['user_id'] === alice.userId)).toMatchObject({
        presence: 'online',
        status_msg: 'still here',
      });

      // b.test back: the queue delivers it; later, alice stays online and nothing about her
      // changes.
      const b = await federation.restart('b.test');
      a.services.federation.sender.contacted('b.test');
      await eventually(
        async () => (await a.services.federation.sender.pending('b.test')) === 0,
        'a.test’s queue for b.test delivered',
      );
      const since = (await sync(b, bob, { timeout: 0 }))['next_batch'] as string;

      // Active often enough to stay `online` (each step's activity goes with its clock move, so
      // no sweep sees one without the other), and nothing about her changes.
      const step = IDLE_TIMEOUT_MS - 60_000;
      for (let moved = 0; moved < FEDERATION_PING_INTERVAL_MS; moved += step) {
        now += step;
        a.services.presence.noteActive(alice.userId);
        await a.services.presence.sweep();
      }
      await eventually(async () => {
        const repeated = presenceOf(await sync(b, bob, { timeout: 0, since }), alice.userId);
        return repeated?.['content']?.['presence'] === 'online';
      }, 'alice announced again on b.test');
      expect(await a.services.presence.get(alice.userId)).toMatchObject({
        presence: 'online',
        status_msg: 'still here',
      });
    } finally {
      await running.stop();
    }
  });
});
