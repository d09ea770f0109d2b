/** membershipChangeOf: `m.room.member` events (spec: client-server API, `m.room.member`) as plain data. */

import { EpochError, membershipChangeOf, REKEY_FIELD } from '@weft/epoch';
import { describe, expect, it } from 'vitest';

const member = (content: unknown, stateKey: unknown = '@bob:example.org') => ({
  type: 'm.room.member',
  state_key: stateKey,
  sender: '@alice:example.org',
  content,
});

describe('membershipChangeOf', () => {
  it('reads the user, the membership and the Weft rekey option', () => {
    expect(membershipChangeOf(member({ membership: 'invite' }))).toEqual({
      userId: '@bob:example.org',
      membership: 'invite',
    });
    expect(
      membershipChangeOf(member({ membership: 'leave', reason: 'spam', [REKEY_FIELD]: true })),
    ).toEqual({
      userId: '@bob:example.org',
      membership: 'leave',
      rekey: true,
    });
    // Only a literal `true` asks for a rekey.
    expect(membershipChangeOf(member({ membership: 'ban', [REKEY_FIELD]: 'yes' }))).toEqual({
      userId: '@bob:example.org',
      membership: 'ban',
    });
  });

  it('rejects anything that is not a well-formed member event', () => {
    const bad = [
      null,
      'm.room.member',
      { ...member({ membership: 'join' }), type: 'm.room.message' },
      member({ membership: 'join' }, ''),
      member({ membership: 'join' }, 42),
      member({ membership: 'joined' }),
      member(null),
      member({}),
    ];
    for (const event of bad) {
      try {
        membershipChangeOf(event);
        expect.unreachable();
      } catch (e) {
        expect(EpochError.isInstance(e) && e.code).toBe('invalid-content');
      }
    }
  });
});
