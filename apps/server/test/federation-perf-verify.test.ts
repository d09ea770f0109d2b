/**
 * The send_join answer check spread over worker threads (membership/verify-parallel.ts) gives
 * exactly the verdicts of the in-thread check (verify-room-state.ts) on a 2,500-event room state
 * with bad events mixed in: a forged signature (dropped), a wrong content hash (kept redacted),
 * a join the auth rules refuse (an invite-only room's join without invite is dropped, and so is
 * an event citing it), an event whose signer's key is unknown, and copies of state events in the
 * auth chain. Real Ed25519 keys and signatures, real worker threads.
 */
import { computeEventId, generateSigningKey, type JsonObject, signEvent } from '@weft/signing';
import { describe, expect, it } from 'vitest';

import { verifyRoomStateParallel } from '../src/services/federation/membership/verify-parallel.ts';
import { verifyRoomState } from '../src/services/federation/membership/verify-room-state.ts';
import { rulesOf } from '../src/services/rooms/service.ts';

const rules = rulesOf('10');
const key = generateSigningKey();
const forger = generateSigningKey();
const server = 'c.test';
const room = '!room:c.test';
const creator = `@creator:${server}`;

function event(
  fields: Record<string, unknown>,
  depth: number,
  auth: string[],
  signer = key,
  origin = server,
): { pdu: Record<string, unknown>; id: string } {
  const pdu = signEvent(
    {
      ...fields,
      auth_events: auth,
      prev_events: auth.slice(0, 1),
      depth,
      origin,
      origin_server_ts: depth,
      room_id: room,
    },
    rules.id,
    origin,
    signer,
  );
  return { pdu, id: computeEventId(pdu as JsonObject, rules.id) };
}

function member(user: string, membership: string, depth: number, auth: string[]) {
  return event(
    { type: 'm.room.member', state_key: user, sender: user, content: { membership } },
    depth,
    auth,
  );
}

describe('verifyRoomStateParallel', () => {
  it('agrees with the in-thread check, verdict for verdict', async () => {
    const create = event(
      {
        type: 'm.room.create',
        state_key: '',
        sender: creator,
        content: { creator, room_version: '10' },
      },
      1,
      [],
    );
    const creatorJoin = member(creator, 'join', 2, [create.id]);
    const power = event(
      {
        type: 'm.room.power_levels',
        state_key: '',
        sender: creator,
        content: { users: { [creator]: 100 } },
      },
      3,
      [create.id, creatorJoin.id],
    );
    const publicRule = event(
      {
        type: 'm.room.join_rules',
        state_key: '',
        sender: creator,
        content: { join_rule: 'public' },
      },
      4,
      [create.id, creatorJoin.id, power.id],
    );
    const inviteRule = event(
      {
        type: 'm.room.join_rules',
        state_key: '',
        sender: creator,
        content: { join_rule: 'invite' },
      },
      5,
      [create.id, creatorJoin.id, power.id],
    );
    const chain = [create.pdu, creatorJoin.pdu, power.pdu, publicRule.pdu, inviteRule.pdu];
    const state: unknown[] = [create.pdu, creatorJoin.pdu, power.pdu, publicRule.pdu];
    for (let i = 0; i < 2_500; i++) {
      state.push(
        member(`@m${i}:${server}`, 'join', 10 + i, [create.id, power.id, publicRule.id]).pdu,
      );
    }
    // Forged: signed by another key under c.test's key ID.
    const forged = event(
      {
        type: 'm.room.member',
        state_key: '@forged:c.test',
        sender: '@forged:c.test',
        content: { membership: 'join' },
      },
      9_000,
      [create.id, power.id, publicRule.id],
      forger,
    );
    forged.pdu['signatures'] = {
      [server]: {
        [key.keyId]: Object.values(
          (forged.pdu['signatures'] as Record<string, Record<string, string>>)[server] ?? {},
        )[0],
      },
    };
    // Wrong content hash: the content changed after signing (the redacted copy stays valid).
    const tampered = member('@tampered:c.test', 'join', 9_001, [
      create.id,
      power.id,
      publicRule.id,
    ]);
    tampered.pdu['content'] = { membership: 'join', displayname: 'changed after signing' };
    // Refused by the rules: a join citing the invite-only rule without an invite.
    const refused = member('@refused:c.test', 'join', 9_002, [create.id, power.id, inviteRule.id]);
    // Cites the refused event as an auth event.
    const citing = event(
      { type: 'm.room.topic', state_key: '', sender: '@refused:c.test', content: { topic: 'x' } },
      9_003,
      [create.id, power.id, refused.id],
    );
    // Signed by a server whose key nobody knows.
    const unknown = event(
      {
        type: 'm.room.member',
        state_key: '@u:d.test',
        sender: '@u:d.test',
        content: { membership: 'join' },
      },
      9_004,
      [create.id, power.id, publicRule.id],
      generateSigningKey(),
      'd.test',
    );
    state.push(forged.pdu, tampered.pdu, refused.pdu, citing.pdu, unknown.pdu);
    const received = JSON.parse(JSON.stringify({ state, chain })) as {
      state: unknown[];
      chain: unknown[];
    };
    const lookup = (entity: string, keyId: string) =>
      entity === server && keyId === key.keyId ? key.publicKey : undefined;

    const inThread = verifyRoomState(received.state, received.chain, rules, lookup);
    const parallel = await verifyRoomStateParallel(
      received.state,
      received.chain,
      rules,
      lookup,
      2,
      'throw',
    );

    expect(parallel.rejected).toBe(inThread.rejected);
    expect(new Map(parallel.state)).toEqual(new Map(inThread.state));
    expect([...parallel.events.keys()].sort()).toEqual([...inThread.events.keys()].sort());
    for (const [id, verified] of inThread.events) {
      expect(parallel.events.get(id)?.pdu).toEqual(verified.pdu);
    }
    // The verdicts themselves: 2,500 members + 4 room events kept, the tampered join redacted.
    expect(inThread.state.size).toBe(2_505);
    expect(inThread.events.has(forged.id)).toBe(false);
    expect(inThread.events.has(refused.id)).toBe(false);
    expect(inThread.events.has(citing.id)).toBe(false);
    expect(inThread.events.has(unknown.id)).toBe(false);
    const redacted = parallel.events.get(tampered.id);
    expect(redacted?.redacted).toBe(true);
    expect(redacted?.pdu['content']).toEqual({ membership: 'join' });
  }, 120_000);
});
