/**
 * One decision of whether a join is a restricted join (required-signers.ts `joinAuthorisedVia`),
 * taken alike by the three paths that need it: the receipt checks' required signers
 * (`requiredSigners`), the resident server's countersignature on `send_join`
 * (restricted-join.ts `countersignRestrictedJoin`) and the joining server's demand for that
 * countersignature in the answer (remote-join.ts `requiresAuthoriser`). A
 * `join_authorised_via_users_server` on an event whose membership is not `join`, or whose value
 * is not a user ID with a server part, makes none of them a restricted join (the joining server
 * used to demand a countersignature for any string).
 */
import { describe, expect, it } from 'vitest';

import { requiresAuthoriser } from '../src/services/federation/membership/remote-join.ts';
import { countersignRestrictedJoin } from '../src/services/federation/membership/restricted-join.ts';
import { joinAuthorisedVia, requiredSigners } from '../src/services/federation/required-signers.ts';
import type { RoomRow } from '../src/services/rooms/room-store.ts';
import { type RoomService, rulesOf } from '../src/services/rooms/service.ts';

const RESIDENT = 'a.test';

function join(membership: string, via: unknown): Record<string, unknown> {
  return {
    type: 'm.room.member',
    room_id: '!room:a.test',
    sender: '@bob:b.test',
    state_key: '@bob:b.test',
    content: { membership, join_authorised_via_users_server: via },
    signatures: { 'b.test': { 'ed25519:k': 'sig' } },
  };
}

/** The resident's services as far as a join that is not restricted reaches (none further). */
const rooms = { ctx: { config: { serverName: RESIDENT } } } as unknown as RoomService;

describe('a restricted join, decided once', () => {
  for (const version of ['10', '11', '12']) {
    const rules = rulesOf(version);
    const room = { roomVersion: version } as unknown as RoomRow;

    it(`v${version}: a join naming a user of the resident is one, on every path`, () => {
      const pdu = join('join', `@alice:${RESIDENT}`);
      expect(joinAuthorisedVia(pdu, rules)).toBe(`@alice:${RESIDENT}`);
      expect(requiredSigners(pdu, rules)).toEqual(['b.test', RESIDENT]);
      expect(requiresAuthoriser(pdu, rules)).toBe(true);
    });

    for (const [what, pdu] of [
      ['a leave naming an authoriser', join('leave', `@alice:${RESIDENT}`)],
      ['a join naming no user ID', join('join', 'alice')],
      ['a join naming a user ID without a server', join('join', '@alice:')],
      ['a join naming a non-string', join('join', 42)],
    ] as const) {
      it(`v${version}: ${what} is none, on every path`, async () => {
        expect(joinAuthorisedVia(pdu, rules)).toBeUndefined();
        expect(requiredSigners(pdu, rules)).toBeUndefined();
        expect(requiresAuthoriser(pdu, rules)).toBe(false);
        // Not countersigned: returned as it came, no signature of the resident added.
        expect(await countersignRestrictedJoin(rooms, room, pdu)).toBe(pdu);
      });
    }
  }
});
