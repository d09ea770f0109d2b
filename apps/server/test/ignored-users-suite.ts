/**
 * Ignoring users (spec "Ignoring Users", services/account-data/ignored-users.ts) over real HTTP:
 * once alice puts bob in her `m.ignored_user_list`, bob's messages leave her `/sync` timelines
 * (initial and incremental; a long-poll woken by his message keeps waiting), `/messages`,
 * `/context`, `/relations`, `/threads`, `/search` and bundled aggregations (thread counts and
 * latest events, references), his invites, typing and receipts
 * are not shown, his to-device messages are dropped (for her only), his messages do not notify
 * her, while his state events still are and `/event` still answers his events; another user's
 * events are untouched; un-ignoring brings his messages back; the list survives a restart.
 * Run on SQLite (ignored-users.test.ts) and PostgreSQL (ignored-users-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { roomToken } from '../src/services/rooms/timeline.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import {
  call,
  createRoom,
  type Json,
  messageBodies,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/** Registers the ignoring-users tests against servers started with `options()`. */
export function ignoredUsersSuite(options: () => TestServerOptions = () => ({})): void {
  describe('ignoring users', () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let roomId: string;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      carol = await server.client.registerUser('carol');
      roomId = await createRoom(server, alice, [bob, carol]);
      await sendText(server, bob, roomId, 'bob before');
      await sendText(server, carol, roomId, 'carol before');
    });
    afterAll(async () => {
      await server.stop();
    });

    const ignore = (...users: TestUser[]) =>
      call(
        server,
        alice,
        'PUT',
        `${V3}/user/${enc(alice.userId)}/account_data/m.ignored_user_list`,
        {
          ignored_users: Object.fromEntries(users.map((u) => [u.userId, {}])),
        },
      );

    async function messages(who: TestUser = alice): Promise<Json[]> {
      const path = `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`;
      return (await call(server, who, 'GET', path))['chunk'];
    }
    const bodies = (events: Json[]) =>
      events.filter((e) => e['type'] === 'm.room.message').map((e) => e['content']['body']);

    it('leaves the ignored user’s messages out of /sync, /messages and /context', async () => {
      await ignore(bob);
      const initial = await sync(server, alice);
      const timeline = initial['rooms']['join'][roomId]['timeline'];
      expect(messageBodies(timeline)).toEqual(['carol before']);
      // The list itself reaches the client.
      expect(
        initial['account_data']['events'].find((e: Json) => e['type'] === 'm.ignored_user_list'),
      ).toEqual({
        type: 'm.ignored_user_list',
        content: { ignored_users: { [bob.userId]: {} } },
      });
      // His state events still come through (spec: "Servers must still send state events").
      expect(
        timeline['events'].some(
          (e: Json) => e['type'] === 'm.room.member' && e['state_key'] === bob.userId,
        ),
      ).toBe(true);

      await sendText(server, bob, roomId, 'bob after');
      const carolAfter = await sendText(server, carol, roomId, 'carol after');
      // A state event of bob's: his member event with a new display name.
      await call(
        server,
        bob,
        'PUT',
        `${V3}/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`,
        { membership: 'join', displayname: 'Bob renamed' },
      );
      const renamed = (e: Json) =>
        e['type'] === 'm.room.member' && e['content']['displayname'] === 'Bob renamed';
      const next = await sync(server, alice, { since: initial['next_batch'] });
      const events = next['rooms']['join'][roomId]['timeline']['events'] as Json[];
      expect(messageBodies({ events })).toEqual(['carol after']);
      expect(events.some(renamed)).toBe(true);

      // /messages: none of bob's messages, his membership and topic still there.
      const chunk = await messages();
      expect(bodies(chunk)).toEqual(['carol after', 'carol before']);
      expect(chunk.some(renamed)).toBe(true);
      // Carol, who ignores nobody, sees everything.
      expect(bodies(await messages(carol))).toEqual([
        'carol after',
        'bob after',
        'carol before',
        'bob before',
      ]);

      // /context around carol's message: bob's neighbours left out.
      const context = await call(
        server,
        alice,
        'GET',
        `${V3}/rooms/${enc(roomId)}/context/${enc(carolAfter)}?limit=20`,
      );
      expect(context['event']['event_id']).toBe(carolAfter);
      expect(bodies(context['events_before'])).toEqual(['carol before']);
      expect(bodies(context['events_after'])).toEqual([]);
      expect(context['events_after'].map(renamed)).toEqual([true]);
    });

    it('does not notify the user of the ignored user’s messages', async () => {
      const listed = (await call(server, alice, 'GET', `${V3}/notifications`))[
        'notifications'
      ] as Json[];
      const notified = listed.map((n) => n['event']['content']['body']);
      expect(notified).toContain('carol after');
      expect(notified).not.toContain('bob after');
      // Those from before the ignore are hidden too.
      expect(notified).not.toContain('bob before');
      // Bob's new messages are not counted as unread: carol's two and bob's from before the ignore.
      const counts = (await sync(server, alice))['rooms']['join'][roomId]['unread_notifications'];
      expect(counts['notification_count']).toBe(3);
      // Carol still is notified of bob's messages.
      const carols = (await call(server, carol, 'GET', `${V3}/notifications`))[
        'notifications'
      ] as Json[];
      expect(carols.map((n) => n['event']['content']['body'])).toContain('bob after');
    });

    // The room's shared decision (push/shared-decision.ts: carol, bob's one recipient, is
    // notified) covers every joined member without an own row: a recount after alice's receipt
    // or after a redaction must not bring bob's message back into her count, nor may what push
    // delivery's catch-up reads (the service's notification list) hold it.
    it('keeps the ignored user’s messages out of recounts and the notification list', async () => {
      await ignore(bob);
      const room = await createRoom(server, alice, [bob, carol]);
      const earlier = await sendText(server, carol, room, 'carol first');
      const bobs = await sendText(server, bob, room, 'bob ignored');
      const count = async () =>
        (await sync(server, alice))['rooms']['join'][room]['unread_notifications'][
          'notification_count'
        ];
      expect(await count()).toBe(1);
      await call(
        server,
        alice,
        'POST',
        `${V3}/rooms/${enc(room)}/receipt/m.read/${enc(earlier)}`,
        {},
      );
      expect(await count()).toBe(0);
      // A redaction in the room recounts its audience, alice included.
      const later = await sendText(server, carol, room, 'carol later');
      expect(await count()).toBe(1);
      await call(
        server,
        carol,
        'PUT',
        `${V3}/rooms/${enc(room)}/redact/${enc(later)}/ign-redact`,
        {},
      );
      expect(await count()).toBe(0);

      const listed = (await call(server, alice, 'GET', `${V3}/notifications`))[
        'notifications'
      ] as Json[];
      expect(listed.map((n) => n['event']['event_id'])).not.toContain(bobs);
      const stored = await server.services.push.notifications(alice.userId, {
        before: Number.MAX_SAFE_INTEGER,
        limit: 100,
        onlyHighlights: false,
      });
      expect(stored.map((n) => n.event.eventId)).not.toContain(bobs);
      // Carol's list still holds bob's message.
      const carols = (await call(server, carol, 'GET', `${V3}/notifications`))[
        'notifications'
      ] as Json[];
      expect(carols.map((n) => n['event']['event_id'])).toContain(bobs);
    });

    it('keeps a long-poll waiting through the ignored user’s messages', async () => {
      const since = (await sync(server, alice))['next_batch'];
      // The long-poll's registrations with the notifier, counted (the real notifier still runs),
      // tell when it waits again after bob's message without guessing how long that takes.
      const notifier = server.services.ctx.notifier;
      const listen = notifier.listen;
      let listens = 0;
      notifier.listen = (...args) => {
        listens += 1;
        return listen.apply(notifier, args);
      };
      try {
        let answered = false;
        const poll = sync(server, alice, { since, timeout: 60_000 }).finally(() => {
          answered = true;
        });
        // Bounded waits that end in an assertion: a poll that never registers, or is never woken
        // by bob's message, fails here with its reason instead of running into the test timeout.
        const bounded = { timeout: 20_000, interval: 5 };
        await vi.waitFor(
          () => expect(listens, 'the long-poll registers with the notifier').toBeGreaterThan(0),
          bounded,
        );
        await sendText(server, bob, roomId, 'bob while polling');
        // Bob's message is committed: it wakes the poll, which either waits again (a second
        // registration) or answers (the failure).
        await vi.waitFor(
          () => expect(listens > 1 || answered, 'bob’s message wakes the long-poll').toBe(true),
          bounded,
        );
        expect(answered, 'the long-poll answered after bob’s message alone').toBe(false);
        await sendText(server, carol, roomId, 'carol while polling');
        // One answer, after carol's message: bob's did not end the wait with nothing new.
        const answer = await poll;
        expect(messageBodies(answer['rooms']?.['join']?.[roomId]?.['timeline'])).toEqual([
          'carol while polling',
        ]);
      } finally {
        notifier.listen = listen;
      }
    });

    it('does not show invites or typing from ignored users', async () => {
      const since = (await sync(server, alice))['next_batch'];
      const bobsRoom = await createRoom(server, bob);
      await call(server, bob, 'POST', `${V3}/rooms/${enc(bobsRoom)}/invite`, {
        user_id: alice.userId,
      });
      const carolsRoom = await createRoom(server, carol);
      await call(server, carol, 'POST', `${V3}/rooms/${enc(carolsRoom)}/invite`, {
        user_id: alice.userId,
      });
      const next = await sync(server, alice, { since });
      expect(Object.keys(next['rooms']?.['invite'] ?? {})).toEqual([carolsRoom]);
      expect(Object.keys((await sync(server, alice))['rooms']['invite'])).toEqual([carolsRoom]);

      for (const who of [bob, carol]) {
        await call(server, who, 'PUT', `${V3}/rooms/${enc(roomId)}/typing/${enc(who.userId)}`, {
          typing: true,
          timeout: 30_000,
        });
      }
      const initial = await sync(server, alice);
      const typing = (initial['rooms']['join'][roomId]['ephemeral']['events'] as Json[]).find(
        (e) => e['type'] === 'm.typing',
      );
      expect(typing?.['content']['user_ids']).toEqual([carol.userId]);
    });

    it('leaves the ignored user out of /relations, /threads, /search and bundled threads', async () => {
      await ignore(bob);
      const room = await createRoom(server, alice, [bob, carol]);
      let n = 0;
      const send = async (who: TestUser, content: Json): Promise<string> =>
        (
          await call(
            server,
            who,
            'PUT',
            `${V3}/rooms/${enc(room)}/send/m.room.message/ign${Date.now()}-${++n}`,
            { msgtype: 'm.text', ...content },
          )
        )['event_id'];
      const inThread = (root: string) => ({
        'm.relates_to': { rel_type: 'm.thread', event_id: root, is_falling_back: true },
      });
      const carolRoot = await send(carol, { body: 'needle carol root' });
      const carolReply = await send(carol, { body: 'carol reply', ...inThread(carolRoot) });
      await send(bob, { body: 'needle bob reply', ...inThread(carolRoot) });
      await send(bob, {
        body: 'bob reference',
        'm.relates_to': { rel_type: 'm.reference', event_id: carolRoot },
      });
      const bobRoot = await send(bob, { body: 'needle bob root' });
      await send(carol, { body: 'carol in bob’s thread', ...inThread(bobRoot) });
      const onlyBobs = await send(carol, { body: 'carol root, bob replies' });
      await send(bob, { body: 'bob alone', ...inThread(onlyBobs) });

      // /relations: carol's reply only.
      const related = await call(
        server,
        alice,
        'GET',
        `/_matrix/client/v1/rooms/${enc(room)}/relations/${enc(carolRoot)}`,
      );
      expect((related['chunk'] as Json[]).map((e) => e['event_id'])).toEqual([carolReply]);

      // The bundled thread of carol's root (/event, /messages, /context): carol's reply is the
      // latest and the only one counted; bob's reference is not bundled.
      const bundled = (event: Json) => event['unsigned']?.['m.relations'];
      const check = (event: Json | undefined) => {
        expect(bundled(event as Json)?.['m.thread']).toMatchObject({
          count: 1,
          latest_event: { event_id: carolReply },
        });
        expect(bundled(event as Json)?.['m.reference']).toBeUndefined();
      };
      check(await call(server, alice, 'GET', `${V3}/rooms/${enc(room)}/event/${enc(carolRoot)}`));
      const page = (
        await call(server, alice, 'GET', `${V3}/rooms/${enc(room)}/messages?dir=b&limit=50`)
      )['chunk'] as Json[];
      check(page.find((e) => e['event_id'] === carolRoot));
      const context = await call(
        server,
        alice,
        'GET',
        `${V3}/rooms/${enc(room)}/context/${enc(carolRoot)}?limit=1`,
      );
      check(context['event']);
      // Carol still sees bob's reply as the latest.
      const carols = await call(
        server,
        carol,
        'GET',
        `${V3}/rooms/${enc(room)}/event/${enc(carolRoot)}`,
      );
      expect(bundled(carols)?.['m.thread']?.['count']).toBe(2);

      // /threads: neither bob's root nor a thread only bob replied in.
      const threads = await call(
        server,
        alice,
        'GET',
        `/_matrix/client/v1/rooms/${enc(room)}/threads`,
      );
      expect((threads['chunk'] as Json[]).map((e) => e['event_id'])).toEqual([carolRoot]);
      // Paged one thread at a time (thread_roots, as for a viewer who ignores nobody); bob's
      // threads are skipped across pages. A thread keeps its place by its latest reply, bob's
      // included (as Synapse orders them): bob's late reply puts carol's root before a newer
      // thread, and the first page's next_batch is that reply's position (the grouping of the
      // replies that leaves bob's out would answer the newer thread first, at its own reply).
      const newer = await send(carol, { body: 'carol newer root' });
      await send(carol, { body: 'carol newer reply', ...inThread(newer) });
      const bobLate = await send(bob, { body: 'bob late reply', ...inThread(carolRoot) });
      const bobLatePosition = await server.services.ctx.db.queryOne<{ stream_position: number }>(
        'SELECT stream_position FROM events WHERE event_id = $1',
        [bobLate],
      );
      const pages: string[] = [];
      const nextBatches: (string | undefined)[] = [];
      let from: string | undefined;
      do {
        const page = await call(
          server,
          alice,
          'GET',
          `/_matrix/client/v1/rooms/${enc(room)}/threads?limit=1${from === undefined ? '' : `&from=${enc(from)}`}`,
        );
        pages.push(...(page['chunk'] as Json[]).map((e) => e['event_id']));
        from = page['next_batch'];
        nextBatches.push(from);
      } while (from !== undefined && pages.length < 10);
      expect(pages).toEqual([carolRoot, newer]);
      expect(nextBatches).toEqual([roomToken(Number(bobLatePosition?.stream_position)), undefined]);
      // Carol, who ignores nobody, sees every thread.
      const carolsThreads = await call(
        server,
        carol,
        'GET',
        `/_matrix/client/v1/rooms/${enc(room)}/threads`,
      );
      expect((carolsThreads['chunk'] as Json[]).map((e) => e['event_id'])).toEqual([
        carolRoot,
        newer,
        onlyBobs,
        bobRoot,
      ]);

      // /search: carol's match only.
      const searched = await call(server, alice, 'POST', `${V3}/search`, {
        search_categories: { room_events: { search_term: 'needle', filter: { rooms: [room] } } },
      });
      const results = searched['search_categories']['room_events']['results'] as Json[];
      expect(results.map((r) => r['result']['content']['body'])).toEqual(['needle carol root']);
    });

    it('leaves the ignored user’s receipts out of /sync and drops his to-device messages', async () => {
      await ignore(bob);
      const since = (await sync(server, alice))['next_batch'];
      const target = await sendText(server, carol, roomId, 'read me');
      for (const who of [bob, carol]) {
        await call(
          server,
          who,
          'POST',
          `${V3}/rooms/${enc(roomId)}/receipt/m.read/${enc(target)}`,
          {},
        );
      }
      const readers = (body: Json): string[] => {
        const events = (body['rooms']?.['join']?.[roomId]?.['ephemeral']?.['events'] ??
          []) as Json[];
        const receipt = events.find((e) => e['type'] === 'm.receipt');
        return Object.keys(receipt?.['content']?.[target]?.['m.read'] ?? {}).sort();
      };
      // Incremental and initial: carol's receipt only.
      expect(readers(await sync(server, alice, { since }))).toEqual([carol.userId]);
      expect(readers(await sync(server, alice))).toEqual([carol.userId]);
      // Carol, who ignores nobody, sees both.
      expect(readers(await sync(server, carol))).toEqual([bob.userId, carol.userId].sort());

      // To-device: bob's message to alice and carol in one send reaches carol only; alice's
      // stream goes on with carol's next message, nothing lost or repeated.
      const toDevice = async (who: TestUser, since?: string) => {
        const body = await sync(server, who, since === undefined ? {} : { since });
        const events = (body['to_device']?.['events'] ?? []) as Json[];
        return { next: body['next_batch'] as string, seen: events.map((e) => e['content']['n']) };
      };
      const aliceStart = (await toDevice(alice)).next;
      const carolStart = (await toDevice(carol)).next;
      await call(server, bob, 'PUT', `${V3}/sendToDevice/m.test.ping/ign-td-1`, {
        messages: {
          [alice.userId]: { '*': { n: 'bob 1' } },
          [carol.userId]: { '*': { n: 'bob 1' } },
        },
      });
      await call(server, carol, 'PUT', `${V3}/sendToDevice/m.test.ping/ign-td-2`, {
        messages: { [alice.userId]: { [alice.deviceId]: { n: 'carol 1' } } },
      });
      await call(server, bob, 'PUT', `${V3}/sendToDevice/m.test.ping/ign-td-3`, {
        messages: { [alice.userId]: { [alice.deviceId]: { n: 'bob 2' } } },
      });
      expect((await toDevice(carol, carolStart)).seen).toEqual(['bob 1']);
      const first = await toDevice(alice, aliceStart);
      expect(first.seen).toEqual(['carol 1']);
      expect((await toDevice(alice, first.next)).seen).toEqual([]);
      // Nothing of bob's was stored for alice.
      const stored = await server.services.ctx.db.query<{ sender: string }>(
        'SELECT sender FROM to_device_messages WHERE user_id = $1',
        [alice.userId],
      );
      expect(stored.filter((row) => row.sender === bob.userId)).toEqual([]);
    });

    // Decision: the spec filters what the client receives through /sync and the timelines; as
    // Synapse, /event answers an event of an ignored user that the client asks for by ID.
    it('still answers /event for an ignored user’s event', async () => {
      await ignore(bob);
      const eventId = await sendText(server, bob, roomId, 'bob asked by ID');
      const event = await call(
        server,
        alice,
        'GET',
        `${V3}/rooms/${enc(roomId)}/event/${enc(eventId)}`,
      );
      expect(event['content']['body']).toBe('bob asked by ID');
    });

    it('keeps the list across a restart and shows everything again once un-ignored', async () => {
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      expect(bodies(await messages())).not.toContain('bob after');
      await ignore();
      expect(bodies(await messages())).toContain('bob after');
      const initial = await sync(server, alice);
      expect(messageBodies(initial['rooms']['join'][roomId]['timeline'])).toContain(
        'bob while polling',
      );
    });
  });
}
