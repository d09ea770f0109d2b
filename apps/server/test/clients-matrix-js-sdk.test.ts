/**
 * matrix-js-sdk (Element's SDK) against a weft-server process: the client story of issue 5 —
 * register two users, create a room, invite, join, exchange 100 messages that both see in order
 * through the SDK's own sync loop, paginate history backwards from a fresh login, typing and
 * receipts arrive, a displayname change shows, one leaves.
 */
import {
  ClientEvent,
  createClient,
  EventType,
  type MatrixClient,
  type MatrixEvent,
  MsgType,
  PendingEventOrdering,
  type Room,
  RoomEvent,
  RoomMemberEvent,
  SyncState,
} from 'matrix-js-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type SpawnedServer, spawnServer } from './spawn.ts';

const PASSWORD = 'correct horse battery staple';

/** The SDK logs every sync step at info level; the test output should show only results. */
const quiet = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => quiet,
};
const MESSAGES = 100;

let server: SpawnedServer;
const clients: MatrixClient[] = [];

beforeAll(async () => {
  server = await spawnServer({ serverName: 'jssdk.test' });
});

afterAll(async () => {
  for (const client of clients) client.stopClient();
  await server?.stop();
});

/** Registers through the UIA m.login.dummy stage the way Element does: 401 first, then auth. */
async function register(username: string): Promise<MatrixClient> {
  const anonymous = createClient({ baseUrl: server.url, logger: quiet });
  let session: string | undefined;
  try {
    await anonymous.registerRequest({ username, password: PASSWORD });
    throw new Error('register without auth should demand UIA');
  } catch (error) {
    const data = (error as { data?: { session?: string; flows?: unknown } }).data;
    expect(data?.flows).toBeDefined();
    session = data?.session;
  }
  const done = await anonymous.registerRequest({
    username,
    password: PASSWORD,
    auth: { type: 'm.login.dummy', ...(session !== undefined ? { session } : {}) },
  });
  const client = createClient({
    baseUrl: server.url,
    logger: quiet,
    userId: done.user_id,
    ...(done.access_token !== undefined ? { accessToken: done.access_token } : {}),
    ...(done.device_id !== undefined ? { deviceId: done.device_id } : {}),
  });
  clients.push(client);
  return client;
}

/** Starts the SDK's sync loop and resolves once the first sync is processed. */
async function start(client: MatrixClient, initialSyncLimit = 20): Promise<void> {
  const ready = new Promise<void>((resolve, reject) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Prepared || state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      } else if (state === SyncState.Error) {
        reject(new Error('sync error'));
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  // Detached: local echoes wait aside, so the timeline holds exactly what sync delivered, in the
  // server's order (chronological mode would slot a local echo ahead of a remote event).
  await client.startClient({
    initialSyncLimit,
    lazyLoadMembers: true,
    pendingEventOrdering: PendingEventOrdering.Detached,
  });
  await ready;
}

/**
 * Resolves with the first value `probe` returns that is not undefined, re-checked on each of
 * `events` and after every processed sync response.
 */
async function until<T>(
  client: MatrixClient,
  specific: readonly string[],
  probe: () => T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const events = [...specific, ClientEvent.Sync];
  const first = probe();
  if (first !== undefined) return first;
  return await new Promise<T>((resolve, reject) => {
    const emitter = client as unknown as {
      on(e: string, f: () => void): void;
      off(e: string, f: () => void): void;
    };
    const check = () => {
      const value = probe();
      if (value !== undefined) {
        cleanup();
        resolve(value);
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      for (const e of events) emitter.off(e, check);
    };
    for (const e of events) emitter.on(e, check);
  });
}

function bodiesIn(room: Room | null): string[] {
  if (room === null) return [];
  return room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === EventType.RoomMessage)
    .map((e) => String(e.getContent()['body']));
}

const expected = Array.from({ length: MESSAGES }, (_, i) => `message ${i}`);

describe('matrix-js-sdk 43 completes the client story against weft-server', () => {
  let alice: MatrixClient;
  let bob: MatrixClient;
  let roomId: string;

  it('registers two users through UIA and starts both sync loops', async () => {
    alice = await register('alice');
    bob = await register('bob');
    expect(alice.getUserId()).toBe('@alice:jssdk.test');
    expect((await bob.whoami()).user_id).toBe('@bob:jssdk.test');
    await start(alice);
    await start(bob);
  });

  it('creates a room, invites, and the invitee joins through sync', async () => {
    const created = await alice.createRoom({ name: 'SDK story', preset: 'private_chat' as never });
    roomId = created.room_id;
    const invited = until(
      bob,
      [RoomEvent.MyMembership],
      () => (bob.getRoom(roomId)?.getMyMembership() === 'invite' ? true : undefined),
      'the invite in bob’s sync',
    );
    await alice.invite(roomId, bob.getUserId() ?? '');
    await invited;
    await bob.joinRoom(roomId);
    await until(
      alice,
      [RoomMemberEvent.Membership],
      () =>
        alice.getRoom(roomId)?.getMember(bob.getUserId() ?? '')?.membership === 'join'
          ? true
          : undefined,
      'bob’s join in alice’s sync',
    );
    expect(alice.getRoom(roomId)?.name).toBe('SDK story');
  });

  it('exchanges 100 messages that both clients see through sync, in order', async () => {
    for (let i = 0; i < MESSAGES; i++) {
      const sender = i % 2 === 0 ? alice : bob;
      await sender.sendMessage(roomId, { msgtype: MsgType.Text, body: `message ${i}` });
    }
    for (const client of [alice, bob]) {
      const seen = await until(
        client,
        [RoomEvent.Timeline],
        () => {
          const bodies = bodiesIn(client.getRoom(roomId));
          return bodies.length >= MESSAGES ? bodies : undefined;
        },
        `100 messages at ${client.getUserId()}`,
      );
      expect(seen).toEqual(expected);
      // Every message is the server's copy (an event ID, not a local echo).
      const events = client
        .getRoom(roomId)
        ?.getLiveTimeline()
        .getEvents()
        .filter((e) => e.getType() === EventType.RoomMessage);
      expect(events?.every((e) => e.getId()?.startsWith('$') === true)).toBe(true);
    }
  });

  it('paginates history backwards from a fresh login (scrollback)', async () => {
    const login = await createClient({ baseUrl: server.url, logger: quiet }).loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'bob' },
      password: PASSWORD,
      initial_device_display_name: 'second bob',
    });
    const fresh = createClient({
      baseUrl: server.url,
      logger: quiet,
      userId: login.user_id,
      accessToken: login.access_token,
      deviceId: login.device_id,
    });
    clients.push(fresh);
    await start(fresh, 5);
    const room = fresh.getRoom(roomId);
    expect(room).not.toBeNull();
    if (room === null) return;
    expect(bodiesIn(room).length).toBeLessThan(MESSAGES);
    let rounds = 0;
    while (bodiesIn(room).length < MESSAGES && rounds < 50) {
      await fresh.scrollback(room, 30);
      rounds++;
    }
    expect(bodiesIn(room)).toEqual(expected);
    expect(rounds).toBeGreaterThan(1);
    // The start of the room is reached: its create event is in the timeline.
    await fresh.scrollback(room, 30);
    expect(
      room
        .getLiveTimeline()
        .getEvents()
        .some((e: MatrixEvent) => e.getType() === EventType.RoomCreate),
    ).toBe(true);
    fresh.stopClient();
  });

  it('typing notifications arrive', async () => {
    const bobId = bob.getUserId() ?? '';
    const typing = until(
      alice,
      [RoomMemberEvent.Typing],
      () => (alice.getRoom(roomId)?.getMember(bobId)?.typing === true ? true : undefined),
      'bob typing at alice',
    );
    await bob.sendTyping(roomId, true, 10_000);
    await typing;
    const stopped = until(
      alice,
      [RoomMemberEvent.Typing],
      () => (alice.getRoom(roomId)?.getMember(bobId)?.typing === false ? true : undefined),
      'bob stopped typing at alice',
    );
    await bob.sendTyping(roomId, false, 0);
    await stopped;
  });

  it('read receipts arrive', async () => {
    const room = bob.getRoom(roomId);
    const last = room?.getLiveTimeline().getEvents().at(-1);
    expect(last).toBeDefined();
    if (last === undefined) return;
    const eventId = last.getId() ?? '';
    const bobId = bob.getUserId() ?? '';
    const seen = until(
      alice,
      [RoomEvent.Receipt],
      () => (alice.getRoom(roomId)?.getEventReadUpTo(bobId) === eventId ? eventId : undefined),
      'bob’s receipt at alice',
    );
    await bob.sendReadReceipt(last);
    expect(await seen).toBe(eventId);
  });

  it('a room tag with a float order, as Element sets favourites, comes back through sync', async () => {
    const order = () => alice.getRoom(roomId)?.tags['m.favourite']?.['order'];
    const tagged = until(
      alice,
      [RoomEvent.Tags],
      () => (order() === 0.5 ? true : undefined),
      'the tag',
    );
    await alice.setRoomTag(roomId, 'm.favourite', { order: 0.5 });
    await tagged;
    const untagged = until(
      alice,
      [RoomEvent.Tags],
      () => (alice.getRoom(roomId)?.tags['m.favourite'] === undefined ? true : undefined),
      'the tag removed',
    );
    await alice.deleteRoomTag(roomId, 'm.favourite');
    await untagged;
  });

  it('a displayname change shows to the other member', async () => {
    const aliceId = alice.getUserId() ?? '';
    const renamed = until(
      bob,
      [RoomMemberEvent.Name],
      () => (bob.getRoom(roomId)?.getMember(aliceId)?.name === 'Alice A.' ? true : undefined),
      'alice’s new displayname at bob',
    );
    await alice.setDisplayName('Alice A.');
    await renamed;
    expect((await bob.getProfileInfo(aliceId)).displayname).toBe('Alice A.');
  });

  it('one leaves and the other sees it', async () => {
    const bobId = bob.getUserId() ?? '';
    const left = until(
      alice,
      [RoomMemberEvent.Membership],
      () => (alice.getRoom(roomId)?.getMember(bobId)?.membership === 'leave' ? true : undefined),
      'bob’s leave at alice',
    );
    await bob.leave(roomId);
    await left;
    expect((await alice.getJoinedRoomMembers(roomId)).joined[bobId]).toBeUndefined();
  });
});
