/**
 * Pushers (client-server-api "Push Notifications") over real HTTP, and their delivery to a push
 * gateway (Push Gateway API `POST /_matrix/push/v1/notify`) played by a real local HTTP server:
 * pushers set, listed, replaced and deleted; `append` across users; bad input refused; a device's
 * logout takes its pushers; everything still there after a restart; notifications for another
 * user's events with their fields, counts and tweaks, none for the user's own; `event_id_only`;
 * a 5xx retried; a 429's `Retry-After` honoured; a `rejected` pushkey's pusher removed; at most
 * `MAX_PUSHERS_PER_USER` pushers per user; one request at a time per pusher, in order; a
 * badge-only notification when a read receipt changes the unread count, none when it does not;
 * a notification a gateway refused until a restart sent after it, once; a delivered one not sent
 * again after a restart; a deleted pusher's (`kind: null`, logout, rejected) waiting notifications
 * and retries dropped. Run on SQLite (pushers-api.test.ts) and PostgreSQL
 * (pushers-postgres.test.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MAX_PUSHERS_PER_USER } from '../src/services/pushers/service.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './harness.ts';
import {
  call,
  createRoom,
  type Json,
  loginDevice,
  sendText,
  type TestUser,
} from './sync-helpers.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;
const NOTIFY_PATH = '/_matrix/push/v1/notify';

/** An answer the gateway gives, queued per pushkey; `{ rejected: [] }` when none is queued. */
type GatewayAnswer = {
  readonly status: number;
  readonly body: Json;
  readonly headers?: Record<string, string>;
};

/** A push gateway on 127.0.0.1 that records every notification it receives. */
export class TestGateway {
  readonly requests: { readonly path: string; readonly body: Json; readonly at: number }[] = [];
  /** The most requests for one pushkey seen at once. */
  readonly maxConcurrent = new Map<string, number>();
  readonly #answers = new Map<string, GatewayAnswer[]>();
  readonly #delays = new Map<string, number>();
  readonly #open = new Map<string, number>();
  #server: Server | undefined;
  #port = 0;

  async start(): Promise<void> {
    const server = createServer((request, response) => this.#handle(request, response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.#server = server;
    this.#port = (server.address() as AddressInfo).port;
  }

  /** The pusher URL (`data.url`) of this gateway. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}${NOTIFY_PATH}`;
  }

  /** Queues answers for the next requests to `pushkey`. */
  answer(pushkey: string, ...answers: GatewayAnswer[]): void {
    this.#answers.set(pushkey, [...(this.#answers.get(pushkey) ?? []), ...answers]);
  }

  /** Drops the answers still queued for `pushkey`. */
  clearAnswers(pushkey: string): void {
    this.#answers.delete(pushkey);
  }

  /** Answers each request to `pushkey` only after `ms`. */
  delay(pushkey: string, ms: number): void {
    this.#delays.set(pushkey, ms);
  }

  /** The times (`Date.now()`) the requests to `pushkey` arrived, oldest first. */
  times(pushkey: string): number[] {
    return this.requests
      .filter((r) => r.body['notification']['devices'].some((d: Json) => d['pushkey'] === pushkey))
      .map((r) => r.at);
  }

  /** The notifications received for `pushkey`, oldest first. */
  notifications(pushkey: string): Json[] {
    return this.requests
      .map((request) => request.body['notification'] as Json)
      .filter((n) => n['devices'].some((d: Json) => d['pushkey'] === pushkey));
  }

  /** Waits until `pushkey` received `count` notifications; returns them. */
  async waitFor(pushkey: string, count = 1, timeoutMs = 8000): Promise<Json[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.notifications(pushkey).length < count) {
      if (Date.now() > deadline) {
        throw new Error(
          `${pushkey}: ${this.notifications(pushkey).length} of ${count} notifications arrived`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.notifications(pushkey);
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Json;
      this.requests.push({ path: request.url ?? '', body, at: Date.now() });
      const pushkey = body['notification']?.['devices']?.[0]?.['pushkey'] as string | undefined;
      const key = pushkey ?? '';
      const open = (this.#open.get(key) ?? 0) + 1;
      this.#open.set(key, open);
      this.maxConcurrent.set(key, Math.max(open, this.maxConcurrent.get(key) ?? 0));
      const queued = pushkey === undefined ? undefined : this.#answers.get(pushkey);
      const answer = queued?.shift() ?? { status: 200, body: { rejected: [] } };
      const send = () => {
        this.#open.set(key, (this.#open.get(key) ?? 1) - 1);
        response.writeHead(answer.status, {
          'Content-Type': 'application/json',
          ...answer.headers,
        });
        response.end(JSON.stringify(answer.body));
      };
      const delay = this.#delays.get(key);
      if (delay === undefined) send();
      else setTimeout(send, delay);
    });
  }
}

/** `options` with `push.allow_private_addresses: true`: the test gateway is on 127.0.0.1. */
export function allowingLocalGateway(options: TestServerOptions = {}): TestServerOptions {
  return { ...options, file: { ...options.file, push: { allow_private_addresses: true } } };
}

/** Registers the pusher tests against servers started with `options()`. */
export function pushersSuite(baseOptions: () => TestServerOptions = () => ({})): void {
  const options = () => allowingLocalGateway(baseOptions());
  describe('pushers and push gateway delivery', () => {
    let server: TestServer;
    const gateway = new TestGateway();
    let users = 0;

    beforeAll(async () => {
      await gateway.start();
      server = await startTestServer(options());
    });
    afterAll(async () => {
      await server.stop();
      await gateway.stop();
    });

    async function user(name: string): Promise<TestUser> {
      return server.client.registerUser(`${name}-${++users}`);
    }

    function pusher(pushkey: string, extra: Json = {}, data: Json = {}): Json {
      return {
        kind: 'http',
        app_id: 'org.example.app',
        pushkey,
        app_display_name: 'Example',
        device_display_name: 'Phone',
        lang: 'en',
        data: { url: gateway.url, ...data },
        ...extra,
      };
    }

    const setPusher = (who: TestUser, body: Json, status = 200) =>
      call(server, who, 'POST', `${V3}/pushers/set`, body, status);
    const listPushers = async (who: TestUser): Promise<Json[]> =>
      (await call(server, who, 'GET', `${V3}/pushers`))['pushers'];

    async function setDisplayName(who: TestUser, name: string): Promise<void> {
      await call(server, who, 'PUT', `${V3}/profile/${enc(who.userId)}/displayname`, {
        displayname: name,
      });
    }

    async function sendMessage(who: TestUser, roomId: string, content: Json): Promise<string> {
      const path = `${V3}/rooms/${enc(roomId)}/send/m.room.message/t${Date.now()}${Math.random()}`;
      return (await call(server, who, 'PUT', path, content))['event_id'];
    }

    it('sets, lists, replaces and deletes pushers', async () => {
      const alice = await user('alice');
      expect(await listPushers(alice)).toEqual([]);
      await setPusher(alice, pusher('key-a1', { profile_tag: 'tag' }, { format: 'event_id_only' }));
      expect(await listPushers(alice)).toEqual([
        {
          pushkey: 'key-a1',
          kind: 'http',
          app_id: 'org.example.app',
          app_display_name: 'Example',
          device_display_name: 'Phone',
          profile_tag: 'tag',
          lang: 'en',
          data: { url: gateway.url, format: 'event_id_only' },
        },
      ]);
      // The same app_id and pushkey: replaced, not added.
      await setPusher(alice, pusher('key-a1', { lang: 'fr', device_display_name: 'Tablet' }));
      const [replaced] = await listPushers(alice);
      expect(replaced).toMatchObject({ lang: 'fr', device_display_name: 'Tablet' });
      expect(replaced?.['profile_tag']).toBeUndefined();
      expect(replaced?.['data']).toEqual({ url: gateway.url });
      // Another app_id with the same pushkey is another pusher.
      await setPusher(alice, pusher('key-a1', { app_id: 'org.example.other' }));
      expect((await listPushers(alice)).map((p) => p['app_id'])).toEqual([
        'org.example.app',
        'org.example.other',
      ]);
      // kind null deletes; deleting what is not there succeeds.
      await setPusher(alice, { kind: null, app_id: 'org.example.app', pushkey: 'key-a1' });
      expect((await listPushers(alice)).map((p) => p['app_id'])).toEqual(['org.example.other']);
      await setPusher(alice, { kind: null, app_id: 'org.example.app', pushkey: 'key-a1' });
      await setPusher(alice, { kind: null, app_id: 'org.example.other', pushkey: 'key-a1' });
      expect(await listPushers(alice)).toEqual([]);
      // The legacy r0 prefix serves the same.
      await call(server, alice, 'POST', '/_matrix/client/r0/pushers/set', pusher('key-r0'));
      expect((await call(server, alice, 'GET', '/_matrix/client/r0/pushers'))['pushers']).toEqual(
        await listPushers(alice),
      );
      // Custom data keys and floats are kept.
      await setPusher(alice, pusher('key-r0', {}, { custom: { n: 1.5 } }));
      expect((await listPushers(alice))[0]?.['data']).toEqual({
        url: gateway.url,
        custom: { n: 1.5 },
      });
    });

    it('keeps other users’ pushers of the same key only with append', async () => {
      const [alice, bob, carol] = [await user('alice'), await user('bob'), await user('carol')];
      await setPusher(alice, pusher('shared-key'));
      // append: true keeps alice's.
      await setPusher(bob, pusher('shared-key', { append: true }));
      expect(await listPushers(alice)).toHaveLength(1);
      expect(await listPushers(bob)).toHaveLength(1);
      // append absent (false): every other user's pusher of that app_id and pushkey goes.
      await setPusher(carol, pusher('shared-key'));
      expect(await listPushers(alice)).toEqual([]);
      expect(await listPushers(bob)).toEqual([]);
      expect(await listPushers(carol)).toHaveLength(1);
      // Only that app_id: alice's pusher of another app keeps the key.
      await setPusher(alice, pusher('shared-key', { app_id: 'org.example.other' }));
      await setPusher(bob, pusher('shared-key', { append: false }));
      expect(await listPushers(alice)).toHaveLength(1);
      expect(await listPushers(carol)).toEqual([]);
    });

    it('refuses bad input', async () => {
      const alice = await user('alice');
      const cases: [Json, number, string][] = [
        [{ app_id: 'a', pushkey: 'k' }, 400, 'M_MISSING_PARAM'],
        [{ kind: 'http', pushkey: 'k' }, 400, 'M_MISSING_PARAM'],
        [{ kind: 'http', app_id: 'a' }, 400, 'M_MISSING_PARAM'],
        [{ ...pusher('k'), lang: undefined, data: undefined }, 400, 'M_MISSING_PARAM'],
        [{ ...pusher('k'), app_display_name: undefined }, 400, 'M_MISSING_PARAM'],
        [{ ...pusher('k'), kind: 'email' }, 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), kind: 'carrier-pigeon' }, 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), kind: 5 }, 400, 'M_BAD_JSON'],
        [{ ...pusher('k'), data: {} }, 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), data: { url: 42 } }, 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), data: { url: 'not a url' } }, 400, 'M_INVALID_PARAM'],
        [
          { ...pusher('k'), data: { url: 'ftp://h/_matrix/push/v1/notify' } },
          400,
          'M_INVALID_PARAM',
        ],
        [{ ...pusher('k'), data: { url: 'https://h/notify' } }, 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), data: 'x' }, 400, 'M_BAD_JSON'],
        [pusher('k', {}, { format: 7 }), 400, 'M_INVALID_PARAM'],
        [{ ...pusher('k'), append: 'yes' }, 400, 'M_BAD_JSON'],
        [{ ...pusher('k'), lang: 3 }, 400, 'M_BAD_JSON'],
        [pusher('k', { app_id: 'a'.repeat(65) }), 400, 'M_INVALID_PARAM'],
        [pusher('é'.repeat(257)), 400, 'M_INVALID_PARAM'],
        [pusher(''), 400, 'M_INVALID_PARAM'],
      ];
      for (const [body, status, errcode] of cases) {
        const response = await server.client.request<Json>('POST', `${V3}/pushers/set`, {
          token: alice.accessToken,
          body,
        });
        expect([JSON.stringify(body).slice(0, 80), response.status]).toEqual([
          JSON.stringify(body).slice(0, 80),
          status,
        ]);
        expect(response.body['errcode']).toBe(errcode);
      }
      expect(await listPushers(alice)).toEqual([]);
      // Accepted at the limits: 64-character app_id, 512-byte pushkey, an https URL.
      await setPusher(alice, pusher('k'.repeat(512), { app_id: 'a'.repeat(64) }));
      await setPusher(
        alice,
        pusher('k2', {}, { url: 'https://push.example/_matrix/push/v1/notify' }),
      );
      expect(await listPushers(alice)).toHaveLength(2);
      // Without a token: 401.
      const anonymous = await server.client.request('GET', `${V3}/pushers`);
      expect(anonymous.status).toBe(401);
    });

    it('removes a device’s pushers when it logs out', async () => {
      const alice = await user('alice');
      const phone = await loginDevice(server, alice.userId, 'PHONE');
      const tablet = await loginDevice(server, alice.userId, 'TABLET');
      await setPusher(alice, pusher('first-device-key'));
      await setPusher(phone, pusher('phone-key'));
      await setPusher(tablet, pusher('tablet-key'));
      expect(await listPushers(alice)).toHaveLength(3);
      await call(server, phone, 'POST', `${V3}/logout`, {});
      expect((await listPushers(alice)).map((p) => p['pushkey'])).toEqual([
        'first-device-key',
        'tablet-key',
      ]);
      // Another user's logout leaves them alone; /logout/all takes them all.
      const bob = await user('bob');
      await call(server, bob, 'POST', `${V3}/logout`, {});
      expect(await listPushers(alice)).toHaveLength(2);
      await call(server, tablet, 'POST', `${V3}/logout/all`, {});
      const again = await loginDevice(server, alice.userId, 'AGAIN');
      expect(await listPushers(again)).toEqual([]);
    });

    it('pushes another user’s events with their fields, counts and tweaks', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      await setDisplayName(bob, 'Bob Builder');
      const roomId = await createRoom(server, bob, [alice], { name: 'Building site' });
      await setPusher(alice, pusher('alice-dm', {}, { custom: 'kept' }));
      const before = Math.floor(Date.now() / 1000);

      const first = await sendText(server, bob, roomId, 'hello alice');
      const [n1] = await gateway.waitFor('alice-dm');
      expect(n1).toEqual({
        event_id: first,
        room_id: roomId,
        type: 'm.room.message',
        sender: bob.userId,
        sender_display_name: 'Bob Builder',
        room_name: 'Building site',
        prio: 'high',
        content: { msgtype: 'm.text', body: 'hello alice' },
        counts: { unread: 1 },
        devices: [
          {
            app_id: 'org.example.app',
            pushkey: 'alice-dm',
            pushkey_ts: expect.any(Number),
            data: { custom: 'kept' },
            // .m.rule.room_one_to_one: two members.
            tweaks: { sound: 'default' },
          },
        ],
      });
      expect(Math.abs(n1?.['devices'][0]['pushkey_ts'] - before)).toBeLessThanOrEqual(2);

      // A mention highlights; the unread count grows.
      const mention = await sendMessage(bob, roomId, {
        msgtype: 'm.text',
        body: 'look, Alice',
        'm.mentions': { user_ids: [alice.userId] },
      });
      const n2 = (await gateway.waitFor('alice-dm', 2))[1];
      expect(n2?.['event_id']).toBe(mention);
      expect(n2?.['counts']).toEqual({ unread: 2 });
      expect(n2?.['devices'][0]['tweaks']).toEqual({ sound: 'default', highlight: true });

      // Alice's own message is not pushed to her; bob's next one is.
      const own = await sendText(server, alice, roomId, 'my own');
      const third = await sendText(server, bob, roomId, 'third');
      const all = await gateway.waitFor('alice-dm', 3);
      expect(all.map((n) => n['event_id'])).toEqual([first, mention, third]);
      expect(all.map((n) => n['event_id'])).not.toContain(own);
      expect(all[2]?.['counts']).toEqual({ unread: 3 });

      // A room of three: .m.rule.message notifies without a sound, at low priority.
      const carol = await user('carol');
      const group = await createRoom(server, bob, [alice, carol]);
      const groupMessage = await sendText(server, carol, group, 'hi all');
      // Alice's invite to it came first (.m.rule.invite_for_me).
      const [, , , invite, n4] = await gateway.waitFor('alice-dm', 5);
      expect(invite?.['room_id']).toBe(group);
      expect(invite?.['user_is_target']).toBe(true);
      expect(n4?.['event_id']).toBe(groupMessage);
      expect(n4?.['prio']).toBe('low');
      expect(n4?.['devices'][0]['tweaks']).toEqual({});
      expect(n4?.['room_name']).toBeUndefined();
    });

    it('pushes an invite to its target', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      await setPusher(alice, pusher('alice-invite'));
      const roomId = await createRoom(server, bob, []);
      await call(server, bob, 'POST', `${V3}/rooms/${enc(roomId)}/invite`, {
        user_id: alice.userId,
      });
      const [invite] = await gateway.waitFor('alice-invite');
      expect(invite).toMatchObject({
        room_id: roomId,
        type: 'm.room.member',
        sender: bob.userId,
        user_is_target: true,
        content: { membership: 'invite' },
        counts: { unread: 1 },
      });
      expect(invite?.['devices'][0]['tweaks']).toEqual({ sound: 'default' });
    });

    it('sends only the event ID with format event_id_only', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice], { name: 'Secret' });
      await setPusher(alice, pusher('alice-ids', {}, { format: 'event_id_only' }));
      const eventId = await sendText(server, bob, roomId, 'not for the gateway');
      const [n] = await gateway.waitFor('alice-ids');
      expect(n).toEqual({
        event_id: eventId,
        room_id: roomId,
        prio: 'high',
        counts: { unread: 1 },
        devices: [
          {
            app_id: 'org.example.app',
            pushkey: 'alice-ids',
            pushkey_ts: expect.any(Number),
            data: { format: 'event_id_only' },
            tweaks: { sound: 'default' },
          },
        ],
      });
    });

    it('sends a badge-only notification when a read receipt lowers the unread count', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-badge', {}, { custom: 'kept' }));
      await setPusher(alice, pusher('alice-badge-ids', {}, { format: 'event_id_only' }));
      const first = await sendText(server, bob, roomId, 'one');
      const second = await sendText(server, bob, roomId, 'two');
      const third = await sendText(server, bob, roomId, 'three');
      await gateway.waitFor('alice-badge', 3);
      await gateway.waitFor('alice-badge-ids', 3);
      const receipt = (type: string, eventId: string) =>
        call(
          server,
          alice,
          'POST',
          `${V3}/rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`,
          {},
        );

      // Reading up to the second message leaves one unread: every pusher gets the new count
      // alone, whatever its format.
      await receipt('m.read', second);
      const badge = (await gateway.waitFor('alice-badge', 4))[3];
      expect(badge).toEqual({
        counts: { unread: 1 },
        devices: [
          {
            app_id: 'org.example.app',
            pushkey: 'alice-badge',
            pushkey_ts: expect.any(Number),
            data: { custom: 'kept' },
          },
        ],
      });
      expect((await gateway.waitFor('alice-badge-ids', 4))[3]).toEqual({
        counts: { unread: 1 },
        devices: [
          {
            app_id: 'org.example.app',
            pushkey: 'alice-badge-ids',
            pushkey_ts: expect.any(Number),
            data: { format: 'event_id_only' },
          },
        ],
      });

      // A private receipt further back changes nothing: no badge update.
      await receipt('m.read.private', first);
      // The read marker's receipt reads the rest: the badge goes to zero (kept, not omitted).
      await call(server, alice, 'POST', `${V3}/rooms/${enc(roomId)}/read_markers`, {
        'm.fully_read': third,
        'm.read': third,
      });
      const cleared = (await gateway.waitFor('alice-badge', 5))[4];
      expect(cleared).toMatchObject({ counts: { unread: 0 } });
      expect(Object.keys(cleared ?? {}).sort()).toEqual(['counts', 'devices']);
      // A private receipt where the public one already is changes nothing either.
      await receipt('m.read.private', third);
      // The next push is the next event's (one request at a time per pusher, in order).
      const fourth = await sendText(server, bob, roomId, 'four');
      const all = await gateway.waitFor('alice-badge', 6);
      expect(all[5]).toMatchObject({ event_id: fourth, counts: { unread: 1 } });
      expect(all).toHaveLength(6);
      expect(await gateway.waitFor('alice-badge-ids', 6)).toHaveLength(6);
    });

    it('retries after a 5xx and removes a rejected pushkey’s pusher', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-flaky'));
      await setPusher(alice, pusher('alice-rejected'));
      gateway.answer('alice-flaky', { status: 502, body: { error: 'upstream' } });
      gateway.answer('alice-rejected', { status: 200, body: { rejected: ['alice-rejected'] } });
      const eventId = await sendText(server, bob, roomId, 'ping');
      const attempts = await gateway.waitFor('alice-flaky', 2);
      expect(attempts.map((n) => n['event_id'])).toEqual([eventId, eventId]);
      await gateway.waitFor('alice-rejected');
      const deadline = Date.now() + 5000;
      while ((await listPushers(alice)).length !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await listPushers(alice)).map((p) => p['pushkey'])).toEqual(['alice-flaky']);
      // The rejected pushkey gets nothing more; the other does.
      const next = await sendText(server, bob, roomId, 'pong');
      expect((await gateway.waitFor('alice-flaky', 3))[2]?.['event_id']).toBe(next);
      expect(gateway.notifications('alice-rejected')).toHaveLength(1);
    });

    it('drops a deleted pusher’s waiting notifications and retries (kind null, logout, rejected)', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      const phone = await loginDevice(server, alice.userId, 'DROP-PHONE');
      // Each pusher's gateway answers only after 400 ms: while the first notification is
      // answered, the others wait in the pusher's queue.
      const keys = ['drop-deleted', 'drop-logout', 'drop-rejected'];
      for (const key of keys) gateway.delay(key, 400);
      gateway.answer('drop-rejected', { status: 200, body: { rejected: ['drop-rejected'] } });
      await setPusher(alice, pusher('drop-deleted'));
      await setPusher(phone, pusher('drop-logout'));
      await setPusher(alice, pusher('drop-rejected'));
      await setPusher(alice, pusher('drop-kept'));
      gateway.delay('drop-kept', 400);
      // A failing gateway: its pusher is deleted while the first notification waits to be retried.
      await setPusher(alice, pusher('drop-failing'));
      const busy = { status: 429, body: {}, headers: { 'Retry-After': '1' } };
      gateway.answer('drop-failing', busy, busy, busy, busy);
      const sent: string[] = [];
      for (let i = 0; i < 4; i++) sent.push(await sendText(server, bob, roomId, `drop ${i}`));
      for (const key of [...keys, 'drop-failing']) await gateway.waitFor(key);
      // The first notification is being answered (or waits to be retried); the pushers go.
      await setPusher(alice, { ...pusher('drop-deleted'), kind: null });
      await setPusher(alice, { ...pusher('drop-failing'), kind: null });
      await call(server, phone, 'POST', `${V3}/logout`, {});
      // The rejected one goes once its answer (400 ms) is read.
      const deadline = Date.now() + 5000;
      while ((await listPushers(alice)).length !== 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect((await listPushers(alice)).map((p) => p['pushkey'])).toEqual(['drop-kept']);
      // The kept pusher gets all four (≈ 1.6 s); the deleted ones nothing after their first.
      const kept = await gateway.waitFor('drop-kept', 4);
      expect(kept.map((n) => n['event_id'])).toEqual(sent);
      await new Promise((resolve) => setTimeout(resolve, 500));
      for (const key of [...keys, 'drop-failing']) {
        expect(gateway.notifications(key).map((n) => n['event_id'])).toEqual([sent[0]]);
      }
    });

    it(`refuses a pusher beyond ${MAX_PUSHERS_PER_USER} per user; replacing one still works`, async () => {
      const alice = await user('alice');
      for (let i = 0; i < MAX_PUSHERS_PER_USER; i++) await setPusher(alice, pusher(`cap-${i}`));
      const refused = await setPusher(alice, pusher('cap-one-more'), 400);
      expect(refused['errcode']).toBe('M_INVALID_PARAM');
      expect(refused['error']).toContain(`at most ${MAX_PUSHERS_PER_USER}`);
      await setPusher(alice, pusher('cap-0', { lang: 'de' }));
      await setPusher(alice, { ...pusher('cap-1'), kind: null });
      await setPusher(alice, pusher('cap-one-more'));
      expect(await listPushers(alice)).toHaveLength(MAX_PUSHERS_PER_USER);
    });

    it('sends to a slow gateway one request per pusher at a time, in order', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-slow'));
      gateway.delay('alice-slow', 300);
      const sent: string[] = [];
      for (let i = 0; i < 4; i++) sent.push(await sendText(server, bob, roomId, `slow ${i}`));
      const all = await gateway.waitFor('alice-slow', 4);
      expect(all.map((n) => n['event_id'])).toEqual(sent);
      // `counts` is the count when each request is prepared (the spec's "current number"), so
      // how far it has run ahead depends on timing; in order, a badge never goes backwards.
      const unread = all.map((n) => Number((n['counts'] as { unread?: number }).unread));
      expect(unread[0]).toBeGreaterThanOrEqual(1);
      expect(unread).toEqual([...unread].sort((a, b) => a - b));
      expect(unread.at(-1)).toBe(4);
      expect(gateway.maxConcurrent.get('alice-slow')).toBe(1);
    });

    it('keeps slots for others while one user’s many pushers wait on a slow gateway', async () => {
      const [hog, carol, bob] = [await user('hog'), await user('carol'), await user('bob')];
      const hogRoom = await createRoom(server, bob, [hog]);
      const carolRoom = await createRoom(server, bob, [carol]);
      // More pushers than the global request slots (64), each answered only after 3 s.
      const hogKeys = Array.from({ length: 70 }, (_, i) => `hog-${users}-${i}`);
      for (const key of hogKeys) {
        gateway.delay(key, 3000);
        await setPusher(hog, pusher(key));
      }
      await setPusher(carol, pusher('carol-prompt'));
      const hogSentAt = Date.now();
      await sendText(server, bob, hogRoom, 'for the hog');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const sentAt = Date.now();
      const eventId = await sendText(server, bob, carolRoom, 'for carol');
      const [n] = await gateway.waitFor('carol-prompt');
      expect(n?.['event_id']).toBe(eventId);
      // The hog's pushers get theirs too, at most MAX_IN_FLIGHT_PER_USER at a time.
      await gateway.waitFor(hogKeys[0] ?? '', 1, 10_000);
      const started = hogKeys.flatMap((key) => gateway.times(key));
      // Had carol's request waited for a slot, it could only have started once a hog request
      // was answered, 3 s after the first of them arrived: a causal bound, not a speed one.
      expect(gateway.times('carol-prompt')[0] ?? Infinity).toBeLessThan(
        Math.min(...started) + 3000,
      );
      expect(gateway.times('carol-prompt')[0] ?? 0).toBeGreaterThanOrEqual(sentAt);
      expect(started.filter((at) => at - hogSentAt < 2500).length).toBeLessThanOrEqual(4);
    });

    it('waits as long as a 429’s Retry-After asks', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-busy'));
      gateway.answer('alice-busy', {
        status: 429,
        body: { error: 'slow down' },
        headers: { 'Retry-After': '1' },
      });
      const eventId = await sendText(server, bob, roomId, 'later');
      const attempts = await gateway.waitFor('alice-busy', 2);
      expect(attempts.map((n) => n['event_id'])).toEqual([eventId, eventId]);
      const [first, second] = gateway.times('alice-busy') as [number, number];
      // The backoff alone would wait 0.25–0.5 s.
      expect(second - first).toBeGreaterThanOrEqual(950);
    });

    it('keeps pushers and delivers after a restart', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-restart', { profile_tag: 'p' }, { format: 'x' }));
      const before = await listPushers(alice);
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      expect(await listPushers(alice)).toEqual(before);
      const eventId = await sendText(server, bob, roomId, 'after the restart');
      const [n] = await gateway.waitFor('alice-restart');
      expect(n?.['event_id']).toBe(eventId);
      expect(n?.['content']).toEqual({ msgtype: 'm.text', body: 'after the restart' });
    });

    const eventIds = (notifications: Json[]) => notifications.map((n) => n['event_id']);

    async function restart(): Promise<void> {
      await server.stop();
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
    }

    it('sends after a restart, once, what a gateway failed until then', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-down'));
      const down = { status: 500, body: { error: 'down' } };
      gateway.answer('alice-down', down, down, down, down, down);
      const eventId = await sendText(server, bob, roomId, 'while the gateway is down');
      // The first attempt and a retry failed; the stop drops the retries left.
      expect(eventIds(await gateway.waitFor('alice-down', 2))).toEqual([eventId, eventId]);
      await server.stop();
      // Counted, and answered 200 from now on, before the restarted server can resend anything.
      const failed = gateway.notifications('alice-down').length;
      gateway.clearAnswers('alice-down');
      server = await startTestServer({ ...options(), dataDir: server.dataDir });
      const [resent] = (await gateway.waitFor('alice-down', failed + 1)).slice(failed);
      expect(resent).toMatchObject({
        event_id: eventId,
        room_id: roomId,
        content: { msgtype: 'm.text', body: 'while the gateway is down' },
        counts: { unread: 1 },
      });
      expect(resent?.['devices'][0]['tweaks']).toEqual({ sound: 'default' });
      // Exactly once: the next notification is the next event's (one request at a time per
      // pusher, in order), and nothing else comes.
      const next = await sendText(server, bob, roomId, 'the gateway is back');
      await gateway.waitFor('alice-down', failed + 2);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(eventIds(gateway.notifications('alice-down').slice(failed))).toEqual([eventId, next]);
    });

    it('sends again after a restart only what is at most a day old', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-old'));
      const down = { status: 500, body: { error: 'down' } };
      gateway.answer('alice-old', down, down, down, down, down);
      const old = await sendText(server, bob, roomId, 'old');
      const recent = await sendText(server, bob, roomId, 'recent');
      expect(eventIds(await gateway.waitFor('alice-old', 2))).toEqual([old, old]);
      // The first event's push actions were stored two days ago.
      const twoDays = 2 * 24 * 60 * 60 * 1000;
      for (const table of ['push_room_actions', 'push_user_actions']) {
        await server.services.ctx.db.execute(
          `UPDATE ${table} SET ts = ts - $1 WHERE event_id = $2`,
          [twoDays, old],
        );
      }
      await restart();
      const failed = gateway.notifications('alice-old').length;
      gateway.clearAnswers('alice-old');
      const next = await sendText(server, bob, roomId, 'next');
      await gateway.waitFor('alice-old', failed + 2);
      expect(eventIds(gateway.notifications('alice-old').slice(failed))).toEqual([recent, next]);
    });

    it('sends nothing from before the migration that keeps the progress', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-migrated'));
      const down = { status: 500, body: { error: 'down' } };
      gateway.answer('alice-migrated', down, down, down, down, down);
      const before = await sendText(server, bob, roomId, 'before the migration');
      expect(eventIds(await gateway.waitFor('alice-migrated', 2))).toEqual([before, before]);
      // As a database of a server from before migration 0116: it runs again at the restart.
      await server.services.ctx.db.transaction(async (tx) => {
        await tx.execute('ALTER TABLE pushers DROP COLUMN last_stream_position');
        await tx.execute("DELETE FROM schema_migrations WHERE name = '0116-pusher-progress.ts'");
      });
      await restart();
      const failed = gateway.notifications('alice-migrated').length;
      gateway.clearAnswers('alice-migrated');
      const after = await sendText(server, bob, roomId, 'after the migration');
      await gateway.waitFor('alice-migrated', failed + 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(eventIds(gateway.notifications('alice-migrated').slice(failed))).toEqual([after]);
    });

    it('sends a new pusher nothing from before it was set, after a restart either', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await sendText(server, bob, roomId, 'before the pusher');
      await setPusher(alice, pusher('alice-late'));
      await restart();
      const after = await sendText(server, bob, roomId, 'after the pusher');
      await gateway.waitFor('alice-late');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(eventIds(gateway.notifications('alice-late'))).toEqual([after]);
    });

    it('does not send a delivered notification again after a restart', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const roomId = await createRoom(server, bob, [alice]);
      await setPusher(alice, pusher('alice-done'));
      const first = await sendText(server, bob, roomId, 'one');
      const second = await sendText(server, bob, roomId, 'two');
      // The request for the second started: the first was answered (one at a time, in order).
      await gateway.waitFor('alice-done', 2);
      await restart();
      const third = await sendText(server, bob, roomId, 'three');
      // The second may be sent again (its answer may not have arrived before the stop); the
      // first, finished before the stop, is not.
      const deadline = Date.now() + 8000;
      while (!eventIds(gateway.notifications('alice-done')).includes(third)) {
        if (Date.now() > deadline) throw new Error('the third notification did not arrive');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const all = eventIds(gateway.notifications('alice-done'));
      expect(all.filter((id) => id === first)).toHaveLength(1);
      expect(all.at(-1)).toBe(third);
      expect(all.filter((id) => id !== second)).toEqual([first, third]);
    });
  });
}
