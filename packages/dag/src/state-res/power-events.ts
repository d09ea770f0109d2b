/**
 * Power events (spec rooms/fragments/v2-state-res.md "Power events"): the state events that might
 * take someone's ability to do something away, which state resolution orders first.
 */
import type { DagEvent } from '../event.ts';

/**
 * True when `event` is a *power event*: the room's power levels or join rules (type
 * `m.room.power_levels` or `m.room.join_rules` with state key `""`), the create event, or an
 * `m.room.member` state event with membership `leave` or `ban` whose `sender` is not its
 * `state_key` (a kick or a ban, not a user leaving).
 *
 * The state key `""` and the create event follow Synapse (`_is_power_event` in
 * synapse/state/v2.py) and Ruma (`is_power_event` in ruma-state-res), which agree: a power-levels
 * or join-rules event with another state key is not the room's and is ordered by mainline like
 * any other state, so resolving it the spec-text way (by type alone) would split from them.
 */
export function isPowerEvent(event: DagEvent): boolean {
  if (typeof event.state_key !== 'string') return false;
  switch (event.type) {
    case 'm.room.create':
    case 'm.room.power_levels':
    case 'm.room.join_rules':
      return event.state_key === '';
    case 'm.room.member': {
      const membership = event.content['membership'];
      return (membership === 'leave' || membership === 'ban') && event.sender !== event.state_key;
    }
    default:
      return false;
  }
}
