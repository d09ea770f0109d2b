/**
 * Redactions received over federation (persist-remote.ts, services/rooms/redaction-applies.ts):
 * from room version 3 the auth rules do not say who may redact what, so a server applies a
 * received redaction only when its sender is of the redacted event's sender's server or has the
 * `redact` power level in the state before it, and not before both events are here (spec
 * https://spec.matrix.org/v1.19/rooms/v11/#handling-redactions). Against a hand-written peer
 * `m.test` (federation-peer.ts) over real TLS:
 * - mallory of m.test, without power, redacting alice's message or topic: both still served
 *   unredacted (`/event`, `/messages`), and the `prev_content` copy of the topic stays;
 * - mod of m.test, at the `redact` level: alice's message and topic are redacted (the copy too);
 * - mallory redacting eve's message (eve of m.test too): redacted;
 * - a redaction that arrives before the event it names: that event is served redacted once it
 *   arrives — but not when the redaction is of another room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import type { TestServer } from './harness.ts';
import { roomTip, tipAuthEvents } from './room-tip.ts';
import { call, createRoom, type Json, sendText, type TestUser } from './sync-helpers.ts';

const ROOM_VERSION = '11';
const MALLORY = '@mallory:m.test';
const MOD = '@mod:m.test';
const EVE = '@eve:m.test';

let federation: TestFederation;
let peer: TestPeer;
let a: TestServer;
let alice: TestUser;
let roomId: string;
let txn = 0;

/**
 * A signed event of `sender` on the current tip of `room` (default the shared room), or after
 * `prev` at `depth`.
 */
async function event(
  sender: string,
  type: string,
  content: Json,
  options: { stateKey?: string; prev?: { eventId: string; depth: number }; room?: string } = {},
): Promise<{ pdu: Record<string, unknown>; eventId: string; depth: number }> {
  const room = options.room ?? roomId;
  const tip = await roomTip(a, room, sender);
  const authEvents =
    type === 'm.room.member'
      ? [tip.create, tip.powerLevels, tip.joinRules, ...(tip.member ? [tip.member] : [])]
      : tipAuthEvents(tip);
  const depth = options.prev === undefined ? tip.depth + 1 : options.prev.depth + 1;
  const signed = peer.sign(
    {
      auth_events: authEvents,
      content,
      depth,
      origin_server_ts: Date.now(),
      prev_events: options.prev === undefined ? tip.extremities : [options.prev.eventId],
      room_id: room,
      sender,
      type,
      ...(options.stateKey === undefined ? {} : { state_key: options.stateKey }),
    },
    ROOM_VERSION,
  );
  return { ...signed, depth };
}

/** Sends `pdus` to a.test in one transaction; expects each accepted. */
async function sendAccepted(...pdus: { pdu: Record<string, unknown>; eventId: string }[]) {
  const results = (
    await peer.send(
      'a.test',
      `r${++txn}`,
      pdus.map((p) => p.pdu),
    )
  )['pdus'] as Json;
  for (const { eventId } of pdus) expect(results[eventId], eventId).toEqual({});
}

/** A redaction by `sender` of `target`, in `room` (default the shared room). */
function redaction(sender: string, target: string, room?: string) {
  return event(
    sender,
    'm.room.redaction',
    { redacts: target, reason: 'test' },
    room === undefined ? {} : { room },
  );
}

/** `/event` as alice sees it. */
function served(eventId: string): Promise<Json> {
  return call(
    a,
    alice,
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`,
  );
}

/** The event as `/messages` serves it to alice. */
async function inMessages(eventId: string): Promise<Json | undefined> {
  const body = await call(
    a,
    alice,
    'GET',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`,
  );
  return (body['chunk'] as Json[]).find((e) => e['event_id'] === eventId);
}

function setTopic(topic: string): Promise<string> {
  return call(
    a,
    alice,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic/`,
    { topic },
  ).then((body) => body['event_id'] as string);
}

beforeAll(async () => {
  ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer));
  a = federation.server('a.test');
  alice = await a.client.registerUser('alice');
  roomId = await createRoom(a, alice, [], { preset: 'public_chat', room_version: ROOM_VERSION });
  for (const user of [MALLORY, MOD, EVE]) {
    await sendAccepted(
      await event(user, 'm.room.member', { membership: 'join' }, { stateKey: user }),
    );
  }
  const levelsPath = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`;
  const levels = await call(a, alice, 'GET', levelsPath);
  await call(a, alice, 'PUT', levelsPath, {
    ...levels,
    users: { ...(levels['users'] as Json), [MOD]: 50 },
  });
}, 90_000);

afterAll(async () => {
  await federation?.close();
  await peer?.down();
});

describe('received redactions (redaction-applies.ts)', () => {
  it('a remote user without power cannot redact a local user’s message or state', async () => {
    const message = await sendText(a, alice, roomId, 'keep me');
    const one = await setTopic('one');
    const two = await setTopic('two');
    await sendAccepted(await redaction(MALLORY, message));
    await sendAccepted(await redaction(MALLORY, one));

    expect((await served(message))['content']['body']).toBe('keep me');
    expect((await served(message))['unsigned']?.['redacted_because']).toBeUndefined();
    expect((await inMessages(message))?.['content']['body']).toBe('keep me');
    expect((await served(one))['content']['topic']).toBe('one');
    expect((await served(two))['unsigned']['prev_content']).toEqual({ topic: 'one' });
  });

  it('a remote moderator at the redact level redacts a local user’s message and state', async () => {
    const message = await sendText(a, alice, roomId, 'remove me');
    const three = await setTopic('three');
    const four = await setTopic('four');
    const redactMessage = await redaction(MOD, message);
    await sendAccepted(redactMessage);
    await sendAccepted(await redaction(MOD, three));

    const got = await served(message);
    expect(got['content']).toEqual({});
    expect(got['unsigned']['redacted_because']['event_id']).toBe(redactMessage.eventId);
    expect((await inMessages(message))?.['content']).toEqual({});
    expect((await served(three))['content']).toEqual({});
    expect((await served(four))['unsigned']['prev_content']).toEqual({});
  });

  it('a remote user redacts an event of a user of their own server', async () => {
    const message = await event(EVE, 'm.room.message', { msgtype: 'm.text', body: 'eve says' });
    await sendAccepted(message);
    expect((await served(message.eventId))['content']['body']).toBe('eve says');
    await sendAccepted(await redaction(MALLORY, message.eventId));
    expect((await served(message.eventId))['content']).toEqual({});
    expect((await inMessages(message.eventId))?.['content']).toEqual({});
  });

  it('a redaction received before its target redacts the target once it arrives', async () => {
    // Both on the same tip (siblings): the redaction names the message, sent after it.
    const message = await event(EVE, 'm.room.message', { msgtype: 'm.text', body: 'late' });
    const early = await redaction(MALLORY, message.eventId);
    await sendAccepted(early);
    const before = await a.services.ctx.db.queryOne<{ one: number }>(
      'SELECT 1 AS one FROM events WHERE event_id = $1',
      [message.eventId],
    );
    expect(before).toBeUndefined();
    await sendAccepted(message);
    const got = await served(message.eventId);
    expect(got['content']).toEqual({});
    expect(got['unsigned']['redacted_because']['event_id']).toBe(early.eventId);
    expect((await inMessages(message.eventId))?.['content']).toEqual({});
  });

  it('a redaction received in another room does not redact the event it names once it arrives', async () => {
    // A redaction applies only to an event of its own room: spec rooms/v11 "Handling
    // redactions" validates it against its own room's power levels, which say nothing about
    // another room. The earlier-redactions read finds redactions by `redacts` alone (dc4013a),
    // so the room is compared in code: in applyEarlierRedactions' loop and in redactionApplies.
    const other = await createRoom(a, alice, [], {
      preset: 'public_chat',
      room_version: ROOM_VERSION,
    });
    await sendAccepted(
      await event(
        MALLORY,
        'm.room.member',
        { membership: 'join' },
        { stateKey: MALLORY, room: other },
      ),
    );
    // The message's ID is its reference hash, known before it is sent. Mallory redacting eve's
    // message would apply in the message's own room (one server), as in the test above.
    const message = await event(EVE, 'm.room.message', { msgtype: 'm.text', body: 'elsewhere' });
    const foreign = await redaction(MALLORY, message.eventId, other);
    await sendAccepted(foreign);
    const stored = await a.services.ctx.db.queryOne<{ redacts: string | null }>(
      'SELECT redacts FROM events WHERE event_id = $1',
      [foreign.eventId],
    );
    expect(stored?.redacts).toBe(message.eventId);
    await sendAccepted(message);
    const got = await served(message.eventId);
    expect(got['content']['body']).toBe('elsewhere');
    expect(got['unsigned']?.['redacted_because']).toBeUndefined();
    expect((await inMessages(message.eventId))?.['content']['body']).toBe('elsewhere');
  });
});
