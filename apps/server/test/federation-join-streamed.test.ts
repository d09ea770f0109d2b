/**
 * A join whose send_join answer is read and checked as it arrives (membership/remote-join.ts,
 * send-join-body.ts, pdu-feed.ts, verify-parallel.ts `verifyStreamedRoomState`), against a
 * hand-written resident server `r.test` over real TLS: a room of 2,100 members (big enough
 * for the worker threads and the early outlier rows) whose answer comes in pieces with pauses
 * between them. Served whole, B joins with every member; broken off after the state's PDUs,
 * or with garbage after them, the join fails with 502 and B keeps no row of the room (the
 * rows stored during the check are removed).
 */
import { createServer as createHttpsServer } from 'node:https';

import { serve } from '@hono/node-server';
import { buildServerKeys, computeEventId, generateSigningKey, signEvent } from '@weft/signing';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startFederationWithPeer, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { call, type TestUser } from './sync-helpers.ts';

const VERSION = '10';
const MEMBERS = 2_100;
const ROOM = '!big:r.test';

/** How the resident answers the next send_join. */
type Mode = 'whole' | 'broken' | 'garbage';

interface Resident {
  mode: Mode;
  close(): void;
}

let federation: TestFederation;
let resident: Resident;
let b: TestServer;
let bob: TestUser;

/** The room's PDUs, signed by r.test: create, creator, power levels, public join rule, members. */
function buildRoom(key: ReturnType<typeof generateSigningKey>) {
  const creator = '@creator:r.test';
  let depth = 0;
  let prev: string[] = [];
  const sign = (fields: Record<string, unknown>, auth: string[]) => {
    depth++;
    const pdu = signEvent(
      {
        ...fields,
        room_id: ROOM,
        auth_events: auth,
        prev_events: prev,
        depth,
        origin: 'r.test',
        origin_server_ts: 1_700_000_000_000 + depth,
      },
      VERSION,
      'r.test',
      key,
    );
    const id = computeEventId(pdu, VERSION);
    prev = [id];
    return { pdu, id };
  };
  const create = sign(
    {
      type: 'm.room.create',
      state_key: '',
      sender: creator,
      content: { room_version: VERSION, creator },
    },
    [],
  );
  const join = (user: string, auth: string[]) =>
    sign(
      { type: 'm.room.member', state_key: user, sender: user, content: { membership: 'join' } },
      auth,
    );
  const creatorJoin = join(creator, [create.id]);
  const power = sign(
    {
      type: 'm.room.power_levels',
      state_key: '',
      sender: creator,
      content: { users: { [creator]: 100 } },
    },
    [create.id, creatorJoin.id],
  );
  const rule = sign(
    { type: 'm.room.join_rules', state_key: '', sender: creator, content: { join_rule: 'public' } },
    [create.id, creatorJoin.id, power.id],
  );
  const state = [create, creatorJoin, power, rule];
  for (let i = 0; i < MEMBERS; i++)
    state.push(join(`@m${i}:r.test`, [create.id, power.id, rule.id]));
  return { state, auth: [create.id, power.id, rule.id], prev: prev[0] as string, depth };
}

async function startResident(
  name: string,
  port: number,
  _ca: unknown,
  cert: { cert: string; key: string },
): Promise<Resident> {
  const key = generateSigningKey();
  const room = buildRoom(key);
  const resident: Resident = { mode: 'whole', close: () => undefined };
  const app = new Hono();
  app.get('/_matrix/key/v2/server', (c) =>
    c.json(
      buildServerKeys({
        serverName: name,
        signingKeys: [key],
        validUntilTs: Date.now() + 3_600_000,
      }),
    ),
  );
  app.get('/_matrix/federation/v1/make_join/:roomId/:userId', (c) =>
    c.json({
      room_version: VERSION,
      event: {
        type: 'm.room.member',
        state_key: c.req.param('userId'),
        sender: c.req.param('userId'),
        room_id: ROOM,
        content: { membership: 'join' },
        auth_events: room.auth,
        prev_events: [room.prev],
        depth: room.depth + 1,
        origin_server_ts: Date.now(),
      },
    }),
  );
  app.put('/_matrix/federation/v2/send_join/:roomId/:eventId', async (c) => {
    const event = await c.req.json();
    const texts = room.state.map(({ pdu }) => JSON.stringify(pdu));
    const pieces: string[] = [`{"origin":"r.test","event":${JSON.stringify(event)},"state":[`];
    // The state in pieces of 300 PDUs, each cut in the middle of a PDU.
    for (let at = 0; at < texts.length; at += 300) {
      const part = (at === 0 ? '' : ',') + texts.slice(at, at + 300).join(',');
      pieces.push(part.slice(0, part.length - 50), part.slice(part.length - 50));
    }
    const mode = resident.mode;
    if (mode === 'whole') pieces.push(`],"auth_chain":[],"members_omitted":false}`);
    if (mode === 'garbage') pieces.push(`],"auth_chain":[}}`);
    const encoder = new TextEncoder();
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // A pause between pieces: the joining server gets each before the next is written.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const piece = pieces[next++];
        if (piece !== undefined) controller.enqueue(encoder.encode(piece));
        else if (mode === 'broken') controller.error(new Error('resident gave up'));
        else controller.close();
      },
    });
    return new Response(body, { headers: { 'Content-Type': 'application/json' } });
  });
  await new Promise<void>((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        hostname: '127.0.0.1',
        port,
        createServer: createHttpsServer,
        serverOptions: { cert: cert.cert, key: cert.key },
      },
      () => resolve(),
    );
    server.once('error', reject);
    resident.close = () => {
      server.close();
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    };
  });
  return resident;
}

beforeAll(async () => {
  ({ federation, peer: resident } = await startFederationWithPeer(
    ['b.test'],
    'r.test',
    startResident,
  ));
  b = federation.server('b.test');
  bob = await b.client.registerUser('bob');
}, 120_000);

afterAll(async () => {
  resident?.close();
  await federation?.close();
});

const rowsOfRoom = async (): Promise<number> => {
  const row = await b.services.ctx.db.queryOne<{ n: number }>(
    'SELECT COUNT(*) AS n FROM events WHERE room_id = $1',
    [ROOM],
  );
  return Number(row?.n ?? 0);
};

const joinPath = `/_matrix/client/v3/join/${encodeURIComponent(ROOM)}?server_name=r.test`;

describe('a send_join answer read as it arrives', () => {
  it('fails the join with 502 and keeps no row when the answer breaks off', async () => {
    resident.mode = 'broken';
    const refused = await call(b, bob, 'POST', joinPath, {}, 502);
    expect(refused['errcode']).toBe('M_UNKNOWN');
    expect(await rowsOfRoom()).toBe(0);
  }, 120_000);

  it('fails the join with 502 and keeps no row when the answer turns to garbage', async () => {
    resident.mode = 'garbage';
    await call(b, bob, 'POST', joinPath, {}, 502);
    expect(await rowsOfRoom()).toBe(0);
  }, 120_000);

  it('joins with every member when the answer comes whole, in pieces', async () => {
    resident.mode = 'whole';
    await call(b, bob, 'POST', joinPath, {});
    const members = await b.services.ctx.db.queryOne<{ n: number }>(
      "SELECT COUNT(*) AS n FROM room_memberships WHERE room_id = $1 AND membership = 'join'",
      [ROOM],
    );
    // The creator, the 2,100 members and bob.
    expect(Number(members?.n)).toBe(MEMBERS + 2);
    expect(await rowsOfRoom()).toBe(MEMBERS + 5);
  }, 120_000);
});
