/**
 * Membership changes from `m.room.member` events, as the plain data the engine takes.
 *
 * Spec: client-server API, `m.room.member` (the `state_key` is the user whose membership changes;
 * `content.membership` is one of `invite`, `join`, `knock`, `leave`, `ban`). Weft adds one
 * namespaced content field, `org.weft.rekey`, the rekey option offered on invite and kick.
 */
import { EpochError, typeName } from './errors.ts';
import type { Membership, MembershipChange } from './types.ts';

/** The `m.room.member` content field that asks every Weft sender to start a new session. */
export const REKEY_FIELD = 'org.weft.rekey';

const MEMBERSHIPS: readonly Membership[] = ['invite', 'join', 'knock', 'leave', 'ban'];

/**
 * Reads an `m.room.member` event (already authorised by the caller's state tracking) into a
 * {@link MembershipChange} for `RoomEncryptor.noteMembershipChange`.
 *
 * @throws EpochError `invalid-content` when the event is not a well-formed member event.
 */
export function membershipChangeOf(event: unknown): MembershipChange {
  const record = event as { type?: unknown; state_key?: unknown; content?: unknown } | null;
  if (typeof record !== 'object' || record === null || record.type !== 'm.room.member') {
    throw new EpochError('invalid-content', 'not an m.room.member event', { path: 'type' });
  }
  if (typeof record.state_key !== 'string' || !record.state_key.startsWith('@')) {
    throw new EpochError('invalid-content', 'state_key must be a user ID', {
      path: 'state_key',
      got: typeName(record.state_key),
    });
  }
  const content = record.content as Record<string, unknown> | null | undefined;
  const membership =
    typeof content === 'object' && content !== null ? content['membership'] : undefined;
  if (typeof membership !== 'string' || !(MEMBERSHIPS as readonly string[]).includes(membership)) {
    throw new EpochError('invalid-content', 'content.membership is not a known membership', {
      path: 'content.membership',
      expected: MEMBERSHIPS.join(' | '),
      got: typeof membership === 'string' ? membership : typeName(membership),
    });
  }
  const rekey = content?.[REKEY_FIELD] === true;
  return {
    userId: record.state_key,
    membership: membership as Membership,
    ...(rekey ? { rekey } : {}),
  };
}
