/**
 * The fixed membership story the simulation tests replay under each policy: 4 users, 6 devices;
 * invites, joins, a kick, a kick with the rekey option, a ban, a voluntary leave, a rejoin, two
 * devices added after their user joined and one removed.
 */
import type { SimEvent } from './oracle.ts';

const alice = '@alice:weft.test';
const bob = '@bob:weft.test';
const carol = '@carol:weft.test';
const dave = '@dave:weft.test';

/** Steps are referred to by label in the assertions. */
export const STORY: ReadonlyArray<readonly [label: string, event: SimEvent]> = [
  ['alice joins', { kind: 'member', user: alice, membership: 'join' }],
  ['a1 listed', { kind: 'add-device', device: 'a1' }],
  ['a2 listed', { kind: 'add-device', device: 'a2' }],
  ['bob invited', { kind: 'member', user: bob, membership: 'invite' }],
  ['b1 listed', { kind: 'add-device', device: 'b1' }],
  ['bob joins', { kind: 'member', user: bob, membership: 'join' }],
  ['m1 a1', { kind: 'send', device: 'a1' }],
  ['m2 b1', { kind: 'send', device: 'b1' }],
  ['carol invited', { kind: 'member', user: carol, membership: 'invite' }],
  ['c1 listed', { kind: 'add-device', device: 'c1' }],
  ['m3 a1', { kind: 'send', device: 'a1' }],
  ['carol joins', { kind: 'member', user: carol, membership: 'join' }],
  ['m4 c1', { kind: 'send', device: 'c1' }],
  ['bob kicked', { kind: 'member', user: bob, membership: 'leave' }],
  ['m5 a1', { kind: 'send', device: 'a1' }],
  ['m6 c1', { kind: 'send', device: 'c1' }],
  ['c2 added', { kind: 'add-device', device: 'c2' }],
  ['m7 a2', { kind: 'send', device: 'a2' }],
  ['a2 removed', { kind: 'remove-device', device: 'a2' }],
  ['m8 a1', { kind: 'send', device: 'a1' }],
  ['dave invited', { kind: 'member', user: dave, membership: 'invite' }],
  ['d1 listed', { kind: 'add-device', device: 'd1' }],
  ['dave joins', { kind: 'member', user: dave, membership: 'join' }],
  ['m9 d1', { kind: 'send', device: 'd1' }],
  ['bob invited again', { kind: 'member', user: bob, membership: 'invite' }],
  ['bob rejoins', { kind: 'member', user: bob, membership: 'join' }],
  ['a1 shares keys', { kind: 'share', device: 'a1' }],
  ['m10 c2', { kind: 'send', device: 'c2' }],
  ['dave kicked with rekey', { kind: 'member', user: dave, membership: 'leave', rekey: true }],
  ['m11 a1', { kind: 'send', device: 'a1' }],
  ['dave banned', { kind: 'member', user: dave, membership: 'ban' }],
  ['m12 b1', { kind: 'send', device: 'b1' }],
  ['carol leaves', { kind: 'member', user: carol, membership: 'leave' }],
  ['m13 a1', { kind: 'send', device: 'a1' }],
];

/** The step index of a label. */
export function stepOf(label: string): number {
  const index = STORY.findIndex(([l]) => l === label);
  if (index < 0) throw new Error(`no step ${label}`);
  return index;
}
