/**
 * Two small pure helpers behind bigger paths: `joinedStretches` (push/notification-list.ts: the
 * positions a user was joined between, whose shared push rows are theirs) and `destinationsOf`
 * (federation/sender/destinations.ts: the servers an event goes to).
 */
import { describe, expect, it } from 'vitest';

import { destinationsOf } from '../src/services/federation/sender/destinations.ts';
import { joinedStretches } from '../src/services/push/notification-list.ts';

describe('joinedStretches', () => {
  it('opens at a join (its position in it), ends before the next non-join; a join continues it', () => {
    expect(
      joinedStretches([
        { position: 1, membership: 'join' },
        // A display-name change is a join after a join: the same stretch.
        { position: 3, membership: 'join' },
        { position: 5, membership: 'leave' },
        { position: 6, membership: 'invite' },
        { position: 8, membership: 'join' },
      ]),
    ).toEqual([
      { after: 0, before: 5 },
      { after: 7, before: Number.MAX_SAFE_INTEGER },
    ]);
  });

  it('has no stretch without a join', () => {
    expect(joinedStretches([])).toEqual([]);
    expect(
      joinedStretches([
        { position: 2, membership: 'invite' },
        { position: 4, membership: 'leave' },
      ]),
    ).toEqual([]);
  });
});

describe('destinationsOf', () => {
  it('is the members’ servers plus the extra ones, without this server, sorted and unique', () => {
    expect(
      destinationsOf(
        ['@a:self.test', '@b:z.test', '@c:b.test', '@d:z.test', '@e:host.test:8448'],
        'self.test',
        ['a.test', 'b.test', 'self.test'],
      ),
    ).toEqual(['a.test', 'b.test', 'host.test:8448', 'z.test']);
    expect(destinationsOf(['@a:self.test'], 'self.test')).toEqual([]);
  });
});
