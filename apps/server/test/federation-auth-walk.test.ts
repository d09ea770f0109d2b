/**
 * The authorization walk run while a send_join answer is checked (verify-room-state.ts
 * `AuthWalk`): whatever order the checked events come in, the verdicts it reaches, handed to
 * `acceptByAuthRules`, give exactly the result of the walk over the whole answer at the end —
 * events refused by the rules, events citing them, events citing an event that never came.
 * Real signed PDUs, the real authorization rules.
 */
import { type RoomVersionRules, roomVersionRules } from '@weft/dag';
import { computeEventId, generateSigningKey, type JsonObject, signEvent } from '@weft/signing';
import { describe, expect, it } from 'vitest';
import type { VerifiedPdu } from '../src/services/federation/membership/verify-pdu.ts';
import {
  AuthWalk,
  acceptByAuthRules,
} from '../src/services/federation/membership/verify-room-state.ts';

const key = generateSigningKey();
const server = 'c.test';
const creator = `@creator:${server}`;

/** A room's events as the check hands them on (signed, with their IDs). */
function roomEvents(version: string, members: number, chain: number): VerifiedPdu[] {
  const rules = roomVersionRules(version) as RoomVersionRules;
  const v12 = rules.authorization.roomCreateEventIdAsRoomId;
  const out: VerifiedPdu[] = [];
  let roomId = '!room:c.test';
  let depth = 0;
  const add = (fields: Record<string, unknown>, auth: readonly string[]): string => {
    depth++;
    const draft: Record<string, unknown> = {
      ...fields,
      auth_events: auth,
      prev_events: out.length === 0 ? [] : [(out.at(-1) as VerifiedPdu).eventId],
      depth,
      origin: server,
      origin_server_ts: depth,
    };
    // A v12 create event has no room ID: the room ID is made from its event ID.
    if (!(v12 && fields['type'] === 'm.room.create')) draft['room_id'] = roomId;
    const pdu = signEvent(draft, version, server, key);
    const eventId = computeEventId(pdu as JsonObject, version);
    out.push({
      eventId,
      pdu,
      dag: { ...(pdu as unknown as VerifiedPdu['dag']), event_id: eventId },
    });
    return eventId;
  };
  const create = add(
    {
      type: 'm.room.create',
      state_key: '',
      sender: creator,
      content: v12 ? { room_version: version } : { creator, room_version: version },
    },
    [],
  );
  if (v12) roomId = `!${create.slice(1)}`;
  // v12 events never cite the create event: it comes by the room ID.
  const withCreate = (ids: string[]) => (v12 ? ids : [create, ...ids]);
  // v12 creators hold unlimited power and may not be listed in `users`.
  const users = v12 ? {} : { [creator]: 100 };
  const join = add(
    { type: 'm.room.member', state_key: creator, sender: creator, content: { membership: 'join' } },
    withCreate([]),
  );
  let power = add(
    {
      type: 'm.room.power_levels',
      state_key: '',
      sender: creator,
      content: { users },
    },
    withCreate([join]),
  );
  // A chain of power level changes, each citing the one before: verdicts cascade down it.
  for (let i = 0; i < chain; i++) {
    power = add(
      {
        type: 'm.room.power_levels',
        state_key: '',
        sender: creator,
        content: { users, state_default: 50 + (i % 2) },
      },
      withCreate([join, power]),
    );
  }
  const open = add(
    { type: 'm.room.join_rules', state_key: '', sender: creator, content: { join_rule: 'public' } },
    withCreate([join, power]),
  );
  const invite = add(
    { type: 'm.room.join_rules', state_key: '', sender: creator, content: { join_rule: 'invite' } },
    withCreate([join, power]),
  );
  for (let i = 0; i < members; i++) {
    const user = `@m${i}:${server}`;
    add(
      { type: 'm.room.member', state_key: user, sender: user, content: { membership: 'join' } },
      withCreate([power, open]),
    );
  }
  // Refused: a join against the invite-only rule; then an event citing it.
  const refused = add(
    {
      type: 'm.room.member',
      state_key: '@refused:c.test',
      sender: '@refused:c.test',
      content: { membership: 'join' },
    },
    withCreate([power, invite]),
  );
  add(
    { type: 'm.room.topic', state_key: '', sender: '@refused:c.test', content: { topic: 'x' } },
    withCreate([power, refused]),
  );
  // Cites a member event that never comes.
  add(
    {
      type: 'm.room.topic',
      state_key: '',
      sender: creator,
      content: { topic: 'y' },
    },
    withCreate([power, '$never-sent']),
  );
  return out;
}

/** A reproducible shuffle (xorshift), so a failure can be replayed. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

function byId(events: readonly VerifiedPdu[]): Map<string, VerifiedPdu> {
  return new Map(events.map((event) => [event.eventId, event]));
}

/** Feeds `order` to a walk in chunks of `chunk`; returns its verdicts. */
function walkIn(
  order: readonly VerifiedPdu[],
  rules: RoomVersionRules,
  chunk: number,
): ReadonlyMap<string, boolean> | undefined {
  const walk = new AuthWalk(rules);
  for (let at = 0; at < order.length; at += chunk) walk.add(order.slice(at, at + chunk));
  return walk.verdicts();
}

describe('AuthWalk', () => {
  for (const version of ['10', '11', '12']) {
    it(`gives acceptByAuthRules' result in any arrival order (room version ${version})`, () => {
      const rules = roomVersionRules(version) as RoomVersionRules;
      const events = roomEvents(version, 300, 200);
      const received = byId(events);
      const stateIds = events.map((event) => event.eventId);
      const whole = acceptByAuthRules(received, stateIds, 0, rules);
      // The room's own events pass; the refused join, the event citing it and the one citing
      // an event that never came do not.
      expect(whole.rejected).toBe(3);
      expect(whole.events.size).toBe(events.length - 3);
      const orders = [events, [...events].reverse(), shuffled(events, 7), shuffled(events, 99)];
      for (const order of orders) {
        for (const chunk of [1, 64, 256]) {
          const verdicts = walkIn(order, rules, chunk);
          // Everything is decided but the event whose auth event never came.
          expect(verdicts?.size).toBe(events.length - 1);
          const seeded = acceptByAuthRules(received, stateIds, 0, rules, verdicts);
          expect(seeded.rejected).toBe(whole.rejected);
          expect([...seeded.events.keys()]).toEqual([...whole.events.keys()]);
          expect(new Map(seeded.state)).toEqual(new Map(whole.state));
        }
      }
    });
  }

  it('decides a long chain that arrives newest first without recursing', () => {
    const rules = roomVersionRules('10') as RoomVersionRules;
    const events = roomEvents('10', 0, 12_000);
    const verdicts = walkIn([...events].reverse(), rules, 256);
    expect(verdicts?.size).toBe(events.length - 1);
    expect([...(verdicts?.values() ?? [])].filter((ok) => ok).length).toBe(events.length - 3);
  });

  it('keeps no verdict when an event comes in two different copies', () => {
    const rules = roomVersionRules('10') as RoomVersionRules;
    const events = roomEvents('10', 10, 0);
    const member = events.find((event) => event.dag.state_key === '@m3:c.test') as VerifiedPdu;
    const copy: VerifiedPdu = {
      ...member,
      pdu: { ...member.pdu, unsigned: { age: 1 } },
      dag: { ...member.dag },
    };
    const walk = new AuthWalk(rules);
    walk.add(events);
    expect(walk.verdicts()?.size).toBe(events.length - 1);
    walk.add([copy]);
    expect(walk.verdicts()).toBeUndefined();
  });
});
