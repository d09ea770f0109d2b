/**
 * Server-side search over real HTTP (client-server-api "Server Side Search", `POST /search`,
 * `room_events`): words found in bodies, room names and topics; `keys`; the filter's rooms and
 * senders; rank and recent order; `next_batch` until exhausted; `event_context` with
 * `profile_info`; `include_state` and `groupings`; only rooms the user is or was in, and only
 * events their history visibility lets them see; redacted and encrypted events never found; FTS
 * syntax in the term neither fails nor injects; the index survives a restart and is filled by
 * migration 0109 from events stored before it. Run on SQLite (search-api.test.ts) and
 * PostgreSQL (search-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type RegisteredUser,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { suiteRequests } from './suite-requests.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

type Json = Record<string, unknown>;

/** Registers the search tests against servers started with `options()`. */
export function searchSuite(options: () => TestServerOptions = () => ({})): void {
  describe('server-side search', () => {
    let server: TestServer;
    let alice: RegisteredUser;
    let bob: RegisteredUser;
    let carol: RegisteredUser;
    let eve: RegisteredUser;
    /** alice and bob's public room, named and with a topic. */
    let roomId: string;
    /** alice's room with `joined` history visibility, carol joins late. */
    let hidden: string;
    /** eve's own room: nobody else ever joined it. */
    let eveRoom: string;
    const { post, send } = suiteRequests(() => server, 's');
    const setState = async (
      user: RegisteredUser,
      room: string,
      type: string,
      content: Json,
    ): Promise<string> => {
      const answer = await server.client.request(
        'PUT',
        `${V3}/rooms/${enc(room)}/state/${enc(type)}/`,
        { token: user.accessToken, body: content },
      );
      if (answer.status !== 200) throw new Error(`state: ${JSON.stringify(answer.body)}`);
      return String(answer.body['event_id']);
    };
    const text = (body: string): Json => ({ msgtype: 'm.text', body });
    /** The `room_events` answer for `criteria` (status 200 required). */
    const search = async (
      user: RegisteredUser,
      criteria: Json,
      nextBatch?: string,
    ): Promise<Json> => {
      const query = nextBatch === undefined ? '' : `?next_batch=${enc(nextBatch)}`;
      const body = await post(user, `${V3}/search${query}`, {
        search_categories: { room_events: criteria },
      });
      return (body['search_categories'] as Json)['room_events'] as Json;
    };
    const ids = (answer: Json): string[] =>
      ((answer['results'] ?? []) as Json[]).map((r) => String((r['result'] as Json)['event_id']));
    /** Every page, following `next_batch` until it is gone. */
    const allPages = async (user: RegisteredUser, criteria: Json): Promise<string[]> => {
      const out: string[] = [];
      let next: string | undefined;
      for (let pages = 0; pages < 30; pages++) {
        const page = await search(user, criteria, next);
        out.push(...ids(page));
        if (page['next_batch'] === undefined) return out;
        next = String(page['next_batch']);
      }
      throw new Error('too many pages');
    };

    let kiwis: string[];
    let bobKiwi: string;
    let nameEvent: string;
    let topicEvent: string;
    let secret: string;
    let afterCarol: string;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      carol = await server.client.registerUser('carol');
      eve = await server.client.registerUser('eve');
      for (const [user, name] of [
        [alice, 'Alice A'],
        [bob, 'Bob B'],
      ] as const) {
        const set = await server.client.request(
          'PUT',
          `${V3}/profile/${enc(user.userId)}/displayname`,
          { token: user.accessToken, body: { displayname: name } },
        );
        if (set.status !== 200) throw new Error(`displayname: ${JSON.stringify(set.body)}`);
      }
      roomId = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      await post(bob, `${V3}/rooms/${enc(roomId)}/join`);
      kiwis = [];
      for (let i = 0; i < 5; i++) {
        kiwis.push(await send(alice, roomId, text(`kiwi number ${i} is ripe`)));
      }
      bobKiwi = await send(bob, roomId, text('Kiwi kiwi KIWI, said bob'));
      nameEvent = await setState(alice, roomId, 'm.room.name', { name: 'Orchard kiwi club' });
      topicEvent = await setState(alice, roomId, 'm.room.topic', {
        topic: 'Everything about mangoes',
      });
      await send(alice, roomId, text('mangoes are sweet'));
      hidden = String(
        (
          await post(alice, `${V3}/createRoom`, {
            preset: 'public_chat',
            initial_state: [
              {
                type: 'm.room.history_visibility',
                state_key: '',
                content: { history_visibility: 'joined' },
              },
            ],
          })
        )['room_id'],
      );
      secret = await send(alice, hidden, text('papaya before carol'));
      await post(carol, `${V3}/rooms/${enc(hidden)}/join`);
      afterCarol = await send(alice, hidden, text('papaya after carol'));
      eveRoom = String((await post(eve, `${V3}/createRoom`, {}))['room_id']);
      await send(eve, eveRoom, text('kiwi papaya mangoes in eve room'));
    });
    afterAll(() => server.stop());

    it('finds words in bodies, names and topics, with highlights and a count', async () => {
      const answer = await search(alice, { search_term: 'kiwi', order_by: 'recent' });
      expect(ids(answer)).toEqual([nameEvent, bobKiwi, ...[...kiwis].reverse()]);
      expect(answer['count']).toBe(7);
      expect(answer['highlights']).toContain('kiwi');
      expect(answer['next_batch']).toBeUndefined();
      const result = (answer['results'] as Json[])[0] as Json;
      expect(typeof result['rank']).toBe('number');
      expect((result['result'] as Json)['room_id']).toBe(roomId);
      // A word under 3 characters matches only itself, a longer one is also a prefix.
      expect(ids(await search(alice, { search_term: 'ki' }))).toEqual([]);
      expect(ids(await search(alice, { search_term: 'kiw' }))).toHaveLength(7);
      // Topic, case and prefixes ("mango" finds "mangoes"), all words required.
      expect(ids(await search(alice, { search_term: 'MANGO', order_by: 'recent' }))).toHaveLength(
        2,
      );
      expect(ids(await search(alice, { search_term: 'mangoes sweet' }))).toHaveLength(1);
      expect(ids(await search(alice, { search_term: 'about mangoes' }))).toEqual([topicEvent]);
      expect(ids(await search(alice, { search_term: 'durian' }))).toEqual([]);
      const prefix = await search(alice, { search_term: 'orch' });
      expect(ids(prefix)).toEqual([nameEvent]);
      expect(prefix['highlights']).toContain('orchard');
    });

    it('searches only the keys asked for', async () => {
      const body = await search(alice, { search_term: 'kiwi', keys: ['content.body'] });
      expect(ids(body)).not.toContain(nameEvent);
      expect(ids(body)).toHaveLength(6);
      expect(ids(await search(alice, { search_term: 'kiwi', keys: ['content.name'] }))).toEqual([
        nameEvent,
      ]);
      expect(ids(await search(alice, { search_term: 'mangoes', keys: ['content.topic'] }))).toEqual(
        [topicEvent],
      );
      expect(
        ids(
          await search(alice, { search_term: 'mangoes', keys: ['content.name', 'content.body'] }),
        ),
      ).toHaveLength(1);
      const bad = await server.client.request('POST', `${V3}/search`, {
        token: alice.accessToken,
        body: { search_categories: { room_events: { search_term: 'x', keys: ['content.nope'] } } },
      });
      expect(bad.status).toBe(400);
    });

    it('applies the filter: rooms, not_rooms, senders, types', async () => {
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { senders: [bob.userId] } })),
      ).toEqual([bobKiwi]);
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { not_senders: [alice.userId] } })),
      ).toEqual([bobKiwi]);
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { types: ['m.room.name'] } })),
      ).toEqual([nameEvent]);
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { rooms: [hidden] } })),
      ).toEqual([]);
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { not_rooms: [roomId] } })),
      ).toEqual([]);
      expect(
        ids(await search(alice, { search_term: 'kiwi', filter: { rooms: [roomId], limit: 100 } })),
      ).toHaveLength(7);
    });

    it('orders by rank: the event saying it most comes first', async () => {
      const answer = await search(alice, { search_term: 'kiwi', keys: ['content.body'] });
      expect(ids(answer)[0]).toBe(bobKiwi);
      const ranks = (answer['results'] as Json[]).map((r) => Number(r['rank']));
      expect([...ranks].sort((a, b) => b - a)).toEqual(ranks);
    });

    it('pages with next_batch until exhausted, in both orders', async () => {
      const everything = ids(await search(alice, { search_term: 'kiwi', filter: { limit: 50 } }));
      expect(everything).toHaveLength(7);
      for (const order of ['rank', 'recent']) {
        const criteria = { search_term: 'kiwi', order_by: order, filter: { limit: 2 } };
        const first = await search(alice, criteria);
        expect(ids(first)).toHaveLength(2);
        expect(typeof first['next_batch']).toBe('string');
        const pages = await allPages(alice, criteria);
        expect(pages).toHaveLength(7);
        expect(new Set(pages).size).toBe(7);
        if (order === 'rank') expect(pages).toEqual(everything);
        else expect(pages).toEqual([nameEvent, bobKiwi, ...[...kiwis].reverse()]);
      }
      // A token of the other order, or not one of ours: 400.
      const rank = await search(alice, { search_term: 'kiwi', filter: { limit: 2 } });
      for (const token of [String(rank['next_batch']), 'garbage!', 'eyJvIjoxfQ']) {
        const answer = await server.client.request(
          'POST',
          `${V3}/search?next_batch=${enc(token)}`,
          {
            token: alice.accessToken,
            body: {
              search_categories: { room_events: { search_term: 'kiwi', order_by: 'recent' } },
            },
          },
        );
        expect(answer.status).toBe(400);
      }
    });

    it('adds event context with profiles, room state and groups on request', async () => {
      const answer = await search(alice, {
        search_term: 'ripe',
        order_by: 'recent',
        filter: { limit: 1 },
        event_context: { before_limit: 2, after_limit: 1, include_profile: true },
        include_state: true,
        groupings: { group_by: [{ key: 'room_id' }, { key: 'sender' }] },
      });
      const result = (answer['results'] as Json[])[0] as Json;
      expect((result['result'] as Json)['event_id']).toBe(kiwis[4]);
      const context = result['context'] as Json;
      expect((context['events_before'] as Json[]).map((e) => e['event_id'])).toEqual([
        kiwis[3],
        kiwis[2],
      ]);
      expect((context['events_after'] as Json[]).map((e) => e['event_id'])).toEqual([bobKiwi]);
      expect(typeof context['start']).toBe('string');
      expect(typeof context['end']).toBe('string');
      const profiles = context['profile_info'] as Record<string, Json>;
      expect(profiles[alice.userId]?.['displayname']).toBe('Alice A');
      expect(profiles[bob.userId]?.['displayname']).toBe('Bob B');
      const state = (answer['state'] as Record<string, Json[]>)[roomId] ?? [];
      expect(state.some((e) => e['type'] === 'm.room.create')).toBe(true);
      expect(state.find((e) => e['type'] === 'm.room.topic')?.['event_id']).toBe(topicEvent);
      const groups = answer['groups'] as Record<string, Record<string, Json>>;
      const roomGroup = groups['room_id']?.[roomId] as Json;
      expect(roomGroup['results']).toEqual([kiwis[4]]);
      expect(roomGroup['order']).toBe(1);
      expect(groups['sender']?.[alice.userId]?.['results']).toEqual([kiwis[4]]);
      // A group's own next_batch stays in the group: the newest "kiwi" is alice's room name,
      // and her group continues with her messages only.
      const senderGroups = await search(alice, {
        search_term: 'kiwi',
        filter: { limit: 1 },
        order_by: 'recent',
        groupings: { group_by: [{ key: 'sender' }] },
      });
      expect(ids(senderGroups)).toEqual([nameEvent]);
      const aliceGroup = (senderGroups['groups'] as Record<string, Record<string, Json>>)[
        'sender'
      ]?.[alice.userId] as Json;
      const hers = await search(
        alice,
        { search_term: 'kiwi', filter: { limit: 10 }, order_by: 'recent' },
        String(aliceGroup['next_batch']),
      );
      expect(ids(hers)).toEqual([...kiwis].reverse());
      // By rank too: the same rows of the group, from where the page stopped.
      const rankGroups = await search(alice, {
        search_term: 'kiwi',
        filter: { limit: 1 },
        groupings: { group_by: [{ key: 'room_id' }] },
      });
      const roomNext = (rankGroups['groups'] as Record<string, Record<string, Json>>)['room_id']?.[
        roomId
      ]?.['next_batch'];
      const restOfRoom = await search(
        alice,
        { search_term: 'kiwi', filter: { limit: 10 } },
        String(roomNext),
      );
      expect([...ids(rankGroups), ...ids(restOfRoom)]).toHaveLength(7);
    });

    it('searches only rooms the user is in, and only what history visibility shows', async () => {
      // eve's room: only eve finds its message.
      expect(ids(await search(alice, { search_term: 'eve room' }))).toEqual([]);
      expect(ids(await search(eve, { search_term: 'eve room' }))).toHaveLength(1);
      expect(ids(await search(eve, { search_term: 'kiwi', filter: { rooms: [roomId] } }))).toEqual(
        [],
      );
      // `joined` visibility: carol finds what came after her join, alice both; carol's count
      // does not tell her how many matches came before she joined.
      const carols = await search(carol, { search_term: 'papaya' });
      expect(ids(carols)).toEqual([afterCarol]);
      expect(carols['count']).toBe(1);
      expect(ids(await search(alice, { search_term: 'papaya', order_by: 'recent' }))).toEqual([
        afterCarol,
        secret,
      ]);
      // After leaving, carol keeps what she saw but nothing newer.
      await post(carol, `${V3}/rooms/${enc(hidden)}/leave`);
      await send(alice, hidden, text('papaya once carol left'));
      expect(ids(await search(carol, { search_term: 'papaya' }))).toEqual([afterCarol]);
      expect(ids(await search(alice, { search_term: 'papaya' }))).toHaveLength(3);
    });

    it('never finds redacted or encrypted events', async () => {
      const doomed = await send(alice, roomId, text('lychee to be redacted'));
      expect(ids(await search(alice, { search_term: 'lychee' }))).toEqual([doomed]);
      const redacted = await server.client.request(
        'PUT',
        `${V3}/rooms/${enc(roomId)}/redact/${enc(doomed)}/red1`,
        { token: alice.accessToken, body: {} },
      );
      expect(redacted.status).toBe(200);
      expect(ids(await search(alice, { search_term: 'lychee' }))).toEqual([]);
      expect((await search(alice, { search_term: 'lychee' }))['count']).toBe(0);
      await send(
        alice,
        roomId,
        {
          algorithm: 'm.megolm.v1.aes-sha2',
          ciphertext: 'AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg lychee',
          sender_key: 'x',
          session_id: 'y',
          device_id: 'D',
        },
        'm.room.encrypted',
      );
      expect(ids(await search(alice, { search_term: 'lychee' }))).toEqual([]);
    });

    it('treats FTS syntax in the term as words, never as syntax', async () => {
      const tricky = await send(alice, roomId, text('quince "quoted" NEAR(stuff) a-b OR c*'));
      for (const term of [
        '"',
        '"quince',
        'quince"',
        '*',
        'quince*',
        'OR',
        'quince OR durian',
        'NEAR(quince',
        'NEAR(quince stuff)',
        '-quince',
        'quince -quoted',
        '{body}: quince',
        'body:quince',
        "qu'ince",
        '\\',
        '^quince',
        '( ) & | ! : <-> ',
        'quince AND',
        '\u0000quince',
      ]) {
        const answer = await search(alice, { search_term: term });
        expect(Array.isArray(answer['results'])).toBe(true);
      }
      // `OR` is a word, not an operator: "quince OR durian" needs all three words.
      expect(ids(await search(alice, { search_term: 'quince OR durian' }))).toEqual([]);
      expect(ids(await search(alice, { search_term: 'quince OR' }))).toEqual([tricky]);
      // `-` excludes nothing: the word after it is required.
      expect(ids(await search(alice, { search_term: 'quince -quoted' }))).toEqual([tricky]);
      expect(ids(await search(alice, { search_term: '"quince stuff"' }))).toEqual([tricky]);
      expect(ids(await search(alice, { search_term: '' }))).toEqual([]);
      // Very long words, in the term and in a body: no error; PostgreSQL leaves a word over
      // 2,047 bytes out of a tsvector, so only SQLite finds it.
      const long = `guava${'x'.repeat(3000)}`;
      const longWord = await send(alice, roomId, text(`${long} tail`));
      const found = server.services.ctx.db.dialect === 'sqlite' ? [longWord] : [];
      expect(ids(await search(alice, { search_term: long }))).toEqual(found);
      expect(ids(await search(alice, { search_term: 'guava' }))).toEqual(found);
      expect(ids(await search(alice, { search_term: 'tail' }))).toEqual([longWord]);
      // A body with a NUL character is stored and found.
      const nul = await send(alice, roomId, text('feijoa\u0000nul'));
      expect(ids(await search(alice, { search_term: 'feijoa' }))).toEqual([nul]);
    });

    it('reads a bounded number of matches per request, then hands out next_batch', async () => {
      const room = String((await post(alice, `${V3}/createRoom`, {}))['room_id']);
      const named = await setState(alice, room, 'm.room.name', { name: 'tamarind corner' });
      for (let i = 0; i < 205; i++) await send(alice, room, text(`tamarind ${i}`));
      // Only the name passes the filter; 205 newer messages match the words first.
      const criteria = {
        search_term: 'tamarind',
        order_by: 'recent',
        filter: { rooms: [room], types: ['m.room.name'] },
      };
      const first = await search(alice, criteria);
      expect(ids(first)).toEqual([]);
      // No count: the search is not exhausted on this page (a count of index matches would
      // include what the user may not see).
      expect(first['count']).toBeUndefined();
      expect(typeof first['next_batch']).toBe('string');
      expect(await allPages(alice, criteria)).toEqual([named]);
      // By rank: one statement of a bounded number of rows per request, pages continue.
      const ranked = { ...criteria, order_by: 'rank' };
      expect((await search(alice, ranked))['count']).toBeUndefined();
      expect(await allPages(alice, ranked)).toEqual([named]);
    }, 60_000);

    it('answers 400 to malformed requests', async () => {
      for (const body of [
        {},
        { search_categories: [] },
        { search_categories: { room_events: {} } },
        { search_categories: { room_events: { search_term: 1 } } },
        { search_categories: { room_events: { search_term: 'x', order_by: 'oldest' } } },
        { search_categories: { room_events: { search_term: 'x', filter: { rooms: 'x' } } } },
        { search_categories: { room_events: { search_term: 'x', event_context: 1 } } },
        {
          search_categories: {
            room_events: { search_term: 'x', groupings: { group_by: [{ key: 'type' }] } },
          },
        },
      ]) {
        const answer = await server.client.request('POST', `${V3}/search`, {
          token: alice.accessToken,
          body,
        });
        expect(answer.status, JSON.stringify(body)).toBe(400);
      }
      // No room_events: an empty answer.
      expect(await post(alice, `${V3}/search`, { search_categories: {} })).toEqual({
        search_categories: {},
      });
    });

    it('keeps the index across a restart, and migration 0109 fills it from stored events', async () => {
      const before = ids(await search(alice, { search_term: 'kiwi', order_by: 'recent' }));
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      expect(ids(await search(alice, { search_term: 'kiwi', order_by: 'recent' }))).toEqual(before);
      const db = server.services.ctx.db;
      await db.transaction(async (tx) => {
        await tx.execute('DROP TABLE event_search');
        await tx.execute("DELETE FROM schema_migrations WHERE name = '0109-search.ts'");
      });
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      expect(ids(await search(alice, { search_term: 'kiwi', order_by: 'recent' }))).toEqual(before);
      // Redacted events stay out of the refilled index too.
      expect(ids(await search(alice, { search_term: 'lychee' }))).toEqual([]);
      expect(ids(await search(carol, { search_term: 'papaya' }))).toEqual([afterCarol]);
    });
  });
}
