/**
 * The shapes the rooms service hands to other services (sync reads these) and to the endpoints.
 */

/** A persisted room event: the PDU as signed plus what this server knows about it. */
export interface StoredEvent {
  readonly eventId: string;
  readonly roomId: string;
  readonly roomVersion: string;
  /** The PDU exactly as signed (or received): never modified after storage. */
  readonly pdu: Readonly<Record<string, unknown>>;
  readonly type: string;
  /** Present exactly for state events. */
  readonly stateKey: string | undefined;
  readonly sender: string;
  readonly originServerTs: number;
  readonly depth: number;
  /** Position in the server's sync stream; `null` for outliers, rejected and soft-failed events. */
  readonly streamPosition: number | null;
  /** The room state after this event (a state group ID), when known. */
  readonly stateGroup: number | null;
  /** Server-local unsigned data computed at persist time (`replaces_state`, `prev_content`, …). */
  readonly unsigned: Readonly<Record<string, unknown>> | undefined;
  /** The redaction event that redacted this event, if any. */
  readonly redactedBecause: StoredEvent | undefined;
  /** Device and transaction ID the event was sent with (local senders only). */
  readonly senderDevice: string | undefined;
  readonly txnId: string | undefined;
}

/** Membership states of spec "m.room.member". */
export type Membership = 'invite' | 'join' | 'knock' | 'leave' | 'ban';

/** One room a user has a membership in (the latest membership event). */
export interface RoomMembershipEntry {
  readonly roomId: string;
  readonly membership: Membership;
  /** The `m.room.member` event that set it. */
  readonly eventId: string;
  readonly streamPosition: number;
  readonly forgotten: boolean;
}

/** A membership change of one user between two stream positions. */
export interface MembershipChange {
  readonly roomId: string;
  readonly membership: Membership;
  readonly event: StoredEvent;
}

/** Room state: `stateKeyOf(type, stateKey)` (from @weft/dag) → event ID. */
export type RoomState = ReadonlyMap<string, string>;

/** A window of a room's timeline, oldest first. */
export interface TimelineSlice {
  readonly events: readonly StoredEvent[];
  /** True when earlier events exist after `fromPosition` that did not fit in `limit`. */
  readonly limited: boolean;
  /** Token for `GET /rooms/{roomId}/messages?dir=b&from=…` to fetch the events before these. */
  readonly prevBatch: string;
}
