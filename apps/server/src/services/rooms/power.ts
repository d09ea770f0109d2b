/**
 * Power level questions endpoints ask before acting outside the event graph (alias deletion,
 * directory listing, redaction of others' events), answered by @weft/dag's `powerLevelOf` and
 * `requiredPowerLevel` over the current state, so the server has one notion of power.
 */
import { type DagEvent, powerLevelOf, requiredPowerLevel, stateKeyOf } from '@weft/dag';

import { toDagEvent } from './auth.ts';
import type { RoomService } from './service.ts';
import { rulesOf } from './service.ts';

export interface SenderPower {
  /** The user's power level. */
  readonly sender: number;
  /** Whether the user is joined. */
  readonly joined: boolean;
  /** The level needed to send an event of `type`. */
  required(type: string, isState: boolean): number;
  /** A named level of `m.room.power_levels` (`redact`, `ban`, …) with the spec default. */
  named(name: 'redact' | 'ban' | 'kick' | 'invite'): number;
}

const DEFAULTS = { redact: 50, ban: 50, kick: 50, invite: 0 } as const;

export async function senderPowerLevelOf(
  rooms: RoomService,
  roomId: string,
  userId: string,
): Promise<SenderPower> {
  const state = new Map<string, DagEvent>();
  for (const [type, key] of [
    ['m.room.create', ''],
    ['m.room.power_levels', ''],
    ['m.room.member', userId],
  ] as const) {
    const event = await rooms.currentStateEvent(roomId, type, key);
    if (event !== undefined) state.set(stateKeyOf(type, key), toDagEvent(event));
  }
  const version = (await rooms.roomVersion(roomId)) ?? '11';
  const rules = rulesOf(version);
  const powerContent = state.get(stateKeyOf('m.room.power_levels', ''))?.content;
  const member = state.get(stateKeyOf('m.room.member', userId));
  return {
    sender: powerLevelOf(userId, state, rules),
    joined: member?.content['membership'] === 'join',
    required: (type, isState) => requiredPowerLevel(type, isState, state),
    named: (name) => {
      const value = powerContent?.[name];
      return typeof value === 'number' ? value : DEFAULTS[name];
    },
  };
}
