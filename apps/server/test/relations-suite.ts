/**
 * Event relationships over real HTTP (client-server-api "Forming relationships between events",
 * "Threading", "Event replacements", "Reference relations"): `GET /relations` in both
 * directions with pagination and its `relType`/`eventType` filters and `recurse`; `GET
 * /threads` by latest activity, `include=participated` and pagination, for a user who left as of
 * their leave (403 for one never in the room, as `/messages`); 404 for a parent the
 * user may not see; a redacted child leaves the index; the bundled aggregations (`m.thread`,
 * `m.replace`, `m.reference`) of `/event`, `/messages`, `/context` and `/relations`; a thread
 * off an event that is itself a relation refused (400 `M_UNKNOWN`); and the index filled by
 * migration 0107 from events stored before it. Run on SQLite (relations-api.test.ts) and
 * PostgreSQL (relations-postgres.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type RegisteredUser,
  startTestServer,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { suiteRequests } from './suite-requests.ts';

const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

type Json = Record<string, unknown>;

/** Registers the relations tests against servers started with `options()`. */
export function relationsSuite(options: () => TestServerOptions = () => ({})): void {
  describe('event relationships', () => {
    let server: TestServer;
    let alice: RegisteredUser;
    let bob: RegisteredUser;
    let carol: RegisteredUser;
    let eve: RegisteredUser;
    let roomId: string;
    const { ok, get, post, send, nextTxn } = suiteRequests(() => server, 'r');
    const text = (body: string, relatesTo?: Json): Json => ({
      msgtype: 'm.text',
      body,
      ...(relatesTo !== undefined ? { 'm.relates_to': relatesTo } : {}),
    });
    const thread = (root: string, body: string) =>
      text(body, { rel_type: 'm.thread', event_id: root, is_falling_back: true });
    const ids = (body: Json): string[] =>
      (body['chunk'] as Json[]).map((event) => String(event['event_id']));
    const relations = (user: RegisteredUser, parent: string, suffix = '', query = '') =>
      get(user, `${V1}/rooms/${enc(roomId)}/relations/${enc(parent)}${suffix}${query}`);
    /** Every page of `/relations` from the first, following `next_batch`. */
    const allPages = async (parent: string, query: string): Promise<string[]> => {
      const out: string[] = [];
      let from: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page = await relations(
          alice,
          parent,
          '',
          `?limit=2&${query}${from !== undefined ? `&from=${enc(from)}` : ''}`,
        );
        out.push(...ids(page));
        expect((page['chunk'] as Json[]).length).toBeLessThanOrEqual(2);
        if (page['next_batch'] === undefined) return out;
        from = String(page['next_batch']);
      }
      throw new Error('too many pages');
    };

    // The room's events, in the order they were sent.
    let root: string;
    let replies: string[];
    let reaction: string;
    let edit: string;
    let badEdit: string;
    let reference: string;
    let nested: string;

    beforeAll(async () => {
      server = await startTestServer(options());
      alice = await server.client.registerUser('alice');
      bob = await server.client.registerUser('bob');
      carol = await server.client.registerUser('carol');
      eve = await server.client.registerUser('eve');
      roomId = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      await post(bob, `${V3}/rooms/${enc(roomId)}/join`);
      root = await send(alice, roomId, text('root'));
      replies = [];
      for (let i = 0; i < 4; i++) {
        replies.push(await send(i % 2 === 0 ? bob : alice, roomId, thread(root, `reply ${i}`)));
      }
      reaction = await send(
        alice,
        roomId,
        { 'm.relates_to': { rel_type: 'm.annotation', event_id: root, key: '👍' } },
        'm.reaction',
      );
      edit = await send(alice, roomId, {
        ...text('* root, edited', { rel_type: 'm.replace', event_id: root }),
        'm.new_content': text('root, edited'),
      });
      // Not alice's: no edit of hers.
      badEdit = await send(bob, roomId, {
        ...text('* hijacked', { rel_type: 'm.replace', event_id: root }),
        'm.new_content': text('hijacked'),
      });
      reference = await send(
        alice,
        roomId,
        text('see above', { rel_type: 'm.reference', event_id: root }),
      );
      // A relation of a relation: only `recurse=true` reaches it from the root.
      nested = await send(
        bob,
        roomId,
        { 'm.relates_to': { rel_type: 'm.annotation', event_id: replies[0], key: '🎉' } },
        'm.reaction',
      );
    });
    afterAll(() => server.stop());

    it('lists the children newest first, in pages, and oldest first with dir=f', async () => {
      const children = [...replies, reaction, edit, badEdit, reference];
      const first = await relations(alice, root);
      expect(ids(first)).toEqual(children.slice(-5).reverse());
      expect(first['prev_batch']).toBeUndefined();
      expect(typeof first['next_batch']).toBe('string');
      expect(await allPages(root, 'dir=b')).toEqual([...children].reverse());
      expect(await allPages(root, 'dir=f')).toEqual(children);
      // `to` stops a page: from the newest back to (not including) the token after the edit.
      const all = await relations(alice, root, '', '?limit=100');
      expect(ids(all)).toEqual([...children].reverse());
      const page = await relations(alice, root, '', '?limit=3');
      const rest = await relations(
        alice,
        root,
        '',
        `?limit=100&from=${enc(String(page['next_batch']))}`,
      );
      expect(rest['prev_batch']).toBe(page['next_batch']);
      expect([...ids(page), ...ids(rest)]).toEqual(ids(all));
      // A `/messages` token is a `from` too.
      const messages = await get(alice, `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=1`);
      const fromMessages = await relations(
        alice,
        root,
        '',
        `?limit=100&from=${enc(String(messages['start']))}`,
      );
      expect(ids(fromMessages)).toEqual(ids(all));
    });

    it('filters by relation type and event type', async () => {
      expect(ids(await relations(alice, root, '/m.thread', '?limit=10'))).toEqual(
        [...replies].reverse(),
      );
      expect(ids(await relations(alice, root, '/m.annotation/m.reaction'))).toEqual([reaction]);
      expect(ids(await relations(alice, root, '/m.thread/m.reaction'))).toEqual([]);
      expect(ids(await relations(alice, root, '/m.replace/m.room.message'))).toEqual([
        badEdit,
        edit,
      ]);
      expect(ids(await relations(alice, replies[0] as string))).toEqual([nested]);
    });

    it('recurses three levels with recurse=true', async () => {
      const direct = await relations(alice, root, '', '?limit=100&recurse=false');
      expect(direct['recursion_depth']).toBe(1);
      expect(ids(direct)).not.toContain(nested);
      const deep = await relations(alice, root, '', '?limit=100&recurse=true');
      expect(deep['recursion_depth']).toBe(3);
      expect(ids(deep)[0]).toBe(nested);
      // Page by page (the walk stops at each page's upper bound), the same children.
      expect(await allPages(root, 'recurse=true')).toEqual(ids(deep));
      // The filter applies to every level: no m.annotation reaches `nested` without a thread.
      expect(ids(await relations(alice, root, '/m.annotation', '?recurse=true'))).toEqual([
        reaction,
      ]);
      expect(
        await relations(alice, root, '', '?recurse=yes').catch((e: Error) => e.message),
      ).toMatch(/400/);
    });

    it('bundles m.thread, m.replace and m.reference with /event, /messages and /context', async () => {
      const check = (event: Json | undefined, viewer: RegisteredUser) => {
        if (event === undefined) throw new Error('event missing');
        const bundle = (event['unsigned'] as Json)['m.relations'] as Json;
        const threadBundle = bundle['m.thread'] as Json;
        expect(threadBundle['count']).toBe(4);
        expect((threadBundle['latest_event'] as Json)['event_id']).toBe(replies[3]);
        expect(threadBundle['current_user_participated']).toBe(viewer !== carol);
        expect((bundle['m.replace'] as Json)['event_id']).toBe(edit);
        expect(((bundle['m.replace'] as Json)['content'] as Json)['m.new_content']).toEqual(
          text('root, edited'),
        );
        expect(bundle['m.reference']).toEqual({ chunk: [{ event_id: reference }] });
        expect(bundle['m.annotation']).toBeUndefined();
      };
      check(await get(alice, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`), alice);
      check(await get(bob, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`), bob);
      await post(carol, `${V3}/rooms/${enc(roomId)}/join`);
      check(await get(carol, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`), carol);
      const messages = await get(alice, `${V3}/rooms/${enc(roomId)}/messages?dir=b&limit=100`);
      check(
        (messages['chunk'] as Json[]).find((event) => event['event_id'] === root),
        alice,
      );
      const context = await get(alice, `${V3}/rooms/${enc(roomId)}/context/${enc(root)}?limit=4`);
      check(context['event'] as Json, alice);
      // The thread's latest event carries its own relations (none here but the nested one of
      // the first reply, which is not the latest).
      const firstReply = await get(
        alice,
        `${V3}/rooms/${enc(roomId)}/event/${enc(replies[0] as string)}`,
      );
      expect((firstReply['unsigned'] as Json)['m.relations']).toBeUndefined();
    });

    it('lists thread roots by latest activity, with include=participated and pages', async () => {
      const other = await send(bob, roomId, text('bob root'));
      await send(bob, roomId, thread(other, 'bob reply'));
      const threads = (user: RegisteredUser, query = '') =>
        get(user, `${V1}/rooms/${enc(roomId)}/threads${query}`);
      expect(ids(await threads(alice))).toEqual([other, root]);
      await send(alice, roomId, thread(root, 'bump'));
      const bumped = await threads(alice);
      expect(ids(bumped)).toEqual([root, other]);
      const rootEvent = (bumped['chunk'] as Json[])[0] ?? {};
      const rootBundle = (rootEvent['unsigned'] as Json)['m.relations'] as Json;
      expect((rootBundle['m.thread'] as Json)['count']).toBe(5);
      // alice sent the root of one and replied in none of bob's; carol took part in neither.
      expect(ids(await threads(alice, '?include=participated'))).toEqual([root]);
      expect(ids(await threads(bob, '?include=participated'))).toEqual([root, other]);
      expect(ids(await threads(carol, '?include=participated'))).toEqual([]);
      const first = await threads(alice, '?limit=1');
      expect(ids(first)).toEqual([root]);
      const second = await threads(alice, `?limit=1&from=${enc(String(first['next_batch']))}`);
      expect(ids(second)).toEqual([other]);
      expect(second['next_batch']).toBeUndefined();
      await get(alice, `${V1}/rooms/${enc(roomId)}/threads?include=mine`, 400);
      await get(eve, `${V1}/rooms/${enc(roomId)}/threads`, 403);
    });

    // Spec "Threading" (`GET /threads`) with "History visibility": a former member sees the
    // room's threads as of their leaving, like `/messages`; a user never in the room is refused
    // as `/messages` refuses them.
    it('shows a user who left the threads up to their leave, as /messages does', async () => {
      const room = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      await post(carol, `${V3}/rooms/${enc(room)}/join`);
      const old = await send(alice, room, text('old root'));
      const oldReply = await send(alice, room, thread(old, 'old reply'));
      const other = await send(alice, room, text('other old root'));
      await send(alice, room, thread(other, 'other old reply'));
      await post(carol, `${V3}/rooms/${enc(room)}/leave`);
      const newer = await send(alice, room, text('newer root'));
      await send(alice, room, thread(newer, 'newer reply'));
      // Activity after the leave in the first thread: neither its place nor its count for carol.
      await send(alice, room, thread(old, 'old reply after the leave'));

      const threads = (user: RegisteredUser, query = '') =>
        get(user, `${V1}/rooms/${enc(room)}/threads${query}`);
      const listed = await threads(carol, '?limit=10');
      expect(ids(listed)).toEqual([other, old]);
      const oldEvent = (listed['chunk'] as Json[])[1] ?? {};
      const bundle = (oldEvent['unsigned'] as Json)['m.relations'] as Json;
      expect((bundle['m.thread'] as Json)['count']).toBe(1);
      expect(((bundle['m.thread'] as Json)['latest_event'] as Json)['event_id']).toBe(oldReply);
      // Pages in the same order, ending with the last thread she may see.
      const first = await threads(carol, '?limit=1');
      expect(ids(first)).toEqual([other]);
      const second = await threads(carol, `?limit=1&from=${enc(String(first['next_batch']))}`);
      expect(ids(second)).toEqual([old]);
      expect(second['next_batch']).toBeUndefined();
      expect(ids(await threads(carol, '?include=participated'))).toEqual([]);
      // /messages draws the same line.
      const messages = await get(carol, `${V3}/rooms/${enc(room)}/messages?dir=b&limit=100`);
      const seen = ids(messages);
      expect(seen).toContain(old);
      expect(seen).not.toContain(newer);
      // Joined members see both.
      expect(ids(await threads(alice))).toEqual([old, newer, other]);
      // Never a member: refused by both alike.
      await get(eve, `${V3}/rooms/${enc(room)}/messages?dir=b`, 403);
      await get(eve, `${V1}/rooms/${enc(room)}/threads`, 403);
    });

    it('orders /threads by latest reply, corrected when a reply is redacted', async () => {
      const room = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      const first = await send(alice, room, text('first root'));
      const firstReply = await send(alice, room, thread(first, 'first reply'));
      const second = await send(alice, room, text('second root'));
      await send(alice, room, thread(second, 'second reply'));
      const bump = await send(alice, room, thread(first, 'bump'));
      const threads = async () => ids(await get(alice, `${V1}/rooms/${enc(room)}/threads`));
      expect(await threads()).toEqual([first, second]);
      const redact = async (id: string) => {
        const answer = await server.client.request(
          'PUT',
          `${V3}/rooms/${enc(room)}/redact/${enc(id)}/tr${nextTxn()}`,
          { token: alice.accessToken, body: {} },
        );
        expect(answer.status).toBe(200);
      };
      await redact(bump);
      expect(await threads()).toEqual([second, first]);
      await redact(firstReply);
      expect(await threads()).toEqual([second]);
    });

    it('bundles aggregations in /sync timelines that are limited, not in the others', async () => {
      const room = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      const sync = async (limit: number, since?: string) => {
        const filter = JSON.stringify({ room: { rooms: [room], timeline: { limit } } });
        const query = `filter=${enc(filter)}${since !== undefined ? `&since=${enc(since)}` : ''}`;
        return get(alice, `${V3}/sync?${query}&timeout=0`);
      };
      const before = String((await sync(1))['next_batch']);
      const parent = await send(alice, room, text('parent'));
      const child = await send(
        alice,
        room,
        text('see parent', { rel_type: 'm.reference', event_id: parent }),
      );
      const timelineOf = (answer: Json) =>
        ((answer['rooms'] as Json)['join'] as Record<string, Json>)[room]?.['timeline'] as Json;
      const parentIn = (timeline: Json) =>
        (timeline['events'] as Json[]).find((event) => event['event_id'] === parent) ?? {};
      // Limited (the room's creation events came before): the parent carries its bundle.
      const limited = timelineOf(await sync(2));
      expect(limited['limited']).toBe(true);
      expect((parentIn(limited)['unsigned'] as Json)['m.relations']).toEqual({
        'm.reference': { chunk: [{ event_id: child }] },
      });
      // Not limited: the client gets the child itself; nothing is bundled.
      const whole = timelineOf(await sync(10, before));
      expect(whole['limited']).toBe(false);
      expect((parentIn(whole)['unsigned'] as Json)['m.relations']).toBeUndefined();
    });

    it('answers 404 for a parent the user may not see', async () => {
      await get(eve, `${V1}/rooms/${enc(roomId)}/relations/${enc(root)}`, 404);
      await get(alice, `${V1}/rooms/${enc(roomId)}/relations/${enc('$unknown')}`, 404);
      // history_visibility joined: a root from before carol's join is not hers to see.
      const hidden = String(
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
      const secret = await send(alice, hidden, text('before carol'));
      await send(alice, hidden, thread(secret, 'also before carol'));
      await post(carol, `${V3}/rooms/${enc(hidden)}/join`);
      await get(carol, `${V1}/rooms/${enc(hidden)}/relations/${enc(secret)}`, 404);
      await get(carol, `${V1}/rooms/${enc(hidden)}/relations/${enc(secret)}/m.thread`, 404);
      expect(ids(await get(carol, `${V1}/rooms/${enc(hidden)}/threads`))).toEqual([]);
      expect(
        ids(await get(alice, `${V1}/rooms/${enc(hidden)}/relations/${enc(secret)}`)),
      ).toHaveLength(1);
    });

    it('bundles only the edits and references the viewer may see', async () => {
      const room = String(
        (await post(alice, `${V3}/createRoom`, { preset: 'public_chat' }))['room_id'],
      );
      const original = await send(alice, room, text('shared history'));
      const visibility = await server.client.request(
        'PUT',
        `${V3}/rooms/${enc(room)}/state/m.room.history_visibility/`,
        { token: alice.accessToken, body: { history_visibility: 'joined' } },
      );
      expect(visibility.status).toBe(200);
      const hiddenEdit = await send(alice, room, {
        ...text('* secret edit', { rel_type: 'm.replace', event_id: original }),
        'm.new_content': text('secret edit'),
      });
      const hiddenReference = await send(
        alice,
        room,
        text('secret reference', { rel_type: 'm.reference', event_id: original }),
      );
      const bundleFor = async (user: RegisteredUser) =>
        ((await get(user, `${V3}/rooms/${enc(room)}/event/${enc(original)}`))['unsigned'] as Json)[
          'm.relations'
        ] as Json | undefined;
      const alices = await bundleFor(alice);
      expect((alices?.['m.replace'] as Json | undefined)?.['event_id']).toBe(hiddenEdit);
      expect(alices?.['m.reference']).toEqual({ chunk: [{ event_id: hiddenReference }] });
      await post(eve, `${V3}/rooms/${enc(room)}/join`);
      // eve sees the shared original, but neither child from before her join.
      expect(await bundleFor(eve)).toBeUndefined();
      const laterEdit = await send(alice, room, {
        ...text('* public edit', { rel_type: 'm.replace', event_id: original }),
        'm.new_content': text('public edit'),
      });
      const eves = await bundleFor(eve);
      expect((eves?.['m.replace'] as Json | undefined)?.['event_id']).toBe(laterEdit);
      expect(eves?.['m.reference']).toBeUndefined();
    });

    it('drops a redacted child from the list and the aggregation', async () => {
      const redacted = replies[1] as string;
      const answer = await server.client.request(
        'PUT',
        `${V3}/rooms/${enc(roomId)}/redact/${enc(redacted)}/redact1`,
        { token: alice.accessToken, body: {} },
      );
      expect(answer.status).toBe(200);
      const listed = ids(await relations(alice, root, '/m.thread', '?limit=100'));
      expect(listed).not.toContain(redacted);
      expect(listed).toHaveLength(4);
      const event = await get(alice, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`);
      const bundle = (event['unsigned'] as Json)['m.relations'] as Json;
      expect((bundle['m.thread'] as Json)['count']).toBe(4);
      // Redacting the edit: the root has no edit left to bundle.
      await server.client.request('PUT', `${V3}/rooms/${enc(roomId)}/redact/${enc(edit)}/redact2`, {
        token: alice.accessToken,
        body: {},
      });
      const unedited = await get(alice, `${V3}/rooms/${enc(roomId)}/event/${enc(root)}`);
      expect(((unedited['unsigned'] as Json)['m.relations'] as Json)['m.replace']).toBeUndefined();
    });

    it('refuses a thread off an event that is itself a relation (400 M_UNKNOWN)', async () => {
      // Threading, "Validation of m.thread relationships". Its own room: /threads above unchanged.
      const room = String((await post(alice, `${V3}/createRoom`, {}))['room_id']);
      const start = await send(alice, room, text('start'));
      const reply = await send(alice, room, thread(start, 'in the thread'));
      const reacted = await send(
        alice,
        room,
        { 'm.relates_to': { rel_type: 'm.annotation', event_id: start, key: '👍' } },
        'm.reaction',
      );
      const refused = async (path: string, content: Json) => {
        const answer = await ok(alice, 'PUT', path, content, 400);
        expect(answer['errcode']).toBe('M_UNKNOWN');
      };
      const sendPath = () => `${V3}/rooms/${enc(room)}/send/m.room.message/r${nextTxn()}`;
      for (const parent of [reply, reacted]) {
        await refused(sendPath(), thread(parent, 'nested thread'));
      }
      // A state event is checked the same way.
      await refused(`${V3}/rooms/${enc(room)}/state/org.example.note/k`, thread(reply, 'state'));
      // A rich reply (m.in_reply_to, no rel_type) is no relation: a thread may start off it.
      const richReply = await send(
        alice,
        room,
        text('reply', { 'm.in_reply_to': { event_id: start } }),
      );
      await send(alice, room, thread(richReply, 'thread off a reply'));
      // A redacted relation has no content left: no longer refused.
      await ok(alice, 'PUT', `${V3}/rooms/${enc(room)}/redact/${enc(reacted)}/redact-r`, {});
      await send(alice, room, thread(reacted, 'thread off a redacted reaction'));
      expect(ids(await get(alice, `${V1}/rooms/${enc(room)}/threads?limit=10`))).toEqual([
        reacted,
        richReply,
        start,
      ]);
    });

    it('fills the index from stored events when migrations 0107 and 0114 run', async () => {
      const before = ids(await relations(alice, root, '', '?limit=100'));
      const threadsBefore = ids(await get(alice, `${V1}/rooms/${enc(roomId)}/threads`));
      const db = server.services.ctx.db;
      await db.transaction(async (tx) => {
        await tx.execute('DROP TABLE event_relations');
        await tx.execute('DROP TABLE thread_roots');
        await tx.execute(
          "DELETE FROM schema_migrations WHERE name IN ('0107-event-relations.ts', '0114-thread-roots.ts')",
        );
      });
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      expect(ids(await relations(alice, root, '', '?limit=100'))).toEqual(before);
      expect(ids(await get(alice, `${V1}/rooms/${enc(roomId)}/threads`))).toEqual(threadsBefore);
      expect(threadsBefore).toHaveLength(2);
    });
  });
}
