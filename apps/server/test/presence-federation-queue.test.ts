/**
 * How local presence is queued for other servers (services/federation/edus/presence.ts; spec
 * server-server-api "Presence"): a destination's queue holds at most the latest `m.presence` of
 * each user while it is down, instead of a row per change; and the destinations are found per
 * room — each room's distinct servers — not from every co-member of every announced user.
 *
 * alice and dave of a.test share a room with bob of b.test and with many users of a.test; alice
 * also shares a room with charlie of c.test and brian of b.test. b.test and c.test are down, so
 * what a.test queues for them stays in its queue, where the test reads it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { PresenceState } from '../src/services/presence/service.ts';
import {
  eventually,
  joinedRoomAcross,
  joinVia,
  startFederation,
  type TestFederation,
} from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import type { Json, TestUser } from './sync-helpers.ts';

/** a.test members of the first room besides alice and dave: the rows a per-member read costs. */
const CROWD = 16;

let federation: TestFederation;
let a: TestServer;
let alice: TestUser;
let dave: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test', 'c.test']);
  const crowd = Array.from({ length: CROWD }, (_, i) => ['a.test', `member${i}`] as const);
  ({
    users: [alice, , dave],
  } = await joinedRoomAcross(federation, [
    ['a.test', 'alice'],
    ['b.test', 'bob'],
    ['a.test', 'dave'],
    ...crowd,
  ]));
  const { roomId } = await joinedRoomAcross(federation, [
    ['c.test', 'charlie'],
    ['b.test', 'brian'],
  ]);
  await joinVia(federation.client('a.test'), alice, roomId, 'c.test');
  a = federation.server('a.test');
  // Everything of the set-up delivered, then the destinations go down.
  for (const destination of ['b.test', 'c.test']) {
    await eventually(
      async () => (await a.services.federation.sender.pending(destination)) === 0,
      `a.test’s queue for ${destination} empty`,
    );
    await federation.stop(destination);
  }
}, 90_000);

afterAll(async () => {
  await federation?.close();
});

/** The `m.presence` EDUs queued on a.test for `destination`, oldest first. */
async function queuedPresence(destination: string): Promise<Json[]> {
  const rows = await a.services.ctx.db.query<{ payload: string }>(
    "SELECT payload FROM federation_outbound WHERE destination = $1 AND kind = 'edu' ORDER BY id",
    [destination],
  );
  return rows
    .map((row) => JSON.parse(row.payload) as Json)
    .filter((edu) => edu['edu_type'] === 'm.presence');
}

/** The `push` updates of an `m.presence` EDU (none when there is no EDU). */
function pushOf(edu: Json | undefined): Json[] {
  return (edu?.['content']['push'] ?? []) as Json[];
}

/** The latest queued update of each user for `destination`. */
async function latestQueued(destination: string): Promise<Map<string, Json>> {
  const latest = new Map<string, Json>();
  for (const edu of await queuedPresence(destination)) {
    for (const update of pushOf(edu)) latest.set(update['user_id'], update);
  }
  return latest;
}

async function setPresence(user: TestUser, state: PresenceState, statusMsg: string) {
  await a.services.presence.set(user.userId, state, statusMsg);
}

describe('queued m.presence', () => {
  it('finds the destinations per room, one EDU per server', async () => {
    // Every row a.test reads from the memberships outside a write (where the EDUs are queued).
    const db = a.services.ctx.db;
    const query = db.query.bind(db);
    let membershipRows = 0;
    db.query = (async (sql, params) => {
      const rows = await query(sql, params);
      if (sql.includes('room_memberships')) membershipRows += rows.length;
      return rows;
    }) as typeof db.query;
    try {
      await Promise.all([
        setPresence(alice, 'online', 'alice here'),
        setPresence(dave, 'online', 'dave here'),
      ]);
      await eventually(async () => {
        const [b, c] = [await latestQueued('b.test'), await latestQueued('c.test')];
        return b.has(alice.userId) && b.has(dave.userId) && c.has(alice.userId);
      }, 'alice and dave queued for b.test, alice for c.test');
    } finally {
      db.query = query;
    }
    // b.test (in both of alice's rooms) gets her once; c.test never hears of dave.
    const forB = await queuedPresence('b.test');
    expect(forB).toHaveLength(1);
    expect(
      pushOf(forB[0])
        .map((update) => update['user_id'])
        .sort(),
    ).toEqual([alice.userId, dave.userId].sort());
    const forC = await queuedPresence('c.test');
    expect(forC).toHaveLength(1);
    expect(pushOf(forC[0]).map((update) => update['user_id'])).toEqual([alice.userId]);
    // Their rooms and each room's servers: not the crowd, once per announced user.
    expect(membershipRows).toBeLessThan(CROWD);
  });

  it('keeps one pending EDU per destination, with each user’s latest state', async () => {
    await setPresence(alice, 'unavailable', 'one');
    await setPresence(dave, 'unavailable', 'dave away');
    await setPresence(alice, 'online', 'two');
    await setPresence(alice, 'unavailable', 'three');
    await eventually(
      async () => (await latestQueued('b.test')).get(alice.userId)?.['status_msg'] === 'three',
      'alice’s last change queued for b.test',
    );
    const forB = await queuedPresence('b.test');
    expect(forB).toHaveLength(1);
    const pushB = pushOf(forB[0]);
    expect(pushB).toHaveLength(2);
    expect(pushB.find((update) => update['user_id'] === alice.userId)).toMatchObject({
      presence: 'unavailable',
      status_msg: 'three',
    });
    expect(pushB.find((update) => update['user_id'] === dave.userId)).toMatchObject({
      presence: 'unavailable',
      status_msg: 'dave away',
    });
    await eventually(
      async () => (await latestQueued('c.test')).get(alice.userId)?.['status_msg'] === 'three',
      'alice’s last change queued for c.test',
    );
    expect(await queuedPresence('c.test')).toHaveLength(1);
  });
});
