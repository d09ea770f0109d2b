/**
 * Storing received events in the rooms tables (the rooms service's storage, written the same way
 * its persist-event.ts writes local events), inside the caller's write transaction:
 * - accepted: a stream position (so `/sync` shows it), a state group for the state after it, new
 *   forward extremities (its prev events are no longer extremities), and current state = the
 *   resolution of the states at every forward extremity (spec server-server-api "Room State
 *   Resolution"), with `room_current_state` and `room_memberships` updated to match, and a
 *   local user's membership that resolution set otherwise than a member event at this position
 *   says recorded in `resolved_memberships` (the notification list's joined stretches, per-event
 *   history visibility);
 * - soft-failed / rejected: stored without a stream position and without touching current
 *   state or extremities (spec "Soft failure", "Rejection");
 * - outliers (auth events, fetched events): stored with `outlier = 1`, no state.
 */
import { parseAnyJson } from '@weft/canonical-json';
import {
  type DagEvent,
  parseStateKey,
  resolveState,
  type StateMap,
  stateAfterEvent,
  stateKeyOf,
} from '@weft/dag';

import { inListChunks, placeholders } from '../../../storage/in-list.ts';
import type { SqlExecutor } from '../../../storage/index.ts';
import { nextStreamPosition } from '../../core/stream.ts';
import { toDagEvent } from '../../rooms/auth.ts';
import type { RoomService } from '../../rooms/index.ts';
import { isLocalUser } from '../../rooms/local-user.ts';
import { redactPrevContentCopies } from '../../rooms/prev-content.ts';
import {
  applyEarlierRedactions,
  applyReceivedRedaction,
  redactsOfPdu,
} from '../../rooms/redaction-applies.ts';
import { JOINED_SINCE, loadRoom, recordResolvedMembership } from '../../rooms/room-store.ts';
import type { CheckedPdu } from './types.ts';

/** Events by ID in their DAG form, with `rejected` set for events stored as rejected. */
export async function loadDagEvents(
  db: SqlExecutor,
  ids: readonly string[],
): Promise<Map<string, DagEvent>> {
  const out = new Map<string, DagEvent>();
  const unique = [...new Set(ids)];
  for (const chunk of inListChunks(unique)) {
    const rows = await db.query<{ event_id: string; pdu: string; rejected: number }>(
      `SELECT event_id, pdu, rejected FROM events WHERE event_id IN (${placeholders(chunk.length)})`,
      chunk,
    );
    for (const row of rows) {
      const pdu = parseAnyJson(row.pdu) as DagEvent;
      out.set(row.event_id, {
        ...pdu,
        event_id: row.event_id,
        ...(Number(row.rejected) === 1 ? { rejected: true } : {}),
      });
    }
  }
  return out;
}

/** Whether an event is stored at all (in any form). */
export async function isStored(db: SqlExecutor, eventId: string): Promise<boolean> {
  return (
    (await db.queryOne('SELECT 1 AS one FROM events WHERE event_id = $1', [eventId])) !== undefined
  );
}

async function insertEvent(
  tx: SqlExecutor,
  checked: CheckedPdu,
  fields: {
    position: number | null;
    stateGroup: number | null;
    outlier: boolean;
    rejected: boolean;
    softFailed: boolean;
  },
): Promise<boolean> {
  const { dag } = checked;
  const inserted = await tx.execute(
    `INSERT INTO events (event_id, room_id, stream_position, depth, type, state_key, sender,
       origin_server_ts, pdu, unsigned, state_group, outlier, rejected, soft_failed, redacts)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, $10, $11, $12, $13, $14)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      checked.eventId,
      checked.roomId,
      fields.position,
      dag.depth,
      dag.type,
      dag.state_key ?? null,
      dag.sender,
      dag.origin_server_ts,
      JSON.stringify(checked.pdu),
      fields.stateGroup,
      fields.outlier ? 1 : 0,
      fields.rejected ? 1 : 0,
      fields.softFailed ? 1 : 0,
      redactsOfPdu(dag.type, checked.pdu) ?? null,
    ],
  );
  return inserted > 0;
}

/** `content.membership` of the member event `eventId`, when it has one. */
async function membershipOfEvent(
  tx: SqlExecutor,
  rooms: RoomService,
  eventId: string,
): Promise<string | undefined> {
  const member = await rooms.events.get(tx, eventId, false);
  const membership = (member?.pdu['content'] as Record<string, unknown> | undefined)?.[
    'membership'
  ];
  return typeof membership === 'string' ? membership : undefined;
}

/**
 * A local user's member event accepted at `position` that state resolution did not keep (its
 * fork lost) while the kept one was already in the current state (`old`): their resolved
 * membership is recorded at its position, which their member events alone would read as the
 * losing event's. A kept event new to the current state is recorded by the current-state loop.
 */
async function recordLosingMemberEvent(
  tx: SqlExecutor,
  rooms: RoomService,
  checked: CheckedPdu,
  old: StateMap,
  current: StateMap,
  position: number,
): Promise<void> {
  const { type, state_key: stateKey } = checked.dag;
  if (type !== 'm.room.member' || stateKey === undefined) return;
  if (!isLocalUser(stateKey, rooms.ctx.config.serverName)) return;
  const key = stateKeyOf(type, stateKey);
  const kept = current.get(key);
  if (kept === undefined || kept === checked.eventId || old.get(key) !== kept) return;
  const membership = await membershipOfEvent(tx, rooms, kept);
  if (membership !== undefined) {
    await recordResolvedMembership(tx, checked.roomId, stateKey, membership, position);
  }
}

/** Stores an outlier (an event whose place in the DAG we do not know, e.g. an auth event). */
export async function storeOutlier(
  tx: SqlExecutor,
  checked: CheckedPdu,
  rejected: boolean,
): Promise<void> {
  await insertEvent(tx, checked, {
    position: null,
    stateGroup: null,
    outlier: true,
    rejected,
    softFailed: false,
  });
}

/** What {@link persistRemote} stores. */
export interface RemoteVerdict {
  readonly stateBefore: StateMap;
  readonly rejected: boolean;
  readonly softFailed: boolean;
}

/**
 * Stores a received event with its place in the DAG; returns its stream position (accepted
 * events) or `null`.
 */
export async function persistRemote(
  tx: SqlExecutor,
  rooms: RoomService,
  checked: CheckedPdu,
  verdict: RemoteVerdict,
): Promise<number | null> {
  const room = await loadRoom(tx, checked.roomId);
  if (room === undefined) throw new Error(`room ${checked.roomId} is not known`);
  const after = verdict.rejected
    ? new Map(verdict.stateBefore)
    : stateAfterEvent(checked.dag, verdict.stateBefore);
  // Store the state after it as a delta from the first prev event's group when there is one.
  const prevs = await rooms.events.getMany(tx, checked.dag.prev_events, false);
  const base = [...prevs.values()].find((event) => event.stateGroup !== null)?.stateGroup ?? null;
  const baseState = base === null ? new Map<string, string>() : await rooms.states.get(tx, base);
  const delta = new Map<string, string>();
  for (const [key, id] of after) if (baseState.get(key) !== id) delta.set(key, id);
  const removed = [...baseState.keys()].some((key) => !after.has(key));
  const group =
    base !== null && delta.size === 0 && !removed
      ? base
      : await rooms.states.create(
          tx,
          checked.roomId,
          removed ? null : base,
          removed ? after : delta,
        );

  if (verdict.rejected || verdict.softFailed) {
    const inserted = await insertEvent(tx, checked, {
      position: null,
      stateGroup: group,
      outlier: false,
      rejected: verdict.rejected,
      softFailed: verdict.softFailed,
    });
    if (!inserted) {
      // Stored earlier as an outlier (a fetched auth or state event), now judged in the DAG:
      // the verdict replaces the outlier's (spec
      // https://spec.matrix.org/v1.19/server-server-api/#rejection — a rejected event is not
      // used as an auth event any more; #soft-failure — a soft-failed one stays out of the
      // timeline but keeps its state), so a resend is answered from it, not processed again.
      await tx.execute(
        `UPDATE events SET state_group = $1, outlier = 0, rejected = $2, soft_failed = $3
          WHERE event_id = $4 AND stream_position IS NULL AND outlier = 1`,
        [group, verdict.rejected ? 1 : 0, verdict.softFailed ? 1 : 0, checked.eventId],
      );
      rooms.events.evictOnCommit(tx, [checked.eventId]);
    }
    return null;
  }

  const position = await nextStreamPosition(tx);
  const inserted = await insertEvent(tx, checked, {
    position,
    stateGroup: group,
    outlier: false,
    rejected: false,
    softFailed: false,
  });
  if (!inserted) {
    // An event that was stored earlier as an outlier becomes part of the timeline now.
    await tx.execute(
      `UPDATE events SET stream_position = $1, state_group = $2, outlier = 0
        WHERE event_id = $3 AND stream_position IS NULL`,
      [position, group, checked.eventId],
    );
    rooms.events.evictOnCommit(tx, [checked.eventId]);
  }

  for (const prev of checked.dag.prev_events) {
    await tx.execute('DELETE FROM room_forward_extremities WHERE room_id = $1 AND event_id = $2', [
      checked.roomId,
      prev,
    ]);
  }
  await tx.execute(
    `INSERT INTO room_forward_extremities (room_id, event_id) VALUES ($1, $2)
     ON CONFLICT (room_id, event_id) DO NOTHING`,
    [checked.roomId, checked.eventId],
  );

  // Current state: the resolution of the states at every forward extremity.
  const extremities = (
    await tx.query<{ event_id: string }>(
      'SELECT event_id FROM room_forward_extremities WHERE room_id = $1',
      [checked.roomId],
    )
  ).map((row) => row.event_id);
  let current: Map<string, string> = after;
  let currentGroup = group;
  if (extremities.length > 1) {
    const extremityEvents = await rooms.events.getMany(tx, extremities, false);
    const states: StateMap[] = [];
    for (const event of extremityEvents.values()) {
      // Groups committed earlier may be cached; the one created in this transaction may not.
      if (event.stateGroup !== null)
        states.push(await rooms.states.get(tx, event.stateGroup, event.stateGroup !== group));
    }
    current = await resolveState(checked.rules, states, async (ids) =>
      [...(await rooms.events.getMany(tx, ids, false)).values()].map(toDagEvent),
    );
    const currentDelta = new Map<string, string>();
    for (const [key, id] of current) if (after.get(key) !== id) currentDelta.set(key, id);
    if (currentDelta.size > 0) {
      currentGroup = await rooms.states.create(tx, checked.roomId, group, currentDelta);
    }
  }
  const old =
    room.currentStateGroup === null
      ? new Map<string, string>()
      : await rooms.states.get(tx, room.currentStateGroup);
  for (const [key, id] of current) {
    if (old.get(key) === id) continue;
    const { type, stateKey } = parseStateKey(key);
    await tx.execute(
      `INSERT INTO room_current_state (room_id, type, state_key, event_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id`,
      [checked.roomId, type, stateKey, id],
    );
    if (type === 'm.room.member') {
      const membership = await membershipOfEvent(tx, rooms, id);
      if (membership !== undefined) {
        await tx.execute(
          `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_position, forgotten)
           VALUES ($1, $2, $3, $4, $5, 0)
           ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership,
             event_id = excluded.event_id, stream_position = ${JOINED_SINCE}, forgotten = 0`,
          [checked.roomId, stateKey, membership, id, position],
        );
        // Resolution chose an older member event: none at this position says so.
        if (id !== checked.eventId && isLocalUser(stateKey, rooms.ctx.config.serverName)) {
          await recordResolvedMembership(tx, checked.roomId, stateKey, membership, position);
        }
      }
    }
  }
  await recordLosingMemberEvent(tx, rooms, checked, old, current, position);
  await tx.execute('UPDATE rooms SET current_state_group = $1, max_depth = $2 WHERE room_id = $3', [
    currentGroup,
    Math.max(room.maxDepth, checked.dag.depth),
    checked.roomId,
  ]);
  let stored = await rooms.events.get(tx, checked.eventId, false);
  if (stored !== undefined) {
    // Redactions are applied only as spec rooms/v11 "Handling redactions" says
    // (redaction-applies.ts), and once both events are here: a redaction of an event not stored
    // yet is applied when that event arrives.
    if (stored.type === 'm.room.redaction') {
      await applyReceivedRedaction(tx, rooms.events, stored, verdict.stateBefore, checked.rules);
    }
    const earlier = await applyEarlierRedactions(tx, rooms, stored, checked.rules);
    if (earlier !== undefined) {
      await redactPrevContentCopies(tx, rooms.events, stored.roomId, stored.eventId);
      stored = (await rooms.events.get(tx, checked.eventId, false)) ?? stored;
    }
    await rooms.timelineEventPersisted(tx, stored);
  }
  return position;
}
