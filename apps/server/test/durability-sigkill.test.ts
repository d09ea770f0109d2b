/**
 * Durability: a weft-server process is SIGKILLed in the middle of a burst of concurrent sends.
 * After a restart on the same data directory, every send that was answered 200 is there (through
 * /messages and /event), each sender's events in the order it sent them, the access token still
 * works, and a /sync token handed out before the kill still serves an incremental sync that
 * carries those events. (The server answers 200 only after its transaction commits; SQLite in WAL
 * mode with synchronous=NORMAL keeps commits across a process crash.)
 */
import { afterAll, describe, expect, it } from 'vitest';

import { TestClient } from './harness.ts';
import { type SpawnedServer, spawnServer } from './spawn.ts';

const LANES = 8;
/** Kill once this many sends were acknowledged (the burst keeps going until the kill). */
const KILL_AFTER_ACKS = 120;
const enc = encodeURIComponent;

type Json = Record<string, unknown>;

let first: SpawnedServer | undefined;
let second: SpawnedServer | undefined;

afterAll(async () => {
  await first?.kill();
  await second?.stop();
});

describe('SIGKILL during a burst of sends', () => {
  it('keeps every acknowledged event, in order, and pre-kill sync tokens work', async () => {
    first = await spawnServer({ serverName: 'durable.test' });
    const client = new TestClient(first.url);
    const alice = await client.registerUser('alice');
    const token = alice.accessToken;
    const created = await client.request('POST', '/_matrix/client/v3/createRoom', {
      token,
      body: { preset: 'private_chat', name: 'durable' },
    });
    const roomId = String(created.body['room_id']);
    const room = `/_matrix/client/v3/rooms/${enc(roomId)}`;
    const before = await client.request('GET', '/_matrix/client/v3/sync?timeout=0', { token });
    expect(before.status).toBe(200);
    const sinceBeforeKill = String(before.body['next_batch']);

    // The burst: LANES concurrent senders, each sending in sequence until the server dies.
    const acked: { lane: number; seq: number; eventId: string }[] = [];
    let killed = false;
    let failures = 0;
    const server = first;
    const lane = async (index: number) => {
      for (let seq = 0; ; seq++) {
        try {
          const response = await fetch(
            `${server.url}${room}/send/m.room.message/lane${index}-${seq}`,
            {
              method: 'PUT',
              headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
              body: JSON.stringify({ msgtype: 'm.text', body: `lane ${index} #${seq}` }),
            },
          );
          const body = (await response.json()) as Json;
          if (response.status !== 200) throw new Error(`send: ${response.status}`);
          acked.push({ lane: index, seq, eventId: String(body['event_id']) });
          if (acked.length >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            await server.kill();
          }
        } catch {
          // The connection died with the process: this send was never acknowledged.
          failures++;
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    expect(killed).toBe(true);
    expect(failures).toBe(LANES);
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);

    // Restart on the same data directory.
    second = await spawnServer({ dataDir: server.dataDir, serverName: 'durable.test' });
    const after = new TestClient(second.url);

    // Every acknowledged event, through /event …
    for (const { eventId } of acked) {
      const event = await after.request('GET', `${room}/event/${enc(eventId)}`, { token });
      expect(event.status, eventId).toBe(200);
    }
    // … and through /messages, each lane in the order it was sent.
    const page = await after.request<{ chunk: Json[] }>(
      'GET',
      `${room}/messages?dir=f&limit=1000`,
      {
        token,
      },
    );
    expect(page.status).toBe(200);
    const timeline = page.body.chunk.map((e) => String(e['event_id']));
    const position = new Map(timeline.map((id, i) => [id, i]));
    for (const { eventId } of acked) expect(position.has(eventId), eventId).toBe(true);
    for (let index = 0; index < LANES; index++) {
      const positions = acked
        .filter((a) => a.lane === index)
        .sort((a, b) => a.seq - b.seq)
        .map((a) => position.get(a.eventId) ?? -1);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
    }

    // A sync token from before the kill still works and brings the acknowledged events.
    const filter = enc(JSON.stringify({ room: { timeline: { limit: 1000 } } }));
    const resumed = await after.request(
      'GET',
      `/_matrix/client/v3/sync?timeout=0&since=${enc(sinceBeforeKill)}&filter=${filter}`,
      { token },
    );
    expect(resumed.status).toBe(200);
    const joined = (resumed.body['rooms'] as Json)['join'] as Record<string, Json>;
    expect(joined[roomId]).toBeDefined();
    const timelineEvents = ((joined[roomId]?.['timeline'] ?? {}) as Json)['events'] as Json[];
    const events = timelineEvents.map((e) => String(e['event_id']));
    for (const { eventId } of acked) expect(events, eventId).toContain(eventId);
    // And the token it hands out keeps working.
    const next = await after.request(
      'GET',
      `/_matrix/client/v3/sync?timeout=0&since=${enc(String(resumed.body['next_batch']))}`,
      { token },
    );
    expect(next.status).toBe(200);
  });
});
