/**
 * Read receipts (client-server-api "Receipts"): the latest receipt per user, receipt type and
 * thread (`m.read`, `m.read.private`; unthreaded, `main` or a thread root), each write taking a
 * stream position so `/sync` delivers it as an `m.receipt` ephemeral event. `m.read.private`
 * receipts go only to the user who sent them (spec "Private read receipts").
 */
import { MatrixError } from '@weft/transport';

import type { SqlExecutor } from '../../storage/index.ts';
import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import { MAIN_THREAD, threadOf } from '../relations/thread.ts';
import { filterEventsForUser } from '../rooms/event-visibility.ts';
import { isLocalUser, type RoomService } from '../rooms/index.ts';
import {
  currentReceipt,
  receiptsBetween,
  receiptTargetPosition,
  roomsWithReceiptsBetween,
  upsertReceipt,
} from './store.ts';

/** The receipt types stored here (`m.fully_read` is room account data, not a receipt). */
export type ReceiptType = 'm.read' | 'm.read.private';

/** Runs inside a read receipt's transaction when it moves the user's read position in a room. */
export type ReadReceiptHandler = (
  tx: SqlExecutor,
  userId: string,
  roomId: string,
  position: number,
) => Promise<unknown>;

/** Stores the `m.fully_read` room account data event (the account-data owner provides it). */
export type FullyReadWriter = (userId: string, roomId: string, eventId: string) => Promise<void>;

/** Read receipts: writing them and building the `m.receipt` events `/sync` delivers. */
export class ReceiptService {
  readonly #ctx: ServerContext;
  readonly #rooms: RoomService;
  #fullyRead: FullyReadWriter | undefined;
  /** Nothing to recount until the push service (the owner of unread counts) registers. */
  #readMoved: ReadReceiptHandler = async () => {};
  readonly #listeners: Array<
    (userId: string, roomId: string, eventId: string, threadId: string | undefined) => void
  > = [];

  constructor(ctx: ServerContext, rooms: RoomService) {
    this.#ctx = ctx;
    this.#rooms = rooms;
  }

  /** Subscribes to new public (`m.read`) receipts (federation sends local users' as EDUs). */
  onReceipt(
    listener: (
      userId: string,
      roomId: string,
      eventId: string,
      threadId: string | undefined,
    ) => void,
  ): void {
    this.#listeners.push(listener);
  }

  /**
   * Sets who recounts unread counts when a read receipt moves (the push service
   * registers itself here, so receipts need not know how counts are stored).
   */
  setReadReceiptHandler(handler: ReadReceiptHandler): void {
    this.#readMoved = handler;
  }

  /** Sets where `m.fully_read` markers are written (room account data). */
  setFullyReadWriter(writer: FullyReadWriter): void {
    this.#fullyRead = writer;
  }

  /**
   * Spec "Read markers": moves `userId`'s fully-read marker in `roomId` to `eventId` — room
   * account data of type `m.fully_read`, content `{ event_id }`, so it reaches the user's other
   * devices through `/sync`. The caller checked the target with {@link checkTarget}.
   */
  async setFullyRead(userId: string, roomId: string, eventId: string): Promise<void> {
    if (this.#fullyRead === undefined) {
      throw new MatrixError(404, 'M_UNRECOGNIZED', 'This server does not store read markers yet');
    }
    await this.#fullyRead(userId, roomId, eventId);
  }

  /**
   * Checks that `userId` is joined to `roomId` and `eventId` is a timeline event of that room
   * the user may see under its history visibility (403 `M_FORBIDDEN` / 404 `M_NOT_FOUND`, as
   * `/event` answers for an event hidden from the user), and, for a threaded receipt, that the
   * event is in thread `threadId` (`main`: the main timeline; a thread root counts as in its own
   * thread too) — spec receipts API: 400 `M_INVALID_PARAM` when "the `event_id` is not related
   * to the `thread_id`".
   */
  async checkTarget(
    userId: string,
    roomId: string,
    eventId: string,
    threadId?: string,
  ): Promise<void> {
    const membership = await this.#rooms.membership(roomId, userId);
    if (membership?.membership !== 'join') {
      throw MatrixError.forbidden('You are not joined to this room');
    }
    const event = await this.#rooms.getEvent(eventId);
    if (event === undefined || event.roomId !== roomId || event.streamPosition === null) {
      throw MatrixError.notFound('Unknown event in this room');
    }
    if ((await filterEventsForUser(this.#ctx.db, roomId, userId, [event])).length === 0) {
      throw MatrixError.notFound('Unknown event in this room');
    }
    if (threadId === undefined) return;
    if (threadId !== MAIN_THREAD && eventId === threadId) return;
    if ((await threadOf(this.#ctx.db, roomId, event.pdu)) !== threadId) {
      throw MatrixError.invalidParam('The event_id is not related to the thread_id');
    }
  }

  /**
   * Sets `userId`'s receipt of `receiptType` (and `threadId`, `undefined` = unthreaded) to
   * `eventId`. The caller checked the target with {@link checkTarget}.
   */
  async setReceipt(
    userId: string,
    roomId: string,
    receiptType: ReceiptType,
    eventId: string,
    threadId: string | undefined,
  ): Promise<void> {
    const thread = threadId ?? '';
    const position = await this.#ctx.db.transaction(async (tx) => {
      // Re-sending the same receipt is not news for anyone's sync, and a receipt never moves
      // backwards (a lagging device's older one is ignored, as Synapse does): one at or before
      // the current receipt's event in the stream changes nothing.
      const current = await currentReceipt(tx, roomId, receiptType, userId, thread);
      if (current?.event_id === eventId) return 0;
      if (current?.position != null) {
        const target = await receiptTargetPosition(tx, eventId);
        if (target !== undefined && target <= current.position) return 0;
      }
      const position = await nextStreamPosition(tx);
      await upsertReceipt(tx, {
        room_id: roomId,
        receipt_type: receiptType,
        user_id: userId,
        thread_id: thread,
        event_id: eventId,
        ts: this.#ctx.now(),
        position,
      });
      // A read receipt moves what is unread, of its thread or (unthreaded) of them all
      // (services/push/store.ts `readPositionsSql`); only local users have unread counts.
      if (isLocalUser(userId, this.#ctx.config.serverName)) {
        await this.#readMoved(tx, userId, roomId, position);
      }
      // Only the syncs that show it are woken: a receipt goes to the room's joined members (a
      // private one to its user alone), who also see it change their unread counts.
      const audience =
        receiptType === 'm.read.private' ? [userId] : await this.#rooms.joinedMembers(tx, roomId);
      tx.afterCommit(() => this.#ctx.notifier.notify(position, { users: [userId, ...audience] }));
      return position;
    });
    if (position > 0 && receiptType === 'm.read') {
      for (const listener of this.#listeners) listener(userId, roomId, eventId, threadId);
    }
  }

  /** Rooms with any receipt written in (`from`, `to`]. */
  roomsChanged(from: number, to: number): Promise<Set<string>> {
    return roomsWithReceiptsBetween(this.#ctx.db, from, to);
  }

  /**
   * The `m.receipt` event (spec "m.receipt") `viewer` gets for `roomId`: the receipts written in
   * (`from`, `to`] (every current receipt for `from` 0), or `undefined` if there are none.
   * Receipts of the users in `ignored` (the viewer's `m.ignored_user_list`) are left out, as
   * their typing is (spec "Ignoring Users": the client no longer receives what they send).
   */
  async receiptEvent(
    roomId: string,
    viewer: string,
    from: number,
    to: number,
    ignored?: ReadonlySet<string>,
  ): Promise<Record<string, unknown> | undefined> {
    const content: Record<string, Record<string, Record<string, Record<string, unknown>>>> = {};
    let any = false;
    for (const row of await receiptsBetween(this.#ctx.db, roomId, from, to)) {
      if (row.receipt_type === 'm.read.private' && row.user_id !== viewer) continue;
      if (ignored?.has(row.user_id) === true) continue;
      const byType = content[row.event_id] ?? {};
      content[row.event_id] = byType;
      const byUser = byType[row.receipt_type] ?? {};
      byType[row.receipt_type] = byUser;
      byUser[row.user_id] = {
        ts: Number(row.ts),
        ...(row.thread_id !== '' ? { thread_id: row.thread_id } : {}),
      };
      any = true;
    }
    return any ? { type: 'm.receipt', content } : undefined;
  }
}
