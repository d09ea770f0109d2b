/**
 * Where a room's DAG stands on a test server, for a test peer that builds and signs its own next
 * PDU: the forward extremities (its `prev_events`), the room's max depth, and the current state
 * event IDs an ordinary event of a (possibly not yet joined) member cites as `auth_events`.
 */
import { stateKeyOf } from '@weft/dag';

import type { TestServer } from './harness.ts';

export interface RoomTip {
  create: string;
  powerLevels: string;
  joinRules: string;
  /** The member's own `m.room.member` event, if they have one. */
  member: string | undefined;
  /** The room's forward extremities. */
  extremities: string[];
  /** The room's `max_depth` (0 if unknown). */
  depth: number;
}

/** The room's forward extremities on `server`. */
export async function forwardExtremities(server: TestServer, roomId: string): Promise<string[]> {
  const rows = await server.services.ctx.db.query<{ event_id: string }>(
    'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
    [roomId],
  );
  return rows.map((row) => row.event_id);
}

/** The room's `max_depth` on `server` (0 if unknown). */
export async function maxDepth(server: TestServer, roomId: string): Promise<number> {
  const room = await server.services.ctx.db.queryOne<{ max_depth: number }>(
    'SELECT max_depth FROM rooms WHERE room_id = $1',
    [roomId],
  );
  return Number(room?.max_depth ?? 0);
}

/** The room as `server` sees it, to build `member`'s next event on top of. */
export async function roomTip(
  server: TestServer,
  roomId: string,
  member: string,
): Promise<RoomTip> {
  const state = await server.services.rooms.currentState(roomId);
  const get = (type: string, key = ''): string | undefined => {
    const wanted = stateKeyOf(type, key);
    for (const [k, id] of state) if (k === wanted) return id;
    return undefined;
  };
  return {
    create: get('m.room.create') ?? '',
    powerLevels: get('m.room.power_levels') ?? '',
    joinRules: get('m.room.join_rules') ?? '',
    member: get('m.room.member', member),
    extremities: await forwardExtremities(server, roomId),
    depth: await maxDepth(server, roomId),
  };
}

/** The `auth_events` of the member's ordinary event: create, power levels, and their membership
 * (the join rules while they have none). */
export function tipAuthEvents(tip: RoomTip): string[] {
  return [tip.create, tip.powerLevels, tip.member ?? tip.joinRules];
}
