/**
 * The JSON the web UI's local API sends the page (views.ts builds it, ui/api.ts reads it). Types
 * only, with no imports, so both the Node side and the page's DOM-only typecheck share them.
 */

/** A room's forward-secrecy policy as a badge: the `org.weft.policy` mode, or `unencrypted`. */
export type PolicyBadge = 'shared' | 'epoch' | 'forward-secret' | 'unencrypted' | 'unknown';

/** One line of the room list. */
export interface RoomSummary {
  readonly roomId: string;
  readonly name: string;
  readonly membership: string;
  readonly policy: PolicyBadge;
  /** Messages from others after this user's latest `m.read` receipt. */
  readonly unread: number;
}

/** One line of a timeline. */
export interface EventView {
  /** Stable key across updates: the local transaction ID while one exists, else the event ID. */
  readonly key: string;
  readonly eventId: string | null;
  readonly sender: string;
  /** `message` (readable text), `undecryptable` (see `reason`) or `notice` (membership, name…). */
  readonly kind: 'message' | 'undecryptable' | 'notice';
  readonly text: string;
  readonly encrypted: boolean;
  /** Local echo: `pending` until the server answers, `failed` if it refused (retry possible). */
  readonly status: 'pending' | 'sent' | 'failed';
}

/** One member of a room. */
export interface MemberView {
  readonly userId: string;
  readonly membership: string;
}
