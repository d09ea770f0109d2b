/**
 * Soft failure (src/soft-fail.ts; spec server-server-api "Soft failure"): an event that passes
 * against the state before it but not against the current state is soft-failed.
 */
import { describe, expect, it } from 'vitest';

import {
  checkSoftFail,
  type DagEvent,
  ROOM_V10,
  ROOM_V11,
  ROOM_V12,
  type StateKey,
  type StateMap,
} from '../src/index.ts';
import { TestRoom } from './state-res-room.ts';

const ALICE = '@alice:example.com';
const BOB = '@bob:example.com';

function withEvents(room: TestRoom, state: StateMap): Map<StateKey, DagEvent> {
  const events = new Map<StateKey, DagEvent>();
  for (const [key, id] of state) events.set(key, room.byId.get(id) as DagEvent);
  return events;
}

describe('checkSoftFail', () => {
  for (const rules of [ROOM_V10, ROOM_V11, ROOM_V12]) {
    it(`soft-fails a banned user's message sent from before the ban (v${rules.id})`, async () => {
      const room = await TestRoom.create(rules);
      const join = await room.add({
        type: 'm.room.member',
        sender: BOB,
        state_key: BOB,
        content: { membership: 'join' },
      });
      const ban = await room.add({
        type: 'm.room.member',
        sender: ALICE,
        state_key: BOB,
        content: { membership: 'ban' },
      });
      // Bob's server builds on the state before the ban: the message passes against that state…
      const message = await room.add({
        type: 'm.room.message',
        sender: BOB,
        content: { body: 'still here' },
        prev: [join.event_id],
      });
      expect(message.rejected).toBeUndefined();
      // …but not against the room's current state, where Bob is banned.
      const current = withEvents(room, room.stateAfter(ban.event_id));
      const verdict = checkSoftFail(message, current, rules);
      expect(verdict.allowed).toBe(false);
      expect(verdict.allowed === false && verdict.reason).toBe('sender-not-joined');
      // Alice's message against the same current state is fine.
      const fine = await room.add({
        type: 'm.room.message',
        sender: ALICE,
        content: { body: 'hi' },
        prev: [ban.event_id],
      });
      expect(checkSoftFail(fine, current, rules)).toEqual({ allowed: true });
    });
  }

  it('ignores rejected events in the current state', async () => {
    const room = await TestRoom.create(ROOM_V11);
    const tip = [...room.extremities][0] as string;
    const current = withEvents(room, room.stateAfter(tip));
    const message = await room.add({ type: 'm.room.message', sender: ALICE, content: {} });
    for (const [key, event] of current) {
      if (event.type === 'm.room.member') current.set(key, { ...event, rejected: true });
    }
    expect(checkSoftFail(message, current, ROOM_V11).allowed).toBe(false);
  });

  it('rejects a current state that is not a Map', () => {
    expect(() => checkSoftFail({} as DagEvent, {} as never, ROOM_V11)).toThrow(TypeError);
  });
});
