/**
 * The room endpoints over real HTTP against a real server: room creation, membership, sending
 * with transaction IDs, state, redaction, history, members, aliases and the public room
 * directory — asserting the spec's response shapes and errcodes. Run on SQLite by
 * rooms-api.test.ts and on PostgreSQL by rooms-postgres.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  startTestServer,
  type TestClient,
  type TestServer,
  type TestServerOptions,
} from './harness.ts';
import { ClientServerSpec } from './openapi.ts';

/** Registers the room endpoint tests against servers started with `options()`. */
export function roomsApiSuite(options: () => TestServerOptions): void {
  let server: TestServer;
  let client: TestClient;
  let alice: { userId: string; accessToken: string; deviceId: string };
  let bob: { userId: string; accessToken: string; deviceId: string };
  let carol: { userId: string; accessToken: string; deviceId: string };
  const V3 = '/_matrix/client/v3';

  beforeAll(async () => {
    server = await startTestServer(options());
    client = server.client;
    alice = await client.registerUser('alice');
    bob = await client.registerUser('bob');
    carol = await client.registerUser('carol');
  });
  afterAll(async () => {
    await server.stop();
  });

  type Body = Record<string, unknown>;
  const enc = encodeURIComponent;

  async function call(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
  ): Promise<{ status: number; body: Body }> {
    return client.request(method, V3 + path, {
      ...(token !== undefined ? { token } : {}),
      ...(body !== undefined ? { body } : {}),
    });
  }

  async function createRoom(token: string, body: Body = {}): Promise<string> {
    const res = await call('POST', '/createRoom', token, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return String(res.body['room_id']);
  }

  async function sendText(
    token: string,
    roomId: string,
    text: string,
    txn: string,
  ): Promise<string> {
    const res = await call('PUT', `/rooms/${enc(roomId)}/send/m.room.message/${txn}`, token, {
      msgtype: 'm.text',
      body: text,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return String(res.body['event_id']);
  }

  describe('POST /createRoom', () => {
    it('creates rooms in versions 10, 11 and 12 and refuses others with M_UNSUPPORTED_ROOM_VERSION', async () => {
      for (const version of ['10', '11', '12']) {
        const roomId = await createRoom(alice.accessToken, { room_version: version });
        const create = await call(
          'GET',
          `/rooms/${enc(roomId)}/state/m.room.create/`,
          alice.accessToken,
        );
        expect(create.status).toBe(200);
        expect(create.body['room_version']).toBe(version);
      }
      const bad = await call('POST', '/createRoom', alice.accessToken, { room_version: '9' });
      expect(bad.status).toBe(400);
      expect(bad.body['errcode']).toBe('M_UNSUPPORTED_ROOM_VERSION');
    });

    it('applies the preset, name, topic, initial_state, power level override and invites', async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        name: 'Lobby',
        topic: 'Say hi',
        invite: [bob.userId],
        initial_state: [
          { type: 'm.room.encryption', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
        ],
        power_level_content_override: { events_default: 10 },
        creation_content: { 'm.federate': false },
      });
      const state = await call('GET', `/rooms/${enc(roomId)}/state`, alice.accessToken);
      expect(state.status).toBe(200);
      const events = state.body as unknown as Body[];
      const byType = (type: string, key = '') =>
        events.find((e) => e['type'] === type && e['state_key'] === key)?.['content'] as Body;
      expect(byType('m.room.join_rules')).toEqual({ join_rule: 'public' });
      expect(byType('m.room.history_visibility')).toEqual({ history_visibility: 'shared' });
      expect(byType('m.room.guest_access')).toEqual({ guest_access: 'forbidden' });
      expect(byType('m.room.name')).toEqual({ name: 'Lobby' });
      expect(byType('m.room.topic')?.['topic']).toBe('Say hi');
      expect(byType('m.room.encryption')).toEqual({ algorithm: 'm.megolm.v1.aes-sha2' });
      expect(byType('m.room.power_levels')?.['events_default']).toBe(10);
      expect(byType('m.room.create')?.['m.federate']).toBe(false);
      expect(byType('m.room.member', bob.userId)?.['membership']).toBe('invite');
      for (const event of events) {
        expect(event).toMatchObject({ room_id: roomId, event_id: expect.stringMatching(/^\$/) });
        expect(typeof event['origin_server_ts']).toBe('number');
      }
    });

    it('refuses malformed bodies with 400 and missing tokens with 401', async () => {
      for (const body of [
        { preset: 'nope' },
        { invite: 'x' },
        { invite: ['not-a-user'] },
        { name: 5 },
        { initial_state: [{}] },
      ]) {
        const res = await call('POST', '/createRoom', alice.accessToken, body);
        expect(res.status, JSON.stringify(body)).toBe(400);
      }
      const anon = await call('POST', '/createRoom', undefined, {});
      expect(anon.status).toBe(401);
      expect(anon.body['errcode']).toBe('M_MISSING_TOKEN');
    });
  });

  describe('membership', () => {
    it('invites, joins, kicks, bans, unbans, leaves and forgets', async () => {
      const roomId = await createRoom(alice.accessToken, { preset: 'private_chat' });
      // Bob may not join an invite-only room uninvited.
      const denied = await call('POST', `/join/${enc(roomId)}`, bob.accessToken, {});
      expect(denied.status).toBe(403);
      expect(denied.body['errcode']).toBe('M_FORBIDDEN');

      expect(
        (
          await call('POST', `/rooms/${enc(roomId)}/invite`, alice.accessToken, {
            user_id: bob.userId,
          })
        ).status,
      ).toBe(200);
      const joined = await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      expect(joined.body).toEqual({ room_id: roomId });
      const list = await call('GET', '/joined_rooms', bob.accessToken);
      expect(list.body['joined_rooms']).toContain(roomId);

      // Bob (power 0) may not kick Alice.
      const kickDenied = await call('POST', `/rooms/${enc(roomId)}/kick`, bob.accessToken, {
        user_id: alice.userId,
      });
      expect(kickDenied.status).toBe(403);
      expect(
        (
          await call('POST', `/rooms/${enc(roomId)}/kick`, alice.accessToken, {
            user_id: bob.userId,
            reason: 'spam',
          })
        ).status,
      ).toBe(200);
      const member = await call(
        'GET',
        `/rooms/${enc(roomId)}/state/m.room.member/${enc(bob.userId)}`,
        alice.accessToken,
      );
      expect(member.body).toEqual({ membership: 'leave', reason: 'spam' });

      expect(
        (
          await call('POST', `/rooms/${enc(roomId)}/ban`, alice.accessToken, {
            user_id: bob.userId,
          })
        ).status,
      ).toBe(200);
      await call('POST', `/rooms/${enc(roomId)}/invite`, alice.accessToken, {
        user_id: bob.userId,
      }).then((r) => expect(r.status).toBe(403));
      const unbanNotBanned = await call('POST', `/rooms/${enc(roomId)}/unban`, alice.accessToken, {
        user_id: carol.userId,
      });
      expect(unbanNotBanned.status).toBe(403);
      expect(
        (
          await call('POST', `/rooms/${enc(roomId)}/unban`, alice.accessToken, {
            user_id: bob.userId,
          })
        ).status,
      ).toBe(200);

      // Forgetting needs the user to have left.
      const stillJoined = await call('POST', `/rooms/${enc(roomId)}/forget`, alice.accessToken, {});
      expect(stillJoined.status).toBe(400);
      expect((await call('POST', `/rooms/${enc(roomId)}/forget`, bob.accessToken, {})).status).toBe(
        200,
      );
      const rooms = await server.services.rooms.roomsForUser(bob.userId);
      expect(rooms.find((r) => r.roomId === roomId)?.forgotten).toBe(true);

      expect(
        (await call('POST', `/rooms/${enc(roomId)}/leave`, alice.accessToken, {})).status,
      ).toBe(200);
      expect(
        (await call('GET', '/joined_rooms', alice.accessToken)).body['joined_rooms'],
      ).not.toContain(roomId);
    });

    it('joins public rooms by alias and 404s unknown rooms and aliases', async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        room_alias_name: 'town',
      });
      const res = await call('POST', `/join/${enc('#town:test.local')}`, carol.accessToken, {});
      expect(res.status).toBe(200);
      expect(res.body['room_id']).toBe(roomId);
      expect(
        (await call('POST', `/join/${enc('#nowhere:test.local')}`, carol.accessToken, {})).status,
      ).toBe(404);
      expect(
        (await call('POST', `/join/${enc('!unknown:test.local')}`, carol.accessToken, {})).status,
      ).toBe(404);
      expect((await call('POST', `/join/${enc('not-an-id')}`, carol.accessToken, {})).status).toBe(
        400,
      );
      const taken = await call('POST', '/createRoom', alice.accessToken, {
        room_alias_name: 'town',
      });
      expect(taken.status).toBe(400);
      expect(taken.body['errcode']).toBe('M_ROOM_IN_USE');
    });
  });

  describe('sending and reading', () => {
    it('makes a repeated transaction ID return the same event without a second event', async () => {
      const roomId = await createRoom(alice.accessToken);
      const first = await sendText(alice.accessToken, roomId, 'hello', 'txn1');
      const again = await sendText(alice.accessToken, roomId, 'hello', 'txn1');
      expect(again).toBe(first);
      const messages = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=50`,
        alice.accessToken,
      );
      const texts = (messages.body['chunk'] as Body[]).filter(
        (e) => e['type'] === 'm.room.message',
      );
      expect(texts).toHaveLength(1);
      expect((texts[0]?.['unsigned'] as Body | undefined)?.['transaction_id']).toBe('txn1');
      const outsider = await call(
        'PUT',
        `/rooms/${enc(roomId)}/send/m.room.message/t`,
        bob.accessToken,
        { body: 'x' },
      );
      expect(outsider.status).toBe(403);
      expect(outsider.body['errcode']).toBe('M_FORBIDDEN');
      const huge = await call(
        'PUT',
        `/rooms/${enc(roomId)}/send/m.room.message/big`,
        alice.accessToken,
        { body: 'x'.repeat(70_000) },
      );
      expect(huge.status).toBe(413);
      const longType = await call(
        'PUT',
        `/rooms/${enc(roomId)}/send/${'t'.repeat(300)}/long`,
        alice.accessToken,
        { body: 'x' },
      );
      expect(longType.status).toBe(400);
      expect(longType.body['errcode']).toBe('M_BAD_JSON');
    });

    it('paginates /messages both ways with tokens, limits and filters', async () => {
      const roomId = await createRoom(alice.accessToken, { preset: 'public_chat' });
      await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      for (let i = 0; i < 12; i++) {
        await sendText(i % 2 === 0 ? alice.accessToken : bob.accessToken, roomId, `m${i}`, `p${i}`);
      }
      const bodies = (chunk: unknown) =>
        (chunk as Body[])
          .filter((e) => e['type'] === 'm.room.message')
          .map((e) => (e['content'] as Body)['body']);
      const page1 = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=5`,
        alice.accessToken,
      );
      expect(page1.status).toBe(200);
      expect(bodies(page1.body['chunk'])).toEqual(['m11', 'm10', 'm9', 'm8', 'm7']);
      const page2 = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=5&from=${page1.body['end']}`,
        alice.accessToken,
      );
      expect(bodies(page2.body['chunk'])).toEqual(['m6', 'm5', 'm4', 'm3', 'm2']);
      // Forwards from the token before m2 brings m2… back in order.
      const forward = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=f&limit=3&from=${page2.body['end']}`,
        alice.accessToken,
      );
      expect(bodies(forward.body['chunk'])).toEqual(['m2', 'm3', 'm4']);
      // Walking all the way back ends without an `end` token, at the create event.
      let from = page2.body['end'];
      let last: Body = {};
      for (let i = 0; i < 10 && from !== undefined; i++) {
        const res = await call(
          'GET',
          `/rooms/${enc(roomId)}/messages?dir=b&limit=20&from=${from}`,
          alice.accessToken,
        );
        last = res.body;
        from = res.body['end'];
      }
      expect(from).toBeUndefined();
      expect((last['chunk'] as Body[]).at(-1)?.['type']).toBe('m.room.create');

      const filter = enc(
        JSON.stringify({
          types: ['m.room.message'],
          senders: [bob.userId],
          lazy_load_members: true,
        }),
      );
      const filtered = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=3&filter=${filter}`,
        alice.accessToken,
      );
      expect(bodies(filtered.body['chunk'])).toEqual(['m11', 'm9', 'm7']);
      expect((filtered.body['state'] as Body[]).map((e) => e['state_key'])).toEqual([bob.userId]);
      const notTypes = enc(JSON.stringify({ not_types: ['m.room.*'] }));
      const none = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&filter=${notTypes}`,
        alice.accessToken,
      );
      expect(none.body['chunk']).toEqual([]);

      for (const bad of ['dir=x', 'dir=b&from=garbage', 'dir=b&limit=-1', 'dir=b&filter=%7B']) {
        const res = await call('GET', `/rooms/${enc(roomId)}/messages?${bad}`, alice.accessToken);
        expect(res.status, bad).toBe(400);
      }
      const outsider = await call('GET', `/rooms/${enc(roomId)}/messages?dir=b`, carol.accessToken);
      expect(outsider.status).toBe(403);
    });

    it('serves /event and /context, and lets a member who left read only up to leaving', async () => {
      const roomId = await createRoom(alice.accessToken, { preset: 'public_chat' });
      await call('POST', `/rooms/${enc(roomId)}/join`, carol.accessToken, {});
      const ids: string[] = [];
      for (let i = 0; i < 5; i++)
        ids.push(await sendText(alice.accessToken, roomId, `c${i}`, `ctx${i}`));
      const event = await call(
        'GET',
        `/rooms/${enc(roomId)}/event/${enc(ids[2] ?? '')}`,
        carol.accessToken,
      );
      expect(event.status).toBe(200);
      expect(event.body).toMatchObject({
        event_id: ids[2],
        room_id: roomId,
        sender: alice.userId,
        content: { body: 'c2' },
      });
      expect(typeof (event.body['unsigned'] as Body)['age']).toBe('number');
      const context = await call(
        'GET',
        `/rooms/${enc(roomId)}/context/${enc(ids[2] ?? '')}?limit=4`,
        carol.accessToken,
      );
      expect(context.status).toBe(200);
      const ctxBodies = (list: unknown) =>
        (list as Body[]).map((e) => (e['content'] as Body)['body']);
      expect(ctxBodies(context.body['events_before'])).toEqual(['c1', 'c0']);
      expect(ctxBodies(context.body['events_after'])).toEqual(['c3', 'c4']);
      expect(typeof context.body['start']).toBe('string');
      expect((context.body['state'] as Body[]).some((e) => e['type'] === 'm.room.create')).toBe(
        true,
      );

      await call('POST', `/rooms/${enc(roomId)}/leave`, carol.accessToken, {});
      const later = await sendText(alice.accessToken, roomId, 'after carol left', 'ctx-late');
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/event/${enc(later)}`, carol.accessToken)).status,
      ).toBe(404);
      const history = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=3`,
        carol.accessToken,
      );
      expect((history.body['chunk'] as Body[])[0]).toMatchObject({
        type: 'm.room.member',
        state_key: carol.userId,
      });
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/event/%24nope`, alice.accessToken)).status,
      ).toBe(404);
    });

    it('refuses a canonical alias of this server that does not point to the room (M_BAD_ALIAS)', async () => {
      const roomId = await createRoom(alice.accessToken, { room_alias_name: 'canon' });
      const other = await createRoom(alice.accessToken, { room_alias_name: 'elsewhere' });
      const ok = await call(
        'PUT',
        `/rooms/${enc(roomId)}/state/m.room.canonical_alias`,
        alice.accessToken,
        {
          alias: '#canon:test.local',
          alt_aliases: ['#remote:other.example'],
        },
      );
      expect(ok.status).toBe(200);
      for (const content of [
        { alias: '#elsewhere:test.local' },
        { alt_aliases: ['#missing:test.local'] },
      ]) {
        const bad = await call(
          'PUT',
          `/rooms/${enc(roomId)}/state/m.room.canonical_alias`,
          alice.accessToken,
          content,
        );
        expect(bad.status).toBe(400);
        expect(bad.body['errcode']).toBe('M_BAD_ALIAS');
      }
      expect(other).not.toBe(roomId);
    });

    it('hides events before a member joined when history_visibility is joined', async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        initial_state: [
          { type: 'm.room.history_visibility', content: { history_visibility: 'joined' } },
        ],
      });
      const early = await sendText(alice.accessToken, roomId, 'before bob', 'hv1');
      await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      await sendText(alice.accessToken, roomId, 'after bob', 'hv2');
      const page = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=50`,
        bob.accessToken,
      );
      const seen = (page.body['chunk'] as Body[]).map(
        (e) => (e['content'] as Body)['body'] ?? e['type'],
      );
      // Per event (spec "History visibility"): the room's first events were sent under the
      // default `shared` (and the change itself counts as the more permissive side), so Bob,
      // who joined later, sees them; only 'before bob', sent under `joined`, is hidden.
      expect(seen).toEqual([
        'after bob',
        'm.room.member',
        'm.room.history_visibility',
        'm.room.guest_access',
        'm.room.join_rules',
        'm.room.power_levels',
        'm.room.member',
        'm.room.create',
      ]);
      expect(page.body['end']).toBeUndefined();
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/event/${enc(early)}`, bob.accessToken)).status,
      ).toBe(404);
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/event/${enc(early)}`, alice.accessToken)).status,
      ).toBe(200);
    });

    it('puts and gets state, with and without a state key, and refuses state below the power level', async () => {
      const roomId = await createRoom(alice.accessToken, { preset: 'public_chat' });
      await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      const put = await call('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, alice.accessToken, {
        topic: 'new',
      });
      expect(put.status).toBe(200);
      expect(String(put.body['event_id'])).toMatch(/^\$/);
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/state/m.room.topic/`, bob.accessToken)).body,
      ).toEqual({ topic: 'new' });
      const full = await call(
        'GET',
        `/rooms/${enc(roomId)}/state/m.room.topic?format=event`,
        bob.accessToken,
      );
      expect(full.body).toMatchObject({
        type: 'm.room.topic',
        state_key: '',
        content: { topic: 'new' },
      });
      expect((full.body['unsigned'] as Body)['prev_content']).toBeUndefined();
      await call('PUT', `/rooms/${enc(roomId)}/state/org.example/k`, alice.accessToken, { v: 1 });
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/state/org.example/k`, bob.accessToken)).body,
      ).toEqual({ v: 1 });
      const denied = await call('PUT', `/rooms/${enc(roomId)}/state/m.room.name`, bob.accessToken, {
        name: 'x',
      });
      expect(denied.status).toBe(403);
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/state/m.room.name`, bob.accessToken)).status,
      ).toBe(404);
      expect((await call('GET', `/rooms/${enc(roomId)}/state`, carol.accessToken)).status).toBe(
        403,
      );
    });

    it('redacts per room version and serves unsigned.redacted_because', async () => {
      for (const version of ['10', '11']) {
        const roomId = await createRoom(alice.accessToken, {
          preset: 'public_chat',
          room_version: version,
        });
        await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
        const target = await sendText(bob.accessToken, roomId, 'oops', `r${version}`);
        const denied = await call(
          'PUT',
          `/rooms/${enc(roomId)}/redact/${enc(target)}/x${version}`,
          carol.accessToken,
          {},
        );
        expect(denied.status).toBe(403);
        const res = await call(
          'PUT',
          `/rooms/${enc(roomId)}/redact/${enc(target)}/rr${version}`,
          alice.accessToken,
          { reason: 'cleanup' },
        );
        expect(res.status).toBe(200);
        const again = await call(
          'PUT',
          `/rooms/${enc(roomId)}/redact/${enc(target)}/rr${version}`,
          alice.accessToken,
          { reason: 'cleanup' },
        );
        expect(again.body['event_id']).toBe(res.body['event_id']);
        const event = await call(
          'GET',
          `/rooms/${enc(roomId)}/event/${enc(target)}`,
          bob.accessToken,
        );
        expect(event.body['content']).toEqual({});
        const because = (event.body['unsigned'] as Body)['redacted_because'] as Body;
        expect(because).toMatchObject({
          event_id: res.body['event_id'],
          type: 'm.room.redaction',
          redacts: target,
        });
        const redaction = await call(
          'GET',
          `/rooms/${enc(roomId)}/event/${enc(String(res.body['event_id']))}`,
          alice.accessToken,
        );
        const content = redaction.body['content'] as Body;
        expect(content['reason']).toBe('cleanup');
        // v11 moved `redacts` into content (rooms/v11.md); v10 keeps it only at the top level.
        expect(content['redacts']).toBe(version === '11' ? target : undefined);
        const unknown = await call(
          'PUT',
          `/rooms/${enc(roomId)}/redact/%24missing/u${version}`,
          alice.accessToken,
          {},
        );
        expect(unknown.status).toBe(404);
      }
    });

    it('serves unsigned.prev_content redacted once the state event it copies is redacted, in either order', async () => {
      // Spec client-server-api "Redactions": the redacted content must not be served again,
      // prev_content being a copy of it.
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        power_level_content_override: { events: { 'm.room.topic': 0 } },
      });
      await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      const setTopic = async (token: string, topic: string): Promise<string> => {
        const res = await call('PUT', `/rooms/${enc(roomId)}/state/m.room.topic`, token, {
          topic,
        });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        return String(res.body['event_id']);
      };
      const redactIt = async (eventId: string, txn: string): Promise<void> => {
        const res = await call(
          'PUT',
          `/rooms/${enc(roomId)}/redact/${enc(eventId)}/${txn}`,
          alice.accessToken,
          {},
        );
        expect(res.status, JSON.stringify(res.body)).toBe(200);
      };
      // Redacted after it was replaced: the copy already stored is redacted too.
      const secret = await setTopic(alice.accessToken, 'secret');
      const x = await setTopic(bob.accessToken, 'x');
      const before = await call('GET', `/rooms/${enc(roomId)}/event/${enc(x)}`, bob.accessToken);
      expect((before.body['unsigned'] as Body)['prev_content']).toEqual({ topic: 'secret' });
      await redactIt(secret, 'prev-1');
      // Redacted before it is replaced: the copy is taken redacted.
      const secret2 = await setTopic(alice.accessToken, 'secret2');
      await redactIt(secret2, 'prev-2');
      const y = await setTopic(bob.accessToken, 'y');

      const served: Body[] = [];
      for (const id of [x, y]) {
        const one = await call('GET', `/rooms/${enc(roomId)}/event/${enc(id)}`, bob.accessToken);
        served.push(one.body);
        const context = await call(
          'GET',
          `/rooms/${enc(roomId)}/context/${enc(id)}?limit=0`,
          bob.accessToken,
        );
        served.push(context.body['event'] as Body);
      }
      const state = await call('GET', `/rooms/${enc(roomId)}/state`, bob.accessToken);
      served.push(...(state.body as unknown as Body[]).filter((e) => e['type'] === 'm.room.topic'));
      const messages = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=50`,
        bob.accessToken,
      );
      served.push(...(messages.body['chunk'] as Body[]));
      const filter = enc(JSON.stringify({ room: { timeline: { limit: 50 } } }));
      const sync = await call('GET', `/sync?filter=${filter}&timeout=0`, bob.accessToken);
      const joined = (sync.body['rooms'] as Body)['join'] as Record<string, Body>;
      const timeline = joined[roomId]?.['timeline'] as Body | undefined;
      served.push(...((timeline?.['events'] ?? []) as Body[]));
      const topics = served.filter((e) => e['event_id'] === x || e['event_id'] === y);
      expect(topics.length).toBeGreaterThanOrEqual(7);
      for (const event of topics) {
        const unsigned = event['unsigned'] as Body;
        expect(unsigned['replaces_state']).toBe(event['event_id'] === x ? secret : secret2);
        expect(unsigned['prev_content'], JSON.stringify(event)).toEqual({});
      }
      expect(JSON.stringify(served)).not.toContain('secret');
    });

    it('scopes transaction IDs to the endpoint: room, event type and redacted event', async () => {
      // Spec client-server-api "Transaction identifiers": one device, one HTTP endpoint.
      const roomA = await createRoom(alice.accessToken);
      const roomB = await createRoom(alice.accessToken);
      const inA = await sendText(alice.accessToken, roomA, 'in A', 'scoped');
      const inB = await sendText(alice.accessToken, roomB, 'in B', 'scoped');
      expect(inB).not.toBe(inA);
      const inBEvent = await call(
        'GET',
        `/rooms/${enc(roomB)}/event/${enc(inB)}`,
        alice.accessToken,
      );
      expect(inBEvent.status).toBe(200);
      expect((inBEvent.body['content'] as Body)['body']).toBe('in B');
      const otherType = await call(
        'PUT',
        `/rooms/${enc(roomA)}/send/m.room.other/scoped`,
        alice.accessToken,
        { body: 'other' },
      );
      expect(otherType.status).toBe(200);
      expect(otherType.body['event_id']).not.toBe(inA);
      // The same transaction ID at /redact redacts, and a true retry of it changes nothing.
      const redact = await call(
        'PUT',
        `/rooms/${enc(roomA)}/redact/${enc(inA)}/scoped`,
        alice.accessToken,
        {},
      );
      expect(redact.status).toBe(200);
      expect(redact.body['event_id']).not.toBe(inA);
      const redacted = await call(
        'GET',
        `/rooms/${enc(roomA)}/event/${enc(inA)}`,
        alice.accessToken,
      );
      expect(redacted.body['content']).toEqual({});
      const retryRedact = await call(
        'PUT',
        `/rooms/${enc(roomA)}/redact/${enc(inA)}/scoped`,
        alice.accessToken,
        {},
      );
      expect(retryRedact.body['event_id']).toBe(redact.body['event_id']);
      // True retries of the sends: the same events, nothing sent again.
      expect(await sendText(alice.accessToken, roomA, 'in A', 'scoped')).toBe(inA);
      expect(await sendText(alice.accessToken, roomB, 'in B', 'scoped')).toBe(inB);
      const page = await call(
        'GET',
        `/rooms/${enc(roomB)}/messages?dir=b&limit=50`,
        alice.accessToken,
      );
      expect(
        (page.body['chunk'] as Body[]).filter((e) => e['type'] === 'm.room.message'),
      ).toHaveLength(1);
    });

    it('refuses a malformed canonical alias with M_INVALID_PARAM', async () => {
      const roomId = await createRoom(alice.accessToken, { room_alias_name: 'wellformed' });
      for (const content of [
        { alias: 'foo' },
        { alias: '#nocolon' },
        { alias: '#canon:test.local', alt_aliases: ['bar'] },
      ]) {
        const bad = await call(
          'PUT',
          `/rooms/${enc(roomId)}/state/m.room.canonical_alias`,
          alice.accessToken,
          content,
        );
        expect(bad.status, JSON.stringify(content)).toBe(400);
        expect(bad.body['errcode']).toBe('M_INVALID_PARAM');
      }
      const ok = await call(
        'PUT',
        `/rooms/${enc(roomId)}/state/m.room.canonical_alias`,
        alice.accessToken,
        { alias: '#wellformed:test.local' },
      );
      expect(ok.status).toBe(200);
      // An empty alias clears it (as Synapse and clients treat it), not a malformed one.
      const cleared = await call(
        'PUT',
        `/rooms/${enc(roomId)}/state/m.room.canonical_alias`,
        alice.accessToken,
        { alias: '' },
      );
      expect(cleared.status).toBe(200);
    });

    it('answers /event and /context of a room the user was never in with 404 M_NOT_FOUND', async () => {
      // Spec: "The event was not found or you do not have permission to read this event."
      const roomId = await createRoom(alice.accessToken);
      const eventId = await sendText(alice.accessToken, roomId, 'private', 'never-member');
      for (const path of [
        `/rooms/${enc(roomId)}/event/${enc(eventId)}`,
        `/rooms/${enc(roomId)}/context/${enc(eventId)}`,
      ]) {
        const res = await call('GET', path, carol.accessToken);
        expect(res.status, path).toBe(404);
        expect(res.body['errcode']).toBe('M_NOT_FOUND');
      }
    });
  });

  describe('members', () => {
    it('lists members with membership filters and joined members with profiles', async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        invite: [carol.userId],
      });
      const before = await call(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=1`,
        alice.accessToken,
      );
      await call('POST', `/rooms/${enc(roomId)}/join`, bob.accessToken, {});
      // `at` a token from before Bob joined: the members as they were then.
      const then = await call(
        'GET',
        `/rooms/${enc(roomId)}/members?at=${before.body['start']}`,
        alice.accessToken,
      );
      expect((then.body['chunk'] as Body[]).map((e) => e['state_key']).sort()).toEqual(
        [alice.userId, carol.userId].sort(),
      );
      const all = await call('GET', `/rooms/${enc(roomId)}/members`, alice.accessToken);
      const pairs = (all.body['chunk'] as Body[])
        .map((e) => [e['state_key'], (e['content'] as Body)['membership']])
        .sort();
      expect(pairs).toEqual(
        [
          [alice.userId, 'join'],
          [bob.userId, 'join'],
          [carol.userId, 'invite'],
        ].sort(),
      );
      const joinedOnly = await call(
        'GET',
        `/rooms/${enc(roomId)}/members?membership=join`,
        alice.accessToken,
      );
      expect(joinedOnly.body['chunk'] as Body[]).toHaveLength(2);
      const notJoined = await call(
        'GET',
        `/rooms/${enc(roomId)}/members?not_membership=join`,
        alice.accessToken,
      );
      expect((notJoined.body['chunk'] as Body[]).map((e) => e['state_key'])).toEqual([
        carol.userId,
      ]);
      const joined = await call('GET', `/rooms/${enc(roomId)}/joined_members`, bob.accessToken);
      expect(Object.keys(joined.body['joined'] as Body).sort()).toEqual(
        [alice.userId, bob.userId].sort(),
      );
      expect(
        (await call('GET', `/rooms/${enc(roomId)}/members?membership=nope`, alice.accessToken))
          .status,
      ).toBe(400);
    });
  });

  describe('aliases and the public room directory', () => {
    it('creates, resolves, lists and deletes aliases', async () => {
      const roomId = await createRoom(alice.accessToken);
      const alias = '#lounge:test.local';
      expect(
        (await call('PUT', `/directory/room/${enc(alias)}`, alice.accessToken, { room_id: roomId }))
          .status,
      ).toBe(200);
      const taken = await call('PUT', `/directory/room/${enc(alias)}`, bob.accessToken, {
        room_id: roomId,
      });
      expect(taken.status).toBe(409);
      const resolved = await call('GET', `/directory/room/${enc(alias)}`, undefined);
      expect(resolved.body).toEqual({ room_id: roomId, servers: ['test.local'] });
      expect((await call('GET', `/rooms/${enc(roomId)}/aliases`, alice.accessToken)).body).toEqual({
        aliases: [alias],
      });
      expect((await call('DELETE', `/directory/room/${enc(alias)}`, bob.accessToken)).status).toBe(
        403,
      );
      expect(
        (await call('DELETE', `/directory/room/${enc(alias)}`, alice.accessToken)).status,
      ).toBe(200);
      expect((await call('GET', `/directory/room/${enc(alias)}`, undefined)).status).toBe(404);
      expect(
        (
          await call('PUT', `/directory/room/${enc('#x:elsewhere.org')}`, alice.accessToken, {
            room_id: roomId,
          })
        ).status,
      ).toBe(400);
    });

    it('publishes rooms created public, lists and searches them, and toggles visibility', async () => {
      const roomId = await createRoom(alice.accessToken, {
        visibility: 'public',
        name: 'Gardening club',
        preset: 'public_chat',
      });
      expect((await call('GET', `/directory/list/room/${enc(roomId)}`, undefined)).body).toEqual({
        visibility: 'public',
      });
      const list = await call('GET', '/publicRooms', undefined);
      expect(list.status).toBe(200);
      const entry = (list.body['chunk'] as Body[]).find((r) => r['room_id'] === roomId);
      expect(entry).toMatchObject({
        name: 'Gardening club',
        num_joined_members: 1,
        join_rule: 'public',
        world_readable: false,
        guest_can_join: false,
      });
      const search = await call('POST', '/publicRooms', alice.accessToken, {
        filter: { generic_search_term: 'garden' },
      });
      expect((search.body['chunk'] as Body[]).map((r) => r['room_id'])).toEqual([roomId]);
      expect(
        (
          await call('PUT', `/directory/list/room/${enc(roomId)}`, bob.accessToken, {
            visibility: 'private',
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await call('PUT', `/directory/list/room/${enc(roomId)}`, alice.accessToken, {
            visibility: 'private',
          })
        ).status,
      ).toBe(200);
      const after = await call('GET', '/publicRooms', undefined);
      expect((after.body['chunk'] as Body[]).some((r) => r['room_id'] === roomId)).toBe(false);
      expect(
        (await call('GET', `/directory/list/room/${enc('!nope:test.local')}`, undefined)).status,
      ).toBe(404);
    });
  });

  describe('room directory access', () => {
    const ok = (res: { status: number; body: Body }) => {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body;
    };

    it("lists a room's aliases to its members only, unless it is world_readable", async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        room_alias_name: 'members-only',
      });
      const aliases = `/rooms/${enc(roomId)}/aliases`;
      ok(await call('POST', `/join/${enc(roomId)}`, bob.accessToken, {}));
      ok(await call('POST', `/join/${enc(roomId)}`, carol.accessToken, {}));
      expect(ok(await call('GET', aliases, bob.accessToken))).toEqual({
        aliases: ['#members-only:test.local'],
      });
      ok(await call('POST', `/rooms/${enc(roomId)}/leave`, bob.accessToken, {}));
      ok(
        await call('POST', `/rooms/${enc(roomId)}/ban`, alice.accessToken, {
          user_id: carol.userId,
        }),
      );
      for (const user of [bob, carol]) {
        const refused = await call('GET', aliases, user.accessToken);
        expect(refused.status).toBe(403);
        expect(refused.body['errcode']).toBe('M_FORBIDDEN');
      }
      ok(
        await call(
          'PUT',
          `/rooms/${enc(roomId)}/state/m.room.history_visibility/`,
          alice.accessToken,
          { history_visibility: 'world_readable' },
        ),
      );
      expect(ok(await call('GET', aliases, bob.accessToken))['aliases']).toEqual([
        '#members-only:test.local',
      ]);
    });

    it('lets a former member delete an alias only if they created it', async () => {
      const roomId = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 100 } },
      });
      ok(await call('POST', `/join/${enc(roomId)}`, bob.accessToken, {}));
      const byAlice = '#alice-made:test.local';
      const byBob = '#bob-made:test.local';
      ok(
        await call('PUT', `/directory/room/${enc(byAlice)}`, alice.accessToken, {
          room_id: roomId,
        }),
      );
      ok(await call('PUT', `/directory/room/${enc(byBob)}`, bob.accessToken, { room_id: roomId }));
      ok(await call('POST', `/rooms/${enc(roomId)}/leave`, bob.accessToken, {}));
      // Bob's power level 100 is still in the power levels, but he is no longer in the room.
      const refused = await call('DELETE', `/directory/room/${enc(byAlice)}`, bob.accessToken);
      expect(refused.status).toBe(403);
      expect(ok(await call('GET', `/directory/room/${enc(byAlice)}`, undefined))['room_id']).toBe(
        roomId,
      );
      ok(await call('DELETE', `/directory/room/${enc(byBob)}`, bob.accessToken));
    });

    it('filters the directory by room type and pages nothing for limit 0', async () => {
      const space = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        visibility: 'public',
        creation_content: { type: 'm.space' },
      });
      const plain = await createRoom(alice.accessToken, {
        preset: 'public_chat',
        visibility: 'public',
      });
      const listed = async (filter: Body) =>
        (
          ok(await call('POST', '/publicRooms', alice.accessToken, { filter }))['chunk'] as Body[]
        ).map((r) => r['room_id']);
      const spaces = await listed({ room_types: ['m.space'] });
      expect(spaces).toContain(space);
      expect(spaces).not.toContain(plain);
      const untyped = await listed({ room_types: [null] });
      expect(untyped).toContain(plain);
      expect(untyped).not.toContain(space);
      const both = await listed({ room_types: [null, 'm.space'] });
      expect(both).toEqual(expect.arrayContaining([space, plain]));
      expect(await listed({ room_types: null })).toEqual(expect.arrayContaining([space, plain]));
      const bad = await call('POST', '/publicRooms', alice.accessToken, {
        filter: { room_types: 'm.space' },
      });
      expect(bad.status).toBe(400);
      expect(bad.body['errcode']).toBe('M_BAD_JSON');

      // limit 0: no rooms, and no next_batch pointing back at the same page.
      const empty = ok(await call('GET', '/publicRooms?limit=0', undefined));
      expect(empty['chunk']).toEqual([]);
      expect(empty['next_batch']).toBeUndefined();
      expect(Number(empty['total_room_count_estimate'])).toBeGreaterThanOrEqual(2);
      const emptyPost = ok(await call('POST', '/publicRooms', alice.accessToken, { limit: 0 }));
      expect(emptyPost['chunk']).toEqual([]);
      expect(emptyPost['next_batch']).toBeUndefined();
      const first = ok(await call('GET', '/publicRooms?limit=1', undefined));
      expect((first['chunk'] as Body[]).length).toBe(1);
      expect(first['next_batch']).toBe('o1');
    });
  });

  describe('spec OpenAPI schemas', () => {
    it('has a validator that refuses a body the schema does not allow', async () => {
      const { errors } = await new ClientServerSpec().check(
        'GET',
        `${V3}/rooms/${enc('!r:test.local')}/messages`,
        200,
        { chunk: [{ type: 'm.room.message' }], start: 't1' },
      );
      expect(errors.length).toBeGreaterThan(0);
    });

    it('answers every room endpoint in the shape the spec defines', async () => {
      const spec = async (
        file: string,
        specPath: string,
        res: { status: number; body: unknown },
        status = 200,
      ) => {
        const method = currentMethod;
        expect(res.status, `${method} ${specPath}: ${JSON.stringify(res.body)}`).toBe(status);
        // Found by the request path; it must be the operation this test means.
        const { operation } = await schemas.check(method, currentPath, status, res.body);
        expect(`${operation.file} ${operation.pathKey.trim()}`).toBe(`${file} ${specPath}`);
        await schemas.expectValid(method, currentPath, status, res.body);
      };
      const schemas = new ClientServerSpec();
      let currentPath = '';
      let currentMethod = 'GET';
      const req = async (
        method: string,
        path: string,
        token: string | undefined,
        body?: unknown,
      ) => {
        currentMethod = method;
        currentPath = V3 + (path.split('?')[0] ?? path);
        return call(method, path, token, body);
      };
      const created = await req('POST', '/createRoom', alice.accessToken, {
        preset: 'public_chat',
        name: 'Schema',
        room_alias_name: 'schema',
        visibility: 'public',
      });
      await spec('create_room.yaml', '/createRoom', created);
      const roomId = String(created.body['room_id']);
      const r = enc(roomId);
      await spec(
        'joining.yaml',
        '/join/{roomIdOrAlias}',
        await req('POST', `/join/${enc('#schema:test.local')}`, bob.accessToken, {}),
      );
      await spec(
        'joining.yaml',
        '/rooms/{roomId}/join',
        await req('POST', `/rooms/${r}/join`, bob.accessToken, {}),
      );
      await spec(
        'inviting.yaml',
        '/rooms/{roomId}/invite',
        await req('POST', `/rooms/${r}/invite`, alice.accessToken, { user_id: carol.userId }),
      );
      await spec(
        'list_joined_rooms.yaml',
        '/joined_rooms',
        await req('GET', '/joined_rooms', bob.accessToken),
      );
      const sent = await req('PUT', `/rooms/${r}/send/m.room.message/schema1`, bob.accessToken, {
        msgtype: 'm.text',
        body: 'hi',
      });
      await spec('room_send.yaml', '/rooms/{roomId}/send/{eventType}/{txnId}', sent);
      const eventId = String(sent.body['event_id']);
      await spec(
        'room_state.yaml',
        '/rooms/{roomId}/state/{eventType}/{stateKey}',
        await req('PUT', `/rooms/${r}/state/m.room.topic/`, alice.accessToken, { topic: 't' }),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/state/{eventType}/{stateKey}',
        await req('GET', `/rooms/${r}/state/m.room.topic/`, bob.accessToken),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/state',
        await req('GET', `/rooms/${r}/state`, bob.accessToken),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/event/{eventId}',
        await req('GET', `/rooms/${r}/event/${enc(eventId)}`, bob.accessToken),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/members',
        await req('GET', `/rooms/${r}/members`, bob.accessToken),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/joined_members',
        await req('GET', `/rooms/${r}/joined_members`, bob.accessToken),
      );
      await spec(
        'message_pagination.yaml',
        '/rooms/{roomId}/messages',
        await req(
          'GET',
          `/rooms/${r}/messages?dir=b&limit=5&filter=${enc('{"lazy_load_members":true}')}`,
          bob.accessToken,
        ),
      );
      await spec(
        'event_context.yaml',
        '/rooms/{roomId}/context/{eventId}',
        await req('GET', `/rooms/${r}/context/${enc(eventId)}`, bob.accessToken),
      );
      await spec(
        'redaction.yaml',
        '/rooms/{roomId}/redact/{eventId}/{txnId}',
        await req('PUT', `/rooms/${r}/redact/${enc(eventId)}/schema2`, bob.accessToken, {}),
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/event/{eventId}',
        await req('GET', `/rooms/${r}/event/${enc(eventId)}`, bob.accessToken),
      );
      await spec(
        'directory.yaml',
        '/directory/room/{roomAlias}',
        await req('PUT', `/directory/room/${enc('#schema2:test.local')}`, alice.accessToken, {
          room_id: roomId,
        }),
      );
      await spec(
        'directory.yaml',
        '/directory/room/{roomAlias}',
        await req('GET', `/directory/room/${enc('#schema2:test.local')}`, undefined),
      );
      await spec(
        'directory.yaml',
        '/rooms/{roomId}/aliases',
        await req('GET', `/rooms/${r}/aliases`, alice.accessToken),
      );
      await spec(
        'directory.yaml',
        '/directory/room/{roomAlias}',
        await req('DELETE', `/directory/room/${enc('#schema2:test.local')}`, alice.accessToken),
      );
      await spec(
        'list_public_rooms.yaml',
        '/publicRooms',
        await req('GET', '/publicRooms?limit=1', undefined),
      );
      await spec(
        'list_public_rooms.yaml',
        '/publicRooms',
        await req('POST', '/publicRooms', alice.accessToken, { limit: 5 }),
      );
      await spec(
        'list_public_rooms.yaml',
        '/directory/list/room/{roomId}',
        await req('GET', `/directory/list/room/${r}`, undefined),
      );
      await spec(
        'list_public_rooms.yaml',
        '/directory/list/room/{roomId}',
        await req('PUT', `/directory/list/room/${r}`, alice.accessToken, { visibility: 'private' }),
      );
      await spec(
        'kicking.yaml',
        '/rooms/{roomId}/kick',
        await req('POST', `/rooms/${r}/kick`, alice.accessToken, { user_id: carol.userId }),
      );
      await spec(
        'banning.yaml',
        '/rooms/{roomId}/ban',
        await req('POST', `/rooms/${r}/ban`, alice.accessToken, { user_id: carol.userId }),
      );
      await spec(
        'banning.yaml',
        '/rooms/{roomId}/unban',
        await req('POST', `/rooms/${r}/unban`, alice.accessToken, { user_id: carol.userId }),
      );
      await spec(
        'leaving.yaml',
        '/rooms/{roomId}/leave',
        await req('POST', `/rooms/${r}/leave`, bob.accessToken, {}),
      );
      await spec(
        'leaving.yaml',
        '/rooms/{roomId}/forget',
        await req('POST', `/rooms/${r}/forget`, bob.accessToken, {}),
      );
      // Errors are the spec's standard error body too.
      await spec(
        'room_send.yaml',
        '/rooms/{roomId}/send/{eventType}/{txnId}',
        await req('PUT', `/rooms/${r}/send/m.room.message/schema3`, carol.accessToken, {
          body: 'x',
        }),
        403,
      );
      await spec(
        'create_room.yaml',
        '/createRoom',
        await req('POST', '/createRoom', alice.accessToken, { room_version: '1' }),
        400,
      );
      await spec(
        'rooms.yaml',
        '/rooms/{roomId}/event/{eventId}',
        await req('GET', `/rooms/${r}/event/%24missing`, alice.accessToken),
        404,
      );
    });
  });
}
