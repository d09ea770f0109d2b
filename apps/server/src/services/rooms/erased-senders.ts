/**
 * Senders erased at deactivation (client-server-api "POST /account/deactivate", `erase`:
 * "any users (or servers) which join the room after the erasure request are served redacted
 * copies of the events sent by this account. Users which had visibility on those events prior to
 * the erasure are still able to see unredacted copies"). Each erased user is kept with the stream
 * position of the erasure, so that "prior to the erasure" can be read against membership
 * histories (event-visibility.ts).
 *
 * Every event served to a client checks its sender here, and erased users are rare, so the set is
 * read once per database and kept in memory: `/sync` asks the database nothing more. An erasure
 * forgets it once it commits, and the next read loads it again.
 *
 * Applied wherever events are served: every client read of the timeline goes through
 * event-visibility.ts `filterEventsForUser` (`/sync` timelines, `/messages`, `/context`, `/event`,
 * `/relations`, `/threads`, `/search`), every client read of the state at a point through its
 * `stateEventsForUser` (a sync's `state`, lazy-loaded members of `/messages` and `/context`,
 * `/members`, search's `profile_info`): the state at an earlier point still holds the user's
 * member events with their display name and avatar. Federation reads of events go through
 * federation/visibility.ts `pdusForServer` (`/event`, `/get_missing_events`, `/backfill`), and
 * of state and auth chains through its `statePdusForServer` (`/state`, `/event_auth`) and
 * `erasedStateTexts` (the `send_join` answer); all redact the whole PDU, which keeps its event ID,
 * signatures and what the authorization rules read. Besides its sender, an event carries an
 * erased user's content as the subject of another's member event (an invite copies the
 * invitee's profile: `withoutProfile`) and in `unsigned.prev_content` when it replaced one of
 * the user's state events (`withRedactedPrevContent`).
 */
import { redactEvent } from '@weft/signing';

import type { SqlExecutor, TransactionExecutor } from '../../storage/index.ts';
import { currentStreamPosition } from '../core/stream.ts';
import type { StoredEvent } from './types.ts';

/** Erased user → stream position of the erasure. */
export type ErasedSenders = ReadonlyMap<string, number>;

const loaded = new WeakMap<SqlExecutor, Promise<ErasedSenders>>();

/** The erased users, from memory after the first call. */
export function erasedSenders(db: SqlExecutor): Promise<ErasedSenders> {
  const cached = loaded.get(db);
  if (cached !== undefined) return cached;
  const users = db
    .query<{ user_id: string; stream_position: number }>(
      'SELECT user_id, stream_position FROM erased_users',
    )
    .then((rows) => new Map(rows.map((row) => [row.user_id, Number(row.stream_position)])));
  loaded.set(db, users);
  // A failed read is not kept: the next call tries again.
  users.catch(() => {
    if (loaded.get(db) === users) loaded.delete(db);
  });
  return users;
}

/**
 * Records `userId` as erased at the current stream position (inside the deactivation's
 * transaction, so no event or membership change interleaves) and forgets the in-memory set of
 * `db` once it commits. A read that began before the commit may still answer its own callers
 * without the user; it is not kept.
 */
export async function recordErasure(
  db: SqlExecutor,
  tx: TransactionExecutor,
  userId: string,
  now: number,
): Promise<void> {
  await tx.execute(
    `INSERT INTO erased_users (user_id, erased_ts, stream_position) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO NOTHING`,
    [userId, now, await currentStreamPosition(tx)],
  );
  tx.afterCommit(() => loaded.delete(db));
}

/**
 * The copy of an erased sender's event served to those who could not see it before the erasure:
 * the room version's redaction algorithm applied to the PDU (so every reader of `pdu` downstream
 * — the client format, bundled aggregations — sees only what redaction keeps) and no
 * `prev_content` (as for a redacted event, client-event.ts). No `redacted_because`: no redaction
 * event exists (Synapse serves erased events the same way).
 */
export function erasedCopy(event: StoredEvent): StoredEvent {
  const { prev_content: _, ...unsigned } = event.unsigned ?? {};
  return {
    ...event,
    pdu: redactEvent(event.pdu, event.roomVersion),
    unsigned: event.unsigned === undefined ? undefined : unsigned,
  };
}

/**
 * The stream position at which the sender of the state event `event` replaced (whose content
 * `unsigned.prev_content` copies) was erased, if they were.
 */
export function erasedPrevSender(event: StoredEvent, erased: ErasedSenders): number | undefined {
  const prevSender = event.unsigned?.['prev_sender'];
  return typeof prevSender === 'string' ? erased.get(prevSender) : undefined;
}

/** `event` with its `unsigned.prev_content` redacted as the replaced event's content would be. */
export function withRedactedPrevContent(event: StoredEvent): StoredEvent {
  const prevContent = event.unsigned?.['prev_content'];
  if (prevContent === undefined) return event;
  const { prev_content: _, ...rest } = event.unsigned ?? {};
  const unsigned: Record<string, unknown> = rest;
  if (typeof prevContent === 'object' && prevContent !== null && !Array.isArray(prevContent)) {
    const replaced = { type: event.type, content: prevContent as Record<string, unknown> };
    unsigned['prev_content'] = redactEvent(replaced, event.roomVersion)['content'];
  }
  return { ...event, unsigned };
}

/**
 * The member event `event` (another's, about an erased user: an invite copies the invitee's
 * profile, rooms/membership.ts) without that user's `displayname` and `avatar_url`, in its
 * content and in `unsigned.prev_content`. Only for clients: the PDU's hashes no longer match, so
 * a server is served the redacted event instead.
 */
export function withoutProfile(event: StoredEvent): StoredEvent {
  const strip = (content: unknown): unknown => {
    if (typeof content !== 'object' || content === null || Array.isArray(content)) return content;
    const { displayname: _, avatar_url: __, ...rest } = content as Record<string, unknown>;
    return rest;
  };
  const unsigned =
    event.unsigned?.['prev_content'] === undefined
      ? event.unsigned
      : { ...event.unsigned, prev_content: strip(event.unsigned['prev_content']) };
  return {
    ...event,
    pdu: { ...event.pdu, content: strip(event.pdu['content']) },
    unsigned,
  };
}
