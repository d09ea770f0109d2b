/**
 * Receiving and sending transactions (api/federation/send.ts, services/federation/event-handler,
 * services/federation/sender) against a hand-written peer server `m.test` (federation-peer.ts)
 * over real TLS: its join into a room on `a.test` reaches local clients' /sync; missing prev
 * events are fetched; EDUs cross both ways; and A's outbound queue delivers to the peer,
 * including after the peer was down and after A itself restarted with transactions queued.
 * The attacks (forged signatures, wrong hashes, auth-rule breaks, fake auth chains, replays,
 * unsigned requests, a state reset in a fork) run against a malicious server PROCESS in
 * federation-malicious.test.ts.
 */
import { generateSigningKey, type JsonObject, verifyJson } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { userDevices } from '../src/services/federation/queries/serve-queries.ts';
import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import { startTestPeer, type TestPeer } from './federation-peer.ts';
import {
  crossSigningKey,
  deviceKeys,
  newIdentity,
  sign,
  signingKeysBody,
} from './keys-cross-signing-suite.ts';
import { type RoomTip, roomTip, tipAuthEvents } from './room-tip.ts';
import {
  call,
  createRoom,
  type Json,
  loginDevice,
  sendText,
  sync,
  type TestUser,
} from './sync-helpers.ts';

const ROOM_VERSION = '11';
let federation: TestFederation;
let peer: TestPeer;
let alice: TestUser;
let roomId: string;

/** Facts about the room as A sees them, to build the peer's next event on top of. */
function roomFacts(): Promise<RoomTip> {
  return roomTip(federation.server('a.test'), roomId, '@mallory:m.test');
}

/** An unsigned event of mallory on top of A's current extremities. */
async function malloryEvent(
  type: string,
  content: Record<string, unknown>,
  options: { stateKey?: string; authEvents?: string[] } = {},
): Promise<Record<string, unknown>> {
  const facts = await roomFacts();
  const auth = options.authEvents ?? tipAuthEvents(facts);
  return {
    auth_events: auth,
    content,
    depth: facts.depth + 1,
    origin_server_ts: Date.now(),
    prev_events: facts.extremities,
    room_id: roomId,
    sender: '@mallory:m.test',
    type,
    ...(options.stateKey !== undefined ? { state_key: options.stateKey } : {}),
  };
}

async function storedRow(
  eventId: string,
): Promise<{ pdu: string; rejected: number; stream_position: number | null } | undefined> {
  return federation
    .server('a.test')
    .services.ctx.db.queryOne(
      'SELECT pdu, rejected, stream_position FROM events WHERE event_id = $1',
      [eventId],
    );
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function timelineIds(body: Json): string[] {
  return ((body['rooms']?.['join']?.[roomId]?.['timeline']?.['events'] ?? []) as Json[]).map(
    (event) => event['event_id'],
  );
}

let mallorysJoin: string;

beforeAll(async () => {
  ({ federation, peer } = await startFederationWithPeer(['a.test'], 'm.test', startTestPeer));
  const a = federation.server('a.test');
  alice = await a.client.registerUser('alice');
  roomId = await createRoom(a, alice, [], { preset: 'public_chat' });
  const join = peer.sign(
    await malloryEvent('m.room.member', { membership: 'join' }, { stateKey: '@mallory:m.test' }),
    ROOM_VERSION,
  );
  mallorysJoin = join.eventId;
  const response = await peer.send('a.test', 'join-1', [join.pdu]);
  expect(response).toEqual({ pdus: { [join.eventId]: {} } });
}, 60_000);

afterAll(async () => {
  await federation?.close();
  await peer?.down();
});

describe('inbound /send (send.ts, event-handler/handle-pdu.ts)', () => {
  it('delivers an accepted remote event to local clients through /sync', async () => {
    const body = await sync(federation.server('a.test'), alice);
    expect(timelineIds(body)).toContain(mallorysJoin);
    const members = await federation.server('a.test').services.rooms.members(roomId);
    expect(members).toEqual(['@alice:a.test', '@mallory:m.test'].sort());
  });
});

describe('outbound queue (sender/queue.ts)', () => {
  it('sends local events to the servers in the room', async () => {
    const eventId = await sendText(federation.server('a.test'), alice, roomId, 'hello m');
    await waitFor('the peer to receive the event', () =>
      peer.received.some((txn) =>
        txn.pdus.some((pdu) => pdu['content'] && (pdu['content'] as Json)['body'] === 'hello m'),
      ),
    );
    const txn = peer.received.find((t) =>
      t.pdus.some((pdu) => (pdu['content'] as Json)['body'] === 'hello m'),
    );
    expect(txn?.origin).toBe('a.test');
    const { computeEventId } = await import('@weft/signing');
    const pdu = txn?.pdus.find((p) => (p['content'] as Json)['body'] === 'hello m');
    expect(computeEventId(pdu as JsonObject, ROOM_VERSION)).toBe(eventId);
  });

  it('keeps events for a destination that is down and delivers them when it is back', async () => {
    await peer.down();
    const a = federation.server('a.test');
    await sendText(a, alice, roomId, 'while down 1');
    await sendText(a, alice, roomId, 'while down 2');
    await waitFor(
      'a failed attempt',
      async () => (await a.services.federation.sender.pending('m.test')) >= 2,
    );
    await peer.up();
    // The peer contacting A tells A it is back (no need to wait for the backoff).
    await peer.send('a.test', 'back-1', []);
    await waitFor('catch-up', () => bodies().includes('while down 2'));
    expect(bodies().filter((b) => b.startsWith('while down'))).toEqual([
      'while down 1',
      'while down 2',
    ]);
    await waitFor(
      'the queue to drain',
      async () => (await a.services.federation.sender.pending('m.test')) === 0,
    );
  });

  it('delivers what was queued before the sending server restarted', async () => {
    await peer.down();
    await sendText(federation.server('a.test'), alice, roomId, 'before restart');
    await waitFor(
      'the row to be queued',
      async () =>
        (await federation.server('a.test').services.federation.sender.pending('m.test')) >= 1,
    );
    await federation.stop('a.test');
    await peer.up();
    const a = await federation.restart('a.test');
    await waitFor('delivery after restart', () => bodies().includes('before restart'));
    await waitFor(
      'the queue to drain',
      async () => (await a.services.federation.sender.pending('m.test')) === 0,
    );
  });
});

describe('EDUs (edus/inbound.ts, edus/outbound.ts)', () => {
  function edusOf(type: string): Json[] {
    return peer.received.flatMap((txn) => txn.edus.filter((edu) => edu['edu_type'] === type));
  }

  it('sends local typing, read receipts and to-device messages to the peer', async () => {
    const a = federation.server('a.test');
    const base = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}`;
    await call(a, alice, 'PUT', `${base}/typing/${encodeURIComponent(alice.userId)}`, {
      typing: true,
      timeout: 10_000,
    });
    await waitFor('m.typing', () => edusOf('m.typing').length > 0);
    expect(edusOf('m.typing')[0]?.['content']).toEqual({
      room_id: roomId,
      user_id: alice.userId,
      typing: true,
    });

    await call(a, alice, 'POST', `${base}/receipt/m.read/${encodeURIComponent(mallorysJoin)}`, {});
    await waitFor('m.receipt', () => edusOf('m.receipt').length > 0);
    const receipt = edusOf('m.receipt')[0]?.['content'] as Json;
    expect(receipt[roomId]['m.read'][alice.userId]['event_ids']).toEqual([mallorysJoin]);

    await call(a, alice, 'PUT', '/_matrix/client/v3/sendToDevice/m.test.ping/td-1', {
      messages: { '@mallory:m.test': { PHONE: { hello: 'mallory' } } },
    });
    await waitFor('m.direct_to_device', () => edusOf('m.direct_to_device').length > 0);
    const toDevice = edusOf('m.direct_to_device')[0]?.['content'] as Json;
    expect(toDevice['sender']).toBe(alice.userId);
    expect(toDevice['type']).toBe('m.test.ping');
    expect(toDevice['messages']).toEqual({ '@mallory:m.test': { PHONE: { hello: 'mallory' } } });
  });

  it('applies the peer’s typing and to-device EDUs so local clients see them in /sync', async () => {
    const a = federation.server('a.test');
    await peer.send(
      'a.test',
      'edu-1',
      [],
      [
        {
          edu_type: 'm.typing',
          content: { room_id: roomId, user_id: '@mallory:m.test', typing: true },
        },
        {
          edu_type: 'm.direct_to_device',
          content: {
            sender: '@mallory:m.test',
            type: 'm.test.pong',
            message_id: 'pong-1',
            messages: { [alice.userId]: { [alice.deviceId]: { hello: 'alice' } } },
          },
        },
        // Not mallory's server: ignored.
        {
          edu_type: 'm.typing',
          content: { room_id: roomId, user_id: alice.userId, typing: true },
        },
      ],
    );
    expect(a.services.typing.typingIn(roomId)).toContain('@mallory:m.test');
    const body = await sync(a, alice);
    const toDevice = (body['to_device']?.['events'] ?? []) as Json[];
    expect(toDevice).toContainEqual({
      sender: '@mallory:m.test',
      type: 'm.test.pong',
      content: { hello: 'alice' },
    });
    const ephemeral = (body['rooms']['join'][roomId]['ephemeral']['events'] ?? []) as Json[];
    const typing = ephemeral.find((event) => event['type'] === 'm.typing');
    expect(typing?.['content']['user_ids']).toContain('@mallory:m.test');
  });

  it('delivers an inbound to-device EDU to local users only, never on to other servers', async () => {
    const a = federation.server('a.test');
    const before = edusOf('m.direct_to_device').length;
    await peer.send(
      'a.test',
      'edu-relay',
      [],
      [
        {
          edu_type: 'm.direct_to_device',
          content: {
            sender: '@mallory:m.test',
            type: 'm.test.relay',
            message_id: 'relay-1',
            messages: {
              [alice.userId]: { [alice.deviceId]: { hello: 'alice' } },
              '@victim:b.test': { PHONE: { hello: 'victim' } },
              '@other:m.test': { PHONE: { hello: 'back' } },
            },
          },
        },
      ],
    );
    const body = await sync(a, alice);
    expect((body['to_device']?.['events'] ?? []) as Json[]).toContainEqual({
      sender: '@mallory:m.test',
      type: 'm.test.relay',
      content: { hello: 'alice' },
    });
    // Nothing queued for b.test, nothing sent back to m.test.
    expect(await a.services.federation.sender.pending('b.test')).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await a.services.federation.sender.pending('m.test')).toBe(0);
    expect(edusOf('m.direct_to_device').length).toBe(before);
  });

  it('sends one m.device_list_update per device change, chained by stream_id', async () => {
    const a = federation.server('a.test');
    const updates = () =>
      edusOf('m.device_list_update')
        .map((edu) => edu['content'] as Json)
        .filter((content) => content['user_id'] === alice.userId);
    const before = updates().length;
    const device = await loginDevice(a, alice.userId, 'LISTED');
    const key = generateSigningKey('LISTED');
    await call(a, device, 'POST', '/_matrix/client/v3/keys/upload', {
      device_keys: deviceKeys(device, key),
    });
    const removed = await a.client.request('DELETE', '/_matrix/client/v3/devices/LISTED', {
      token: alice.accessToken,
      body: {
        auth: {
          type: 'm.login.password',
          identifier: { type: 'm.id.user', user: alice.userId },
          password: 'correct horse battery staple',
        },
      },
    });
    expect(removed.status).toBe(200);
    await waitFor('three device-list updates', () => updates().length >= before + 3);
    const [added, keyed, deleted] = updates().slice(before) as [Json, Json, Json];
    expect(added['device_id']).toBe('LISTED');
    expect(added['deleted']).toBeUndefined();
    expect(keyed['device_id']).toBe('LISTED');
    expect(keyed['keys']['keys']['ed25519:LISTED']).toBe(key.publicKeyBase64);
    expect(deleted).toMatchObject({ device_id: 'LISTED', deleted: true });
    // Increasing per user, each naming the one before.
    const first = added['stream_id'] as number;
    expect(keyed['stream_id']).toBe(first + 1);
    expect(keyed['prev_id']).toEqual([first]);
    expect(deleted['stream_id']).toBe(first + 2);
    expect(deleted['prev_id']).toEqual([first + 1]);
    // GET /user/devices answers the stream ID of the last update.
    const devices = await userDevices(a.services, alice.userId);
    expect(devices['stream_id']).toBe(first + 2);
  });

  it('sends a cross-signed device as a device-list update, a device-signed master key as a signing-key update', async () => {
    const a = federation.server('a.test');
    const device = await loginDevice(a, alice.userId, 'SIGNED');
    const key = generateSigningKey('SIGNED');
    await call(a, device, 'POST', '/_matrix/client/v3/keys/upload', {
      device_keys: deviceKeys(device, key),
    });
    const id = newIdentity();
    await call(a, device, 'POST', '/_matrix/client/v3/keys/device_signing/upload', {
      ...signingKeysBody(alice, id),
    });
    const selfId = `ed25519:${id.selfSigning.publicKeyBase64}`;
    const masterSigned = sign(
      crossSigningKey(alice, 'master', id.master),
      alice.userId,
      'ed25519:SIGNED',
      key,
    );
    const failures = await call(a, device, 'POST', '/_matrix/client/v3/keys/signatures/upload', {
      [alice.userId]: {
        SIGNED: sign(deviceKeys(device, key), alice.userId, selfId, id.selfSigning),
        [id.master.publicKeyBase64]: masterSigned,
      },
    });
    expect(failures).toEqual({});
    const signedDevice = () =>
      edusOf('m.device_list_update')
        .map((edu) => edu['content'] as Json)
        .find(
          (content) =>
            content['device_id'] === 'SIGNED' &&
            content['keys']?.['signatures']?.[alice.userId]?.[selfId] !== undefined,
        );
    const signedMaster = () =>
      edusOf('m.signing_key_update')
        .map((edu) => edu['content'] as Json)
        .find(
          (content) =>
            content['master_key']?.['signatures']?.[alice.userId]?.['ed25519:SIGNED'] !== undefined,
        );
    await waitFor('the signed device and master key', () => !!signedDevice() && !!signedMaster());
    expect(
      verifyJson(signedDevice()?.['keys'], alice.userId, selfId, id.selfSigning.publicKey).valid,
    ).toBe(true);
    expect(
      verifyJson(signedMaster()?.['master_key'], alice.userId, 'ed25519:SIGNED', key.publicKey)
        .valid,
    ).toBe(true);
  });

  it('gives outbound to-device messages of different users distinct message IDs', async () => {
    const a = federation.server('a.test');
    const first = await loginDevice(a, (await a.client.registerUser('dora')).userId, 'SAMEDEV');
    const second = await loginDevice(a, (await a.client.registerUser('eric')).userId, 'SAMEDEV');
    const before = edusOf('m.direct_to_device').length;
    for (const user of [first, second]) {
      await call(a, user, 'PUT', '/_matrix/client/v3/sendToDevice/m.test.ping/same-txn', {
        messages: { '@mallory:m.test': { PHONE: { from: user.userId } } },
      });
    }
    await waitFor(
      'two m.direct_to_device',
      () => edusOf('m.direct_to_device').length >= before + 2,
    );
    const sent = edusOf('m.direct_to_device')
      .slice(before)
      .map((edu) => edu['content'] as Json);
    expect(sent.map((content) => content['sender']).sort()).toEqual(
      [first.userId, second.userId].sort(),
    );
    const ids = sent.map((content) => content['message_id']);
    expect(typeof ids[0]).toBe('string');
    expect(ids[0]).not.toBe(ids[1]);
  });
});

function bodies(): string[] {
  return peer.received.flatMap((txn) =>
    txn.pdus.flatMap((pdu) => {
      const body = (pdu['content'] as Json | undefined)?.['body'];
      return typeof body === 'string' ? [body] : [];
    }),
  );
}

describe('filling gaps (fetch-missing.ts)', () => {
  it('fetches a missing prev event with get_missing_events before accepting the event', async () => {
    const facts = await roomFacts();
    const auth = [facts.create, facts.powerLevels, facts.member ?? ''];
    const base = {
      auth_events: auth,
      room_id: roomId,
      sender: '@mallory:m.test',
      type: 'm.room.message',
    };
    const first = peer.sign(
      {
        ...base,
        content: { msgtype: 'm.text', body: 'gap 1' },
        depth: facts.depth + 1,
        origin_server_ts: Date.now(),
        prev_events: facts.extremities,
      },
      ROOM_VERSION,
    );
    const second = peer.sign(
      {
        ...base,
        content: { msgtype: 'm.text', body: 'gap 2' },
        depth: facts.depth + 2,
        origin_server_ts: Date.now(),
        prev_events: [first.eventId],
      },
      ROOM_VERSION,
    );
    peer.missing.splice(0, peer.missing.length, first.pdu);
    // Only the second is sent: A must ask for the first.
    const response = (await peer.send('a.test', 'gap-1', [second.pdu])) as Json;
    expect(response['pdus'][second.eventId]).toEqual({});
    expect(peer.missingRequests.at(-1)?.['latest_events']).toEqual([second.eventId]);
    expect(peer.missingRequests.at(-1)?.['earliest_events']).toEqual(facts.extremities);
    const firstRow = await storedRow(first.eventId);
    const secondRow = await storedRow(second.eventId);
    expect(firstRow?.stream_position).not.toBeNull();
    expect(Number(secondRow?.stream_position)).toBeGreaterThan(Number(firstRow?.stream_position));
    expect((await roomFacts()).extremities).toEqual([second.eventId]);
    peer.missing.splice(0);
  });
});

// Runs last: mallory is banned here, so A stops sending to the peer.
