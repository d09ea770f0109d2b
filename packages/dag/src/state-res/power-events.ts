/**
 * Power events (spec rooms/fragments/v2-state-res.md "Power events"): the state events that might
 * take someone's ability to do something away, which state resolution orders first.
 */
import type { DagEvent } from '../event.ts';

/**
 * True when `event` is a *power event*: a state event of type `m.room.power_levels` or
 * `m.room.join_rules`, or an `m.room.member` state event with membership `leave` or `ban` whose
 * `sender` is not its `state_key` (a kick or a ban, not a user leaving).
 */
export function isPowerEvent(event: DagEvent): boolean {
  if (typeof event.state_key !== 'string') return false;
  switch (event.type) {
    case 'm.room.power_levels':
    case 'm.room.join_rules':
      return true;
    case 'm.room.member': {
      const membership = event.content['membership'];
      return (membership === 'leave' || membership === 'ban') && event.sender !== event.state_key;
    }
    default:
      return false;
  }
}
