/**
 * Typing notifications (client-server-api "Typing Notifications"): who is typing in which room,
 * held in memory only (typing is ephemeral; a restart forgets it), each entry expiring after
 * the client's `timeout`.
 *
 * Every change gets a serial; a sync token carries the serial it has seen, and a room's
 * `m.typing` event is sent again when the room changed after it. Serials start at the clock's
 * milliseconds at startup and never go below it (`max(now, serial + 1)`), so serials of a
 * restarted server exceed those of tokens issued before the restart: a token older than this
 * process gets every joined room's (possibly empty) typing list, which clears stale indicators.
 */
import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import type { StoredEvent } from '../rooms/types.ts';

/** The longest a client may mark itself typing for (Synapse caps it too). */
export const MAX_TYPING_TIMEOUT_MS = 120_000;
/** Used when the client sends `typing: true` without a timeout. */
export const DEFAULT_TYPING_TIMEOUT_MS = 30_000;

interface RoomTyping {
  /** user ID → its expiry timer. */
  readonly users: Map<string, ReturnType<typeof setTimeout>>;
  /** The serial of the last change in this room. */
  serial: number;
}

/** Who is typing where, in memory, with expiry timers and change serials for `/sync`. */
export class TypingService {
  readonly #ctx: ServerContext;
  readonly #rooms = new Map<string, RoomTyping>();
  /** Room ID → the `/sync` long-polls waiting on typing there (emptied sets stay: see notifier.ts). */
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #listeners: Array<(roomId: string, userId: string, typing: boolean) => void> = [];
  /** The first serial of this process: tokens with a lower serial predate it. */
  readonly startSerial: number;
  #serial: number;

  constructor(ctx: ServerContext) {
    this.#ctx = ctx;
    this.startSerial = Math.floor(ctx.now());
    this.#serial = this.startSerial;
  }

  /** The latest serial. */
  get serial(): number {
    return this.#serial;
  }

  /**
   * Marks `userId` typing in `roomId` for `timeoutMs` (capped), or stopped. The caller checked
   * that the user is joined.
   */
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs: number): void {
    for (const listener of this.#listeners) listener(roomId, userId, typing);
    let room = this.#rooms.get(roomId);
    const existing = room?.users.get(userId);
    if (existing !== undefined) clearTimeout(existing);
    if (!typing) {
      if (room === undefined || existing === undefined) return;
      room.users.delete(userId);
      this.#changed(roomId, room);
      return;
    }
    if (room === undefined) {
      room = { users: new Map(), serial: this.#serial };
      this.#rooms.set(roomId, room);
    }
    const timeout = Math.min(Math.max(0, timeoutMs), MAX_TYPING_TIMEOUT_MS);
    const timer = setTimeout(() => this.setTyping(roomId, userId, false, 0), timeout);
    timer.unref?.();
    room.users.set(userId, timer);
    // Extending a typing period changes nothing a client sees.
    if (existing === undefined) this.#changed(roomId, room);
  }

  #changed(roomId: string, room: RoomTyping): void {
    this.#serial = Math.max(Math.floor(this.#ctx.now()), this.#serial + 1);
    // An emptied room stays in the map: its serial tells syncs that typing stopped.
    room.serial = this.#serial;
    // Only the room's own waiters: a keystroke elsewhere would make every long-poll rebuild.
    const waiting = this.#waiters.get(roomId);
    if (waiting === undefined || waiting.size === 0) return;
    const waking = [...waiting];
    waiting.clear();
    for (const wake of waking) wake();
  }

  /**
   * Stops `userId` typing in `roomId` when they are (no change, nothing sent, when they are
   * not): a member who left is typing no more.
   */
  stopTyping(roomId: string, userId: string): void {
    if (this.#rooms.get(roomId)?.users.has(userId) === true) {
      this.setTyping(roomId, userId, false, 0);
    }
  }

  /**
   * A timeline listener (RoomService.onTimelineEvent) that stops a user typing once their
   * membership of the room changes away from `join` — leave, kick, ban, local or received.
   */
  readonly memberListener = async (tx: SqlExecutor, event: StoredEvent): Promise<void> => {
    if (event.type !== 'm.room.member' || event.stateKey === undefined) return;
    if (event.streamPosition === null) return;
    const content = event.pdu['content'];
    const membership =
      typeof content === 'object' && content !== null
        ? (content as Record<string, unknown>)['membership']
        : undefined;
    if (membership === 'join') return;
    const { roomId, stateKey } = event;
    tx.afterCommit(() => this.stopTyping(roomId, stateKey));
  };

  /** Subscribes to every typing change (federation sends local users' as `m.typing` EDUs). */
  onTyping(listener: (roomId: string, userId: string, typing: boolean) => void): void {
    this.#listeners.push(listener);
  }

  /** Who is typing in `roomId`, sorted. */
  typingIn(roomId: string): string[] {
    return [...(this.#rooms.get(roomId)?.users.keys() ?? [])].sort();
  }

  /** The serial of `roomId`'s last change (0 if none in this process). */
  roomSerial(roomId: string): number {
    return this.#rooms.get(roomId)?.serial ?? 0;
  }

  /**
   * Calls `wake` on the next typing change in one of `rooms`, once; returns the function that
   * stops listening (call it once woken too), or `undefined` without registering when one of
   * them changed after serial `after` already. A callback rather than a promise with an
   * `AbortSignal`: every `/sync` long-poll registers one (notifier.ts).
   */
  listen(after: number, rooms: readonly string[], wake: () => void): (() => void) | undefined {
    for (const roomId of rooms) {
      if ((this.#rooms.get(roomId)?.serial ?? 0) > after) return undefined;
    }
    for (const roomId of rooms) {
      let waiting = this.#waiters.get(roomId);
      if (waiting === undefined) {
        waiting = new Set();
        this.#waiters.set(roomId, waiting);
      }
      waiting.add(wake);
    }
    return () => {
      for (const roomId of rooms) this.#waiters.get(roomId)?.delete(wake);
    };
  }

  /** Stops every expiry timer (shutdown). */
  clear(): void {
    for (const room of this.#rooms.values()) {
      for (const timer of room.users.values()) clearTimeout(timer);
    }
    this.#rooms.clear();
  }
}
