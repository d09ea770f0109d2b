/**
 * EDUs this server sends for its own users (spec server-server-api "Typing Notifications",
 * "Receipts", "Presence", "Device Management", "Send-to-device messaging"): presence
 * (presence.ts) goes to every server sharing a room with the user, typing and public read receipts
 * go to the other servers in the room, device-list changes to every server sharing a room with
 * the user (queued inside the change's own transaction), to-device messages to the servers of
 * their recipients. All go through the persisted per-destination queue.
 */

import { createHash } from 'node:crypto';

import type { ServerContext } from '../../core/context.ts';
import type { DeviceListService } from '../../device-lists/service.ts';
import { nextUserStreamId } from '../../device-lists/store.ts';
import type { CrossSigningService } from '../../e2e-keys/cross-signing.ts';
import { publishedDevice } from '../../e2e-keys/service.ts';
import type { PresenceService } from '../../presence/service.ts';
import type { ReceiptService } from '../../receipts/service.ts';
import { isLocalUser } from '../../rooms/local-user.ts';
import type { RoomService } from '../../rooms/service.ts';
import type { ToDeviceService } from '../../to-device/service.ts';
import type { TypingService } from '../../typing/service.ts';
import { destinationsOf, serverOf, serversSharingRoomsWith } from '../sender/destinations.ts';
import type { FederationSender } from '../sender/queue.ts';
import { sendLocalPresence } from './presence.ts';

/** The local services whose changes become EDUs. */
export interface EduSources {
  readonly typing: TypingService;
  readonly receipts: ReceiptService;
  readonly deviceLists: DeviceListService;
  readonly toDevice: ToDeviceService;
  readonly crossSigning?: CrossSigningService;
  readonly presence?: PresenceService;
}

/**
 * Subscribes to the local services and queues the EDUs. `rooms` answers a room's joined members
 * from memory (rooms/joined-members.ts) while its state is unchanged: every keystroke's typing
 * EDU and every read receipt asks, and reading them from `room_memberships` each time scanned a
 * big room's members per EDU.
 */
export function sendLocalEdus(
  ctx: ServerContext,
  sender: FederationSender,
  sources: EduSources,
  rooms: Pick<RoomService, 'joinedMembers'>,
): void {
  const self = ctx.config.serverName;
  const isLocal = (userId: string) => isLocalUser(userId, self);
  const roomDestinations = async (roomId: string): Promise<string[]> =>
    destinationsOf(await rooms.joinedMembers(ctx.db, roomId), self);
  const report = (error: unknown) =>
    ctx.log.warn('queueing an EDU failed', { error: (error as Error).message });

  if (sources.presence !== undefined) sendLocalPresence(ctx, sender, sources.presence);

  sources.typing.onTyping((roomId, userId, typing) => {
    if (!isLocal(userId)) return;
    void (async () => {
      const destinations = await roomDestinations(roomId);
      await sender.queueEdu(destinations, {
        edu_type: 'm.typing',
        content: { room_id: roomId, user_id: userId, typing },
      });
    })().catch(report);
  });

  sources.receipts.onReceipt((userId, roomId, eventId, threadId) => {
    if (!isLocal(userId)) return;
    void (async () => {
      const destinations = await roomDestinations(roomId);
      const data = { ts: ctx.now(), ...(threadId !== undefined ? { thread_id: threadId } : {}) };
      await sender.queueEdu(destinations, {
        edu_type: 'm.receipt',
        content: { [roomId]: { 'm.read': { [userId]: { event_ids: [eventId], data } } } },
      });
    })().catch(report);
  });

  // Spec "Device Management": one EDU per changed device, with the user's next stream ID and
  // the one before as `prev_id` (a receiver that missed it re-fetches `GET /user/devices`, whose
  // `stream_id` is the current one). A change without a device (cross-signing keys) goes as
  // `m.signing_key_update` below.
  sources.deviceLists.onChanged(async (tx, userId, device) => {
    if (!isLocal(userId) || device === undefined) return;
    const streamId = await nextUserStreamId(tx, userId);
    const destinations = await serversSharingRoomsWith(tx, userId, self);
    if (destinations.length === 0) return;
    const content: Record<string, unknown> = {
      user_id: userId,
      device_id: device.deviceId,
      stream_id: streamId,
      prev_id: streamId > 1 ? [streamId - 1] : [],
    };
    if (device.deleted === true) {
      content['deleted'] = true;
    } else {
      const published = await publishedDevice(tx, userId, device.deviceId);
      if (published.keys !== undefined) content['keys'] = published.keys;
      if (published.displayName !== undefined) {
        content['device_display_name'] = published.displayName;
      }
    }
    await sender.queueEduInTransaction(tx, destinations, {
      edu_type: 'm.device_list_update',
      content,
    });
  });

  // Spec server-server-api "Cross-signing": new master/self-signing keys as an EDU, to the same
  // servers as device-list updates.
  sources.crossSigning?.onSigningKeysChanged(async (tx, userId, keys) => {
    if (!isLocal(userId)) return;
    const destinations = await serversSharingRoomsWith(tx, userId, self);
    await sender.queueEduInTransaction(tx, destinations, {
      edu_type: 'm.signing_key_update',
      content: {
        user_id: userId,
        ...(keys.master !== undefined ? { master_key: keys.master } : {}),
        ...(keys.self_signing !== undefined ? { self_signing_key: keys.self_signing } : {}),
      },
    });
  });

  sources.toDevice.setRemoteDelivery(async (from, eventType, txnId, messages) => {
    const byServer = new Map<string, Record<string, Record<string, unknown>>>();
    for (const [userId, byDevice] of messages) {
      const server = serverOf(userId);
      const forServer = byServer.get(server) ?? {};
      forServer[userId] = Object.fromEntries(byDevice);
      byServer.set(server, forServer);
    }
    for (const [server, forServer] of byServer) {
      await sender.queueEdu([server], {
        edu_type: 'm.direct_to_device',
        content: {
          sender: from.userId,
          type: eventType,
          // Unique per sending user, device and transaction: a receiver deduplicates on it
          // with the origin only (Synapse), so another user's device of the same ID must not clash.
          message_id: toDeviceMessageId(from.userId, from.deviceId, txnId),
          messages: forServer,
        },
      });
    }
  });
}

/**
 * The `message_id` of an outbound `m.direct_to_device` EDU: a hash of the sender's user ID,
 * device ID and transaction ID (the same for a retried transaction, distinct for different
 * senders), fixed-length whatever the IDs' lengths.
 */
export function toDeviceMessageId(userId: string, deviceId: string, txnId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([userId, deviceId, txnId]))
    .digest('base64url')
    .slice(0, 32);
}
