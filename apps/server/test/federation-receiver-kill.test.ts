/**
 * Fault: the RECEIVING server is SIGKILLed in the middle of traffic (spec server-server-api
 * "Transactions": the sender retries until the destination answers; sender/queue.ts keeps the
 * queue in the database and backs off). Two real `weft-server` PROCESSES with TLS federation
 * listeners share a room; users on both send bursts; b.test is killed without shutdown while
 * a.test keeps sending (its queue for b.test fills and backs off) and then restarted on the same
 * data directory. Afterwards nothing acknowledged is lost on either side: both servers show the
 * same messages, each sender's messages in the order they were sent, and the same room state.
 * Second, with three servers: the events b.test missed while dead come partly from a server that
 * is down when b.test returns, so b.test fills the gap from a.test (get_missing_events, spec
 * "Retrieving events"/"Checks performed on receipt of a PDU") — and all three agree afterwards.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  createPublicRoom,
  createTestCa,
  federationConfigYaml,
  issueCert,
  joinVia,
} from './federation-harness.ts';
import { TestClient } from './harness.ts';
import { freePort, type SpawnedServer, spawnServer } from './spawn.ts';

const spawned: SpawnedServer[] = [];

afterAll(async () => {
  await Promise.all(spawned.map((server) => server.kill()));
});

type User = { userId: string; accessToken: string };

interface TimelineEvent {
  readonly event_id: string;
  readonly sender: string;
  readonly type: string;
  readonly content: { body?: string };
}

/** The room's whole timeline as the user sees it through `/messages`, oldest first. */
async function timeline(client: TestClient, user: User, roomId: string): Promise<TimelineEvent[]> {
  const events: TimelineEvent[] = [];
  let from = '';
  for (;;) {
    const page = await client.request<{ chunk: TimelineEvent[]; end?: string }>(
      'GET',
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=1000${from}`,
      { token: user.accessToken },
    );
    if (page.status !== 200) throw new Error(`/messages: ${page.status}`);
    events.push(...page.body.chunk);
    if (page.body.chunk.length === 0 || page.body.end === undefined) break;
    from = `&from=${encodeURIComponent(page.body.end)}`;
  }
  return events.reverse();
}

/** The room's current state as sorted `type|state_key|event_id` entries. */
async function state(client: TestClient, user: User, roomId: string): Promise<string[]> {
  const response = await client.request<Array<Record<string, string>>>(
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`,
    { token: user.accessToken },
  );
  return response.body.map((e) => `${e['type']}|${e['state_key']}|${e['event_id']}`).sort();
}

const bodiesOf = (events: readonly TimelineEvent[], sender: string) =>
  events
    .filter((e) => e.type === 'm.room.message' && e.sender === sender)
    .map((e) => String(e.content.body));

async function eventually(check: () => Promise<boolean>, what: string, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Sends up to `count` messages as `user` one after the other (each waits for its answer); stops
 * at the first failure (the server was killed) or once `done()` says so. Resolves to the bodies
 * acknowledged with a 200.
 */
async function burst(
  client: TestClient,
  user: User,
  roomId: string,
  prefix: string,
  count: number,
  onSent?: (n: number) => void,
  done: () => boolean = () => false,
): Promise<string[]> {
  const acknowledged: string[] = [];
  for (let i = 0; i < count && !done(); i++) {
    const body = `${prefix} ${i}`;
    try {
      const response = await client.request(
        'PUT',
        `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(body)}`,
        { token: user.accessToken, body: { msgtype: 'm.text', body } },
      );
      if (response.status !== 200) break;
    } catch {
      break; // connection refused or reset: the server is gone
    }
    acknowledged.push(body);
    onSent?.(acknowledged.length);
  }
  return acknowledged;
}

/** Server processes of one test federation, each restartable on its data directory. */
async function spawnFederation(names: readonly string[]) {
  const ca = createTestCa();
  const ports = new Map<string, { client: number; federation: number }>();
  for (const name of names) {
    ports.set(name, { client: await freePort(), federation: await freePort() });
  }
  const hosts = Object.fromEntries(
    [...ports].map(([name, p]) => [name, `127.0.0.1:${p.federation}`]),
  );
  const running = new Map<string, SpawnedServer>();
  const start = async (name: string, dataDir?: string): Promise<SpawnedServer> => {
    const p = ports.get(name);
    if (p === undefined) throw new Error(`no server ${name}`);
    const server = await spawnServer({
      serverName: name,
      port: p.client,
      ...(dataDir === undefined
        ? { configYaml: federationConfigYaml(ca, issueCert(ca, name), p.federation, hosts) }
        : { dataDir, configYaml: null }),
    });
    spawned.push(server);
    running.set(name, server);
    return server;
  };
  for (const name of names) await start(name);
  const get = (name: string): SpawnedServer => {
    const server = running.get(name);
    if (server === undefined) throw new Error(`${name} is not running`);
    return server;
  };
  return {
    get,
    client: (name: string) => new TestClient(get(name).url),
    /** Starts `name` again on its data directory (after a kill or a stop). */
    restart: (name: string) => start(name, get(name).dataDir),
  };
}

describe('receiver SIGKILLed during traffic', () => {
  it('catches up after the restart; both servers hold the same messages in order', async () => {
    const fed = await spawnFederation(['a.test', 'b.test']);
    const aClient = fed.client('a.test');
    const bClient = fed.client('b.test');
    const alice = await aClient.registerUser('alice');
    const bob = await bClient.registerUser('bob');
    const roomId = await createPublicRoom(aClient, alice);
    await joinVia(bClient, bob, roomId, 'a.test');
    const b = fed.get('b.test');

    // Both sides send; b.test is killed once bob has 15 messages acknowledged, while alice
    // keeps going for 40 more (her server queues for the dead b.test and backs off).
    let killed: Promise<void> | undefined;
    let aliceCount = 0;
    let aliceAtKill = 0;
    const [aliceSent, bobSent] = await Promise.all([
      burst(
        aClient,
        alice,
        roomId,
        'alice',
        1_000,
        (n) => {
          aliceCount = n;
        },
        () => killed !== undefined && aliceCount >= aliceAtKill + 40,
      ),
      burst(bClient, bob, roomId, 'bob', 1_000, (n) => {
        if (n !== 15) return;
        aliceAtKill = aliceCount;
        killed = b.kill();
      }),
    ]);
    await killed;
    // Part of alice's burst went out while b.test was dead: a.test had to queue and retry.
    expect(aliceSent).toHaveLength(aliceAtKill + 40);
    expect(bobSent.length).toBeGreaterThanOrEqual(15);

    await fed.restart('b.test');
    const bobAfter = await burst(bClient, bob, roomId, 'bob after', 20);
    const aliceAfter = await burst(aClient, alice, roomId, 'alice after', 20);
    expect(bobAfter).toHaveLength(20);
    expect(aliceAfter).toHaveLength(20);

    const aliceAll = [...aliceSent, ...aliceAfter];
    const bobAll = [...bobSent, ...bobAfter];
    const has = (events: TimelineEvent[], sender: string, bodies: string[]) => {
      const seen = new Set(bodiesOf(events, sender));
      return bodies.every((body) => seen.has(body));
    };
    await eventually(
      async () => has(await timeline(bClient, bob, roomId), alice.userId, aliceAll),
      "alice's messages on b.test",
    );
    await eventually(
      async () => has(await timeline(aClient, alice, roomId), bob.userId, bobAll),
      "bob's messages on a.test",
    );

    const onA = await timeline(aClient, alice, roomId);
    const onB = await timeline(bClient, bob, roomId);
    // Each sender's messages in the order sent, on both servers; a message b.test stored
    // when it was killed but never acknowledged to bob must still reach a.test too.
    for (const events of [onA, onB]) {
      expect(bodiesOf(events, alice.userId)).toEqual(aliceAll);
      expect(bodiesOf(events, bob.userId).filter((body) => bobAll.includes(body))).toEqual(bobAll);
    }
    expect(bodiesOf(onA, bob.userId)).toEqual(bodiesOf(onB, bob.userId));
    // The same messages (no duplicates), b.test's whole timeline — which starts at bob's join:
    // the state before it came with send_join — on a.test too, and the same room state.
    const ids = (events: TimelineEvent[]) => events.map((e) => e.event_id);
    const messageIds = (events: TimelineEvent[]) =>
      ids(events.filter((e) => e.type === 'm.room.message')).sort();
    expect(new Set(ids(onA)).size).toBe(onA.length);
    expect(new Set(ids(onB)).size).toBe(onB.length);
    expect(messageIds(onA)).toEqual(messageIds(onB));
    expect(ids(onB).filter((id) => !ids(onA).includes(id))).toEqual([]);
    expect(await state(aClient, alice, roomId)).toEqual(await state(bClient, bob, roomId));
  }, 240_000);
  it('fills the gap with get_missing_events when the events it lacks come from a server that is down', async () => {
    // a.test hosts the room; b.test and c.test join. b.test is killed; c.test sends (a.test
    // receives, b.test cannot) and alice answers on top of c.test's messages; then c.test stops
    // gracefully with its messages still queued for b.test. When b.test is back, a.test's
    // events cite prev events only c.test ever sent it: b.test must fetch them from a.test.
    const fed = await spawnFederation(['a.test', 'b.test', 'c.test']);
    const [aClient, bClient, cClient] = ['a.test', 'b.test', 'c.test'].map(fed.client) as [
      TestClient,
      TestClient,
      TestClient,
    ];
    const alice = await aClient.registerUser('alice');
    const bob = await bClient.registerUser('bob');
    const carol = await cClient.registerUser('carol');
    const roomId = await createPublicRoom(aClient, alice);
    await joinVia(bClient, bob, roomId, 'a.test');
    await joinVia(cClient, carol, roomId, 'a.test');
    await eventually(
      async () => (await state(bClient, bob, roomId)).some((e) => e.includes(carol.userId)),
      "carol's join on b.test",
    );

    await fed.get('b.test').kill();
    const carolSent = await burst(cClient, carol, roomId, 'carol', 10);
    await eventually(async () => {
      const onA = await timeline(aClient, alice, roomId);
      return bodiesOf(onA, carol.userId).length === carolSent.length;
    }, "carol's messages on a.test");
    const aliceSent = await burst(aClient, alice, roomId, 'alice', 5);
    expect(await fed.get('c.test').stop()).toBe(0);

    await fed.restart('b.test');
    const bClientAgain = fed.client('b.test');
    await eventually(async () => {
      const onB = await timeline(bClientAgain, bob, roomId);
      return bodiesOf(onB, alice.userId).length === aliceSent.length;
    }, "alice's messages on b.test");
    const onB = await timeline(bClientAgain, bob, roomId);
    // c.test is still down: its messages came through a.test (get_missing_events).
    expect(bodiesOf(onB, carol.userId)).toEqual(carolSent);
    expect(bodiesOf(onB, alice.userId)).toEqual(aliceSent);

    // c.test comes back and delivers its queue: duplicates change nothing; all three agree.
    await fed.restart('c.test');
    const cClientAgain = fed.client('c.test');
    const last = await burst(cClientAgain, carol, roomId, 'carol after', 1);
    expect(last).toHaveLength(1);
    const views = [
      [aClient, alice],
      [bClientAgain, bob],
      [cClientAgain, carol],
    ] as const;
    for (const [client, user] of views) {
      await eventually(
        async () =>
          bodiesOf(await timeline(client, user, roomId), carol.userId).includes(last[0] ?? ''),
        `carol's last message on ${client.baseUrl}`,
      );
    }
    const timelines = await Promise.all(
      views.map(([client, user]) => timeline(client, user, roomId)),
    );
    const messageIds = (events: TimelineEvent[]) =>
      events
        .filter((e) => e.type === 'm.room.message')
        .map((e) => e.event_id)
        .sort();
    for (const events of timelines) {
      expect(bodiesOf(events, carol.userId)).toEqual([...carolSent, ...last]);
      expect(bodiesOf(events, alice.userId)).toEqual(aliceSent);
      expect(messageIds(events)).toEqual(messageIds(timelines[0] ?? []));
    }
    const states = await Promise.all(views.map(([client, user]) => state(client, user, roomId)));
    expect(states[1]).toEqual(states[0]);
    expect(states[2]).toEqual(states[0]);
  }, 240_000);
});
