/**
 * A room as the client knows it: current state (keyed by type and state key), members, and the
 * timeline of events with their decryption outcome and local-echo status.
 */
import type { Membership } from '@weft/epoch';

/** A raw client-format event from the server. */
export type RawEvent = Record<string, unknown> & {
  readonly event_id?: string;
  readonly type?: string;
  readonly sender?: string;
  readonly state_key?: string;
  readonly content?: Record<string, unknown>;
};

/** Why an encrypted event is not readable (yet). */
export interface DecryptionFailure {
  readonly code: string;
  readonly reason: string;
}

/** One timeline entry. */
export interface TimelineEvent {
  /** Server event ID; absent while a local echo is pending. */
  eventId?: string;
  readonly txnId?: string;
  readonly sender: string;
  /** The cleartext type (after decryption) or the raw type. */
  type: string;
  /** The cleartext content (after decryption) or the raw content. */
  content: Record<string, unknown>;
  /** True if the event arrived as `m.room.encrypted`. */
  readonly encrypted: boolean;
  /** Set while the event cannot be decrypted. */
  decryptionError?: DecryptionFailure;
  /** Where the cleartext came from: a room key, or this device's own archive (forward-secret). */
  decryptedWith?: 'key' | 'archive';
  /** Local echo: `pending` → `sent` (or `failed`, retryable). */
  status: 'pending' | 'sent' | 'failed';
  readonly raw?: RawEvent;
}

/** A room's state and timeline. */
export class RoomModel {
  readonly roomId: string;
  membership: Membership = 'join';
  readonly state = new Map<string, RawEvent>();
  timeline: TimelineEvent[] = [];
  /** Users typing now (`m.typing`). */
  typing: string[] = [];
  /** The latest `m.read` receipt of each user: user ID → event ID. */
  readonly receipts = new Map<string, string>();
  /** Token to paginate backwards from the oldest event held. */
  prevBatch: string | undefined;
  /**
   * Gaps a sync left unfilled (too long, or `/messages` refused): the events between the held
   * ones and the event `before` are still to load, paging backwards `from` the token.
   */
  gaps: Array<{ from: string; before: string }> = [];

  constructor(roomId: string) {
    this.roomId = roomId;
  }

  /** Applies a state event. */
  applyState(event: RawEvent): void {
    if (typeof event.type !== 'string' || typeof event.state_key !== 'string') return;
    this.state.set(`${event.type}\u0000${event.state_key}`, event);
  }

  /** Applies an `m.receipt` content (event ID → receipt type → user ID → data). */
  applyReceipts(content: Record<string, unknown>): void {
    for (const [eventId, types] of Object.entries(content)) {
      const read = (types as Record<string, unknown> | null)?.['m.read'];
      if (typeof read !== 'object' || read === null) continue;
      for (const userId of Object.keys(read)) this.receipts.set(userId, eventId);
    }
  }

  /** The content of a state event, if set. */
  stateContent(type: string, stateKey = ''): Record<string, unknown> | undefined {
    return this.state.get(`${type}\u0000${stateKey}`)?.content;
  }

  /** Every member with their current membership. */
  members(): Array<{ userId: string; membership: Membership }> {
    const result: Array<{ userId: string; membership: Membership }> = [];
    for (const event of this.state.values()) {
      if (event.type !== 'm.room.member' || typeof event.state_key !== 'string') continue;
      const membership = event.content?.['membership'];
      if (typeof membership === 'string')
        result.push({ userId: event.state_key, membership: membership as Membership });
    }
    return result;
  }

  /** The room's name (`m.room.name`), if set. */
  get name(): string | undefined {
    const name = this.stateContent('m.room.name')?.['name'];
    return typeof name === 'string' ? name : undefined;
  }
}
