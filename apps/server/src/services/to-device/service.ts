/**
 * Send-to-device messaging (client-server-api "Send-to-Device messaging"): messages for local
 * devices are stored until delivered through `/sync`, in order of arrival, at most
 * {@link TO_DEVICE_BATCH} per response; when the device syncs again with that response's
 * `next_batch`, they count as delivered and are deleted (spec "Server behaviour").
 *
 * The sync token carries the ID of the last message delivered to the device, so a long queue is
 * delivered in batches without losing any, and a repeated sync with an old token gets the same
 * messages again.
 *
 * A message for a local user who ignores its sender (`m.ignored_user_list`, spec "Ignoring
 * Users": the client "will no longer receive events sent by that user") is dropped when sent,
 * from a local sender or over federation: it is never stored, so the recipient's to-device stream
 * has no gap, the other recipients of the same send get theirs, and un-ignoring does not bring it
 * back (the spec's "should not send events that were missed while the user was ignored").
 */

import { parseAnyJson } from '@weft/canonical-json';
import type { IgnoredUsersLookup } from '../account-data/ignored-users.ts';
import type { AccountService } from '../accounts/service.ts';
import type { ServerContext } from '../core/context.ts';
import { nextStreamPosition } from '../core/stream.ts';
import { isLocalUser } from '../rooms/local-user.ts';
import {
  claimTxnId,
  deleteAllForDevice,
  deleteDelivered,
  deviceExists,
  deviceIdsOf,
  insertMessage,
  pendingMessages,
} from './store.ts';

/** Spec: "100 messages is recommended as a reasonable limit" per `/sync` response. */
export const TO_DEVICE_BATCH = 100;

/** A to-device event as `/sync` delivers it. */
export interface ToDeviceEvent {
  readonly sender: string;
  readonly type: string;
  readonly content: Record<string, unknown>;
}

/** Delivers the messages of one send for users of other servers. */
export type RemoteToDevice = (
  sender: { readonly userId: string; readonly deviceId: string },
  eventType: string,
  txnId: string,
  messages: ReadonlyMap<string, ReadonlyMap<string, Record<string, unknown>>>,
) => Promise<void>;

/** Send-to-device messages: storing them per target device and delivering them through `/sync`. */
export class ToDeviceService {
  readonly #ctx: ServerContext;
  /** Per device, the message ID up to which deliveries were already deleted (saves a DELETE per sync). */
  readonly #deletedUpTo = new Map<string, number>();
  #remote: RemoteToDevice | undefined;
  #ignoredUsers: IgnoredUsersLookup | undefined;

  constructor(ctx: ServerContext, accounts: AccountService) {
    this.#ctx = ctx;
    // Messages for a removed device can never be delivered.
    accounts.onDeviceChange(async (tx, change) => {
      if (change.change === 'removed') await deleteAllForDevice(tx, change.userId, change.deviceId);
    });
  }

  /**
   * `PUT /sendToDevice/{eventType}/{txnId}`: stores one message per target device (`*` = every
   * device of the user) in one transaction. A transaction ID the sending device already used
   * sends nothing again (spec "Transaction identifiers"). Messages for users of other servers
   * go to the remote delivery (federation), or are dropped without one. A local recipient who
   * ignores the sender gets nothing (see above).
   */
  async send(
    sender: { readonly userId: string; readonly deviceId: string },
    eventType: string,
    txnId: string,
    messages: ReadonlyMap<string, ReadonlyMap<string, Record<string, unknown>>>,
  ): Promise<void> {
    const serverName = this.#ctx.config.serverName;
    const remote = new Map<string, ReadonlyMap<string, Record<string, unknown>>>();
    await this.#ctx.db.transaction(async (tx) => {
      if (!(await claimTxnId(tx, sender.userId, sender.deviceId, txnId, this.#ctx.now()))) return;
      let position = 0;
      for (const [userId, byDevice] of messages) {
        if (!isLocalUser(userId, serverName)) {
          // Only local senders' messages go to other servers (a remote sender's came over
          // federation, for local users only).
          if (this.#remote === undefined || !isLocalUser(sender.userId, serverName)) {
            this.#ctx.log.debug('to-device message for a remote user dropped', { user_id: userId });
          } else {
            remote.set(userId, byDevice);
          }
          continue;
        }
        if (this.#ignoredUsers?.of(userId)?.has(sender.userId) === true) continue;
        for (const [deviceId, content] of byDevice) {
          const targets =
            deviceId === '*'
              ? await deviceIdsOf(tx, userId)
              : (await deviceExists(tx, userId, deviceId))
                ? [deviceId]
                : [];
          for (const target of targets) {
            if (position === 0) {
              const taken = await nextStreamPosition(tx);
              position = taken;
              // Announced right after COMMIT, under the write lock: before any later commit is.
              tx.afterCommit(() => this.#ctx.notifier.notify(taken));
            }
            await insertMessage(tx, {
              userId,
              deviceId: target,
              position,
              sender: sender.userId,
              type: eventType,
              content: JSON.stringify(content),
            });
          }
        }
      }
    });
    if (remote.size > 0 && this.#remote !== undefined) {
      await this.#remote(sender, eventType, txnId, remote);
    }
  }

  /** Where the users each local user ignores come from (account data's `m.ignored_user_list`). */
  setIgnoredUsers(source: IgnoredUsersLookup): void {
    this.#ignoredUsers = source;
  }

  /** Sets where messages for users of other servers go (federation's `m.direct_to_device`). */
  setRemoteDelivery(deliver: RemoteToDevice): void {
    this.#remote = deliver;
  }

  /**
   * Spec "Server behaviour": deletes what the previous response delivered (messages up to
   * `deliveredId`, the token the client came back with), then returns the next batch after it
   * with the ID of the last message returned.
   */
  async deliver(
    userId: string,
    deviceId: string,
    deliveredId: number,
    to: number,
  ): Promise<{ events: ToDeviceEvent[]; lastId: number; more: boolean }> {
    const key = `${userId}\u0000${deviceId}`;
    if (deliveredId > (this.#deletedUpTo.get(key) ?? 0)) {
      await deleteDelivered(this.#ctx.db, userId, deviceId, deliveredId);
      if (this.#deletedUpTo.size >= 100_000) this.#deletedUpTo.clear();
      this.#deletedUpTo.set(key, deliveredId);
    }
    const rows = await pendingMessages(
      this.#ctx.db,
      userId,
      deviceId,
      deliveredId,
      to,
      TO_DEVICE_BATCH + 1,
    );
    const more = rows.length > TO_DEVICE_BATCH;
    const batch = rows.slice(0, TO_DEVICE_BATCH);
    return {
      events: batch.map((row) => ({
        sender: row.sender,
        type: row.type,
        content: parseAnyJson(row.content) as Record<string, unknown>,
      })),
      lastId: batch.at(-1)?.id ?? deliveredId,
      more,
    };
  }
}
