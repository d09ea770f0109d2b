/**
 * The client-server event format (spec client-server-api "Room Events", "ClientEvent" and
 * "ClientEventWithoutRoomID"): what a client sees of a stored PDU. Redacted events are served
 * with the room version's redaction algorithm applied (@weft/signing `redactEvent`) and
 * `unsigned.redacted_because`; `unsigned.transaction_id` goes only to the device that sent it.
 */
import { redactEvent } from '@weft/signing';

import type { StoredEvent } from './types.ts';

/** How to render an event for one client. */
export interface ClientEventOptions {
  /** The current time, for `unsigned.age`. */
  readonly now: number;
  /** Include `room_id` (default true; `/sync` room timelines leave it out). */
  readonly includeRoomId?: boolean;
  /** The requesting user and device: their own events carry `unsigned.transaction_id`. */
  readonly viewer?: { readonly userId: string; readonly deviceId: string };
}

/** A stored event in the client-server format. */
export function toClientEvent(
  event: StoredEvent,
  options: ClientEventOptions,
): Record<string, unknown> {
  const redacted = event.redactedBecause !== undefined;
  const pdu = redacted ? redactEvent(event.pdu, event.roomVersion) : event.pdu;
  const content = (pdu['content'] ?? {}) as Record<string, unknown>;
  const out: Record<string, unknown> = {
    content,
    event_id: event.eventId,
    origin_server_ts: event.originServerTs,
    sender: event.sender,
    type: event.type,
  };
  if (options.includeRoomId !== false) out['room_id'] = event.roomId;
  if (event.stateKey !== undefined) out['state_key'] = event.stateKey;
  // Room v11 moved `redacts` into content; clients of older versions read it at the top level,
  // so it is served in both places (as Synapse does).
  const redacts =
    pdu['redacts'] ?? (event.type === 'm.room.redaction' ? content['redacts'] : undefined);
  if (typeof redacts === 'string') out['redacts'] = redacts;
  const unsigned: Record<string, unknown> = { ...event.unsigned };
  unsigned['age'] = Math.max(0, options.now - event.originServerTs);
  if (event.redactedBecause !== undefined) {
    unsigned['redacted_because'] = toClientEvent(
      { ...event.redactedBecause, redactedBecause: undefined },
      {
        now: options.now,
        ...(options.includeRoomId !== undefined ? { includeRoomId: options.includeRoomId } : {}),
      },
    );
    delete unsigned['prev_content'];
  }
  const viewer = options.viewer;
  if (
    viewer !== undefined &&
    event.txnId !== undefined &&
    event.sender === viewer.userId &&
    event.senderDevice === viewer.deviceId
  ) {
    unsigned['transaction_id'] = event.txnId;
  }
  out['unsigned'] = unsigned;
  return out;
}
