/**
 * The joining server's checks of a `send_join` answer (services/federation/membership/
 * verify-room-state.ts, verify-received.ts): a real answer from a.test is tampered with the way
 * a lying resident server would, and b.test's verification must drop or redact exactly the
 * tampered events.
 */

import { type RoomVersionRules, roomVersionRules, stateKeyOf } from '@weft/dag';
import { computeEventId, generateSigningKey, type KeyLookup, signEvent } from '@weft/signing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { federationDepsOf } from '../src/services/federation/membership/core-adapter.ts';
import { verifyRoomState } from '../src/services/federation/membership/verify-room-state.ts';
import { startFederation, type TestFederation } from './federation-harness.ts';
import type { TestServer } from './harness.ts';
import { createRoom, type Json, type TestUser } from './sync-helpers.ts';

let federation: TestFederation;
let a: TestServer;
let b: TestServer;
let alice: TestUser;
let answer: { state: Json[]; auth_chain: Json[] };
let rules: RoomVersionRules;
let lookup: KeyLookup;

beforeAll(async () => {
  federation = await startFederation(['a.test', 'b.test']);
  a = federation.server('a.test');
  b = federation.server('b.test');
  alice = await a.client.registerUser('alice');
  const roomId = await createRoom(a, alice, [], { preset: 'public_chat', topic: 'honest topic' });
  const client = b.services.federation.client;
  const template = await client.request<Json>(
    'a.test',
    'GET',
    `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent('@bob:b.test')}?ver=10&ver=11&ver=12`,
  );
  const version = template['room_version'] as string;
  rules = roomVersionRules(version) as RoomVersionRules;
  const signed = signEvent(
    { ...template['event'], origin: 'b.test', origin_server_ts: Date.now() },
    version,
    'b.test',
    b.services.ctx.signingKey,
  );
  answer = await client.request(
    'a.test',
    'PUT',
    `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(computeEventId(signed, version))}`,
    signed,
  );
  lookup = await federationDepsOf(b.services.federation).keys([
    ...answer.state,
    ...answer.auth_chain,
  ]);
}, 60_000);

afterAll(async () => {
  await federation?.close();
});

const ofType = (events: Json[], type: string): Json => {
  const found = events.find((e) => e['type'] === type);
  if (found === undefined) throw new Error(`no ${type}`);
  return found;
};

describe('verifyRoomState', () => {
  it('accepts the honest answer whole', () => {
    const verified = verifyRoomState(answer.state, answer.auth_chain, rules, lookup);
    expect(verified.rejected).toBe(0);
    expect(verified.state.size).toBe(answer.state.length);
  });

  it('uses the redacted copy of an event whose content was changed (hash mismatch)', () => {
    const topic = ofType(answer.state, 'm.room.topic');
    const changed = { ...topic, content: { topic: 'forged topic' } };
    const state = answer.state.map((e) => (e === topic ? changed : e));
    const verified = verifyRoomState(state, answer.auth_chain, rules, lookup);
    const id = verified.state.get(stateKeyOf('m.room.topic', ''));
    expect(id).toBeDefined();
    // Redaction strips a topic's content: the forged text is never used.
    expect(verified.events.get(id as string)?.pdu['content']).toEqual({});
  });

  it('drops an event signed by a key the sender’s server does not have', () => {
    const power = ofType(answer.state, 'm.room.power_levels');
    const { signatures: _s, hashes: _h, ...unsigned } = power;
    const forged = signEvent(
      { ...unsigned, content: { ...power['content'], users: { '@mallory:b.test': 100 } } },
      rules.id,
      'a.test',
      generateSigningKey('forged'),
    );
    const state = answer.state.map((e) => (e === power ? forged : e));
    const verified = verifyRoomState(state, answer.auth_chain, rules, lookup);
    expect(verified.rejected).toBeGreaterThan(0);
    // The forged power levels are not in the state (the honest ones are, from the auth chain).
    const kept = verified.state.get(stateKeyOf('m.room.power_levels', ''));
    expect(kept).not.toBe(computeEventId(forged, rules.id));
  });

  it('drops a correctly signed event the auth rules refuse (sender not in the room)', () => {
    // b.test validly signs a join rules change by a user of its own who is not in the room.
    const create = ofType(answer.state, 'm.room.create');
    const joinRules = ofType(answer.state, 'm.room.join_rules');
    const power = ofType(answer.state, 'm.room.power_levels');
    const id = (e: Json) => computeEventId(e, rules.id);
    const fakeRules = signEvent(
      {
        // v12 events never cite the create event (the room ID names it).
        auth_events: rules.authorization.roomCreateEventIdAsRoomId
          ? [id(power)]
          : [id(create), id(power)],
        content: { join_rule: 'invite' },
        depth: 99,
        origin_server_ts: Date.now(),
        prev_events: [id(joinRules)],
        room_id: joinRules['room_id'],
        sender: '@mallory:b.test',
        state_key: '',
        type: 'm.room.join_rules',
      },
      rules.id,
      'b.test',
      b.services.ctx.signingKey,
    );
    const state = answer.state.map((e) => (e === joinRules ? fakeRules : e));
    const bLookup: KeyLookup = (entity, keyId, ts) =>
      entity === 'b.test' && keyId === b.services.ctx.signingKey.keyId
        ? b.services.ctx.signingKey.publicKeyBase64
        : lookup(entity, keyId, ts);
    const verified = verifyRoomState(state, answer.auth_chain, rules, bLookup);
    expect(verified.events.has(id(fakeRules))).toBe(false);
    expect(verified.state.get(stateKeyOf('m.room.join_rules', ''))).not.toBe(id(fakeRules));
  });

  it('refuses an answer without a create event', () => {
    const noCreate = (events: Json[]) => events.filter((e) => e['type'] !== 'm.room.create');
    expect(() =>
      verifyRoomState(noCreate(answer.state), noCreate(answer.auth_chain), rules, lookup),
    ).toThrow(/create event/);
  });
});
