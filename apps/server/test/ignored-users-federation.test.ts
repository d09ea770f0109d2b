/**
 * Ignoring users over federation (spec "Ignoring Users"; ignored-users-suite.ts covers one
 * server): two real servers over TLS, alice of b.test ignoring bob of a.test. Bob's invite to a
 * room b.test is not in (a remote invite: `federation_invites` and an outlier invite event) is
 * not shown in her `/sync` `rooms.invite`, carol's is; bob's to-device message sent to alice and
 * dave of b.test in one EDU reaches dave only, and alice's stream goes on with carol's next one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually, startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, createRoom, type Json, sync, type TestUser } from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let bob: TestUser;
let carol: TestUser;
let alice: TestUser;
let dave: TestUser;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  bob = await a.client.registerUser('bob');
  carol = await a.client.registerUser('carol');
  alice = await b.client.registerUser('alice');
  dave = await b.client.registerUser('dave');
  await call(b, alice, 'PUT', `${V3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`, {
    ignored_users: { [bob.userId]: {} },
  });
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

describe('ignoring users of another server', () => {
  it('does not show a remote invite from an ignored user', async () => {
    const since = (await sync(b, alice))['next_batch'];
    const bobsRoom = await createRoom(a, bob);
    await call(a, bob, 'POST', `${V3}/rooms/${enc(bobsRoom)}/invite`, { user_id: alice.userId });
    const carolsRoom = await createRoom(a, carol);
    await call(a, carol, 'POST', `${V3}/rooms/${enc(carolsRoom)}/invite`, {
      user_id: alice.userId,
    });
    // Both invites are stored on b.test (the invite request answers once stored).
    for (const room of [bobsRoom, carolsRoom]) {
      expect((await b.services.rooms.membership(room, alice.userId))?.membership).toBe('invite');
    }
    const invited = (body: Json) => Object.keys(body['rooms']?.['invite'] ?? {});
    expect(invited(await sync(b, alice, { since }))).toEqual([carolsRoom]);
    expect(invited(await sync(b, alice))).toEqual([carolsRoom]);
    // Dave, who ignores nobody, would see bob's invite: invite him too.
    await call(a, bob, 'POST', `${V3}/rooms/${enc(bobsRoom)}/invite`, { user_id: dave.userId });
    expect(invited(await sync(b, dave))).toEqual([bobsRoom]);
  }, 60_000);

  it('drops a to-device message from an ignored user for her devices only', async () => {
    const start = async (who: TestUser) => (await sync(b, who))['next_batch'] as string;
    const aliceSince = await start(alice);
    const daveSince = await start(dave);
    const contents = async (who: TestUser, since: string) => {
      const body = await sync(b, who, { since });
      const events = (body['to_device']?.['events'] ?? []) as Json[];
      return { next: body['next_batch'] as string, seen: events.map((e) => e['content']['n']) };
    };
    await call(a, bob, 'PUT', `${V3}/sendToDevice/m.test.ping/ign-fed-1`, {
      messages: {
        [alice.userId]: { '*': { n: 'bob 1' } },
        [dave.userId]: { '*': { n: 'bob 1' } },
      },
    });
    let daves: string[] = [];
    await eventually(async () => {
      daves = (await contents(dave, daveSince)).seen;
      return daves.length > 0;
    }, 'bob’s message for dave on b.test');
    expect(daves).toEqual(['bob 1']);

    await call(a, carol, 'PUT', `${V3}/sendToDevice/m.test.ping/ign-fed-2`, {
      messages: { [alice.userId]: { [alice.deviceId]: { n: 'carol 1' } } },
    });
    let alices = { next: aliceSince, seen: [] as string[] };
    await eventually(async () => {
      alices = await contents(alice, aliceSince);
      return alices.seen.length > 0;
    }, 'carol’s message for alice on b.test');
    // Carol's message came after bob's: had his been stored, it would come first.
    expect(alices.seen).toEqual(['carol 1']);
    expect((await contents(alice, alices.next)).seen).toEqual([]);
  }, 60_000);
});
