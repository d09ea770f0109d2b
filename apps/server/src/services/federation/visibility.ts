/**
 * Whether another server may read a room's events through `/event`, `/state`, `/state_ids`,
 * `/event_auth`, `/backfill`, `/get_missing_events` and `/timestamp_to_event`, and which of them
 * it may see in full.
 *
 * Room level (server-server-api "Retrieving events" and the OpenAPI of `/state`, `/state_ids`,
 * `/backfill`, `/event_auth`, `/get_missing_events`: 403 "the requesting host is not in the
 * room"): a user of the server is joined to the room now. A knock, an invite, a ban or a leave
 * is no membership of the room: a server that only knocked, was banned or left gets nothing.
 * None of these endpoints is part of the membership handshakes (make_/send_join, _knock,
 * _leave, /invite are answered elsewhere), so invited and knocking servers need none of them
 * (Synapse's `assert_host_in_room` answers the same).
 *
 * Event level (client-server-api "History visibility" → "Server behaviour", applied to the
 * server's users, rooms/event-visibility.ts `eventViewsForServer`): events the server may
 * not see go out redacted, so its DAG still connects, as Synapse serves them; so do the events
 * of a sender erased at deactivation, to a server none of whose users could see them before.
 * The state and auth chain (`/state`, `/event_auth`, `send_join`) are served whatever the history
 * visibility, with only the erased users' events redacted (`statePdusForServer`): a redacted
 * copy keeps its event ID and signatures, and all the authorization rules read (the redaction
 * algorithm keeps exactly that), so the receiver still checks events against it — it redacts
 * an event whose content hash does not match and goes on (server-server-api "Validating hashes
 * and signatures on received events").
 */
import { redactEvent } from '@weft/signing';
import { inListChunks, placeholders } from '../../storage/in-list.ts';
import type { Services } from '../index.ts';
import { erasedSenders } from '../rooms/erased-senders.ts';
import { erasedStateForServer, eventViewsForServer } from '../rooms/event-visibility.ts';
import type { RoomService, StoredEvent } from '../rooms/index.ts';
import { serverHasMember } from '../rooms/room-store.ts';

const JOINED: readonly string[] = ['join'];

/** Whether `serverName` may read events of `roomId` at all: a user of it is joined there now. */
export function serverMaySee(
  services: Services,
  roomId: string,
  serverName: string,
): Promise<boolean> {
  return serverHasMember(services.ctx.db, roomId, serverName, JOINED);
}

/**
 * The PDUs of `events` (all of `roomId`, in order) as `serverName` may see them: in full where
 * history visibility lets one of its users see the event (and, for an erased sender, did before
 * the erasure), redacted otherwise.
 */
export async function pdusForServer(
  services: Services,
  roomId: string,
  serverName: string,
  events: readonly StoredEvent[],
): Promise<Readonly<Record<string, unknown>>[]> {
  const views = await eventViewsForServer(services.ctx.db, roomId, serverName, events);
  return events.map((event) =>
    views.get(event.eventId) === 'full' ? event.pdu : redactEvent(event.pdu, event.roomVersion),
  );
}

/**
 * The PDUs of the state or auth-chain events `events` (all of `roomId`) as `serverName` is
 * served them: in full, but for an erased user's content none of its users could see before
 * the erasure (redacted).
 */
export async function statePdusForServer(
  services: Services,
  roomId: string,
  serverName: string,
  events: readonly StoredEvent[],
): Promise<Readonly<Record<string, unknown>>[]> {
  const erased = await erasedStateForServer(services.ctx.db, roomId, serverName, events);
  return events.map((event) =>
    erased.has(event.eventId) ? redactEvent(event.pdu, event.roomVersion) : event.pdu,
  );
}

/**
 * The redacted PDU texts, by event ID, of the state events of `roomId` that `serverName` is
 * served redacted as state (`statePdusForServer`): for the `send_join` answer, which splices the
 * stored PDU texts (membership/join-answer.ts). Nothing is read while nobody is erased.
 */
export async function erasedStateTexts(
  rooms: RoomService,
  roomId: string,
  serverName: string,
): Promise<ReadonlyMap<string, string>> {
  const db = rooms.ctx.db;
  const erased = [...(await erasedSenders(db)).keys()];
  if (erased.length === 0) return new Map();
  const ids: string[] = [];
  for (const chunk of inListChunks(erased)) {
    const list = placeholders(chunk.length, 2);
    const rows = await db.query<{ event_id: string }>(
      `SELECT event_id FROM events
        WHERE room_id = $1 AND state_key IS NOT NULL
          AND (sender IN (${list}) OR (type = 'm.room.member' AND state_key IN (${list})))`,
      [roomId, ...chunk],
    );
    for (const row of rows) ids.push(row.event_id);
  }
  const events = [...(await rooms.getEvents(ids)).values()];
  const redacted = await erasedStateForServer(db, roomId, serverName, events);
  return new Map(
    events.flatMap((event) =>
      redacted.has(event.eventId)
        ? [[event.eventId, JSON.stringify(redactEvent(event.pdu, event.roomVersion))] as const]
        : [],
    ),
  );
}
