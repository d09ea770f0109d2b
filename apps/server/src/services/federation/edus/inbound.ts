/**
 * EDUs received in `/send` (spec server-server-api "Typing Notifications", "Receipts",
 * "Presence", "Device Management", "Send-to-device messaging"), applied to the local services so
 * local clients see them in `/sync`. An EDU about a user is accepted only from that user's own
 * server; typing and receipts only for users joined to the room, from a server the room's ACL
 * allows (spec "Server Access Control Lists", acl.ts). Malformed EDUs are ignored
 * (spec: EDUs are not acknowledged individually).
 */

import { isObject } from '../../../json-object.ts';
import type { Services } from '../../index.ts';
import { serverAllowedInRoom } from '../acl.ts';
import { serverOf } from '../sender/destinations.ts';

type Json = Record<string, unknown>;

/** Applies one EDU from `origin`. */
export async function handleEdu(services: Services, origin: string, edu: unknown): Promise<void> {
  if (!isObject(edu) || typeof edu['edu_type'] !== 'string' || !isObject(edu['content'])) return;
  const content = edu['content'];
  switch (edu['edu_type']) {
    case 'm.typing':
      return typing(services, origin, content);
    case 'm.receipt':
      return receipts(services, origin, content);
    case 'm.presence':
      return presence(services, origin, content);
    case 'm.device_list_update':
    // Spec "Cross-signing": a user's new master/self-signing keys; like a device-list update,
    // local room-mates see the user in `device_lists.changed` and re-query the keys.
    case 'm.signing_key_update':
      return deviceList(services, origin, content);
    case 'm.direct_to_device':
      return toDevice(services, origin, content);
    default:
      return;
  }
}

async function joined(services: Services, roomId: string, userId: string): Promise<boolean> {
  return (await services.rooms.membership(roomId, userId))?.membership === 'join';
}

/** Spec "Typing Notifications": `{ room_id, user_id, typing }`. */
async function typing(services: Services, origin: string, content: Json): Promise<void> {
  const { room_id: roomId, user_id: userId, typing: isTyping } = content;
  if (typeof roomId !== 'string' || typeof userId !== 'string' || typeof isTyping !== 'boolean') {
    return;
  }
  if (serverOf(userId) !== origin || !(await joined(services, roomId, userId))) return;
  if (!(await serverAllowedInRoom(services.ctx.db, roomId, origin))) return;
  // The EDU carries no timeout: the sender refreshes it; stop after the spec's usual 30 s.
  services.typing.setTyping(roomId, userId, isTyping, 30_000);
}

/** Spec "Receipts": `{ <room_id>: { "m.read": { <user_id>: { event_ids, data } } } }`. */
async function receipts(services: Services, origin: string, content: Json): Promise<void> {
  for (const [roomId, byType] of Object.entries(content)) {
    if (!isObject(byType) || !isObject(byType['m.read'])) continue;
    if (!(await serverAllowedInRoom(services.ctx.db, roomId, origin))) continue;
    for (const [userId, receipt] of Object.entries(byType['m.read'])) {
      if (serverOf(userId) !== origin || !isObject(receipt)) continue;
      const eventIds = receipt['event_ids'];
      const eventId = Array.isArray(eventIds) ? eventIds[0] : undefined;
      if (typeof eventId !== 'string' || !(await joined(services, roomId, userId))) continue;
      const event = await services.rooms.getEvent(eventId);
      if (event === undefined || event.roomId !== roomId) continue;
      const data = isObject(receipt['data']) ? receipt['data'] : {};
      const thread = typeof data['thread_id'] === 'string' ? data['thread_id'] : undefined;
      await services.receipts.setReceipt(userId, roomId, 'm.read', eventId, thread);
    }
  }
}

/**
 * Spec "Presence": `{ push: [{ user_id, presence, last_active_ago, currently_active?,
 * status_msg? }] }`. The last activity is stored as now − `last_active_ago`, with the remote
 * `currently_active`.
 */
async function presence(services: Services, origin: string, content: Json): Promise<void> {
  const push = Array.isArray(content['push']) ? content['push'] : [];
  for (const update of push) {
    if (!isObject(update)) continue;
    const {
      user_id: userId,
      presence: state,
      status_msg: statusMsg,
      last_active_ago: ago,
      currently_active: currentlyActive,
    } = update;
    if (typeof userId !== 'string' || serverOf(userId) !== origin) continue;
    if (state !== 'online' && state !== 'offline' && state !== 'unavailable') continue;
    const validAgo = typeof ago === 'number' && Number.isFinite(ago) && ago >= 0;
    await services.presence.set(
      userId,
      state,
      typeof statusMsg === 'string' ? statusMsg : undefined,
      {
        lastActiveTs: validAgo ? services.ctx.now() - Math.floor(ago) : services.ctx.now(),
        ...(typeof currentlyActive === 'boolean' ? { currentlyActive } : {}),
      },
    );
  }
}

/** Spec "Device Management": `{ user_id, device_id, stream_id, … }` → a device-list change. */
async function deviceList(services: Services, origin: string, content: Json): Promise<void> {
  const userId = content['user_id'];
  if (typeof userId !== 'string' || serverOf(userId) !== origin) return;
  // Announced by `markChanged` in the transaction's after-commit hook.
  await services.ctx.db.transaction((tx) => services.deviceLists.markChanged(tx, userId));
}

/** Spec "Send-to-device messaging": `{ sender, type, message_id, messages }`. */
async function toDevice(services: Services, origin: string, content: Json): Promise<void> {
  const { sender, type, message_id: messageId, messages } = content;
  if (
    typeof sender !== 'string' ||
    serverOf(sender) !== origin ||
    typeof type !== 'string' ||
    typeof messageId !== 'string' ||
    !isObject(messages)
  ) {
    return;
  }
  const byUser = new Map<string, Map<string, Record<string, unknown>>>();
  const self = services.ctx.config.serverName;
  for (const [userId, byDevice] of Object.entries(messages)) {
    // The EDU is for this server's users (spec "Send-to-device messaging"); others are never
    // passed on, or any server could relay through this one.
    if (serverOf(userId) !== self || !isObject(byDevice)) continue;
    const devices = new Map<string, Record<string, unknown>>();
    for (const [deviceId, message] of Object.entries(byDevice)) {
      if (isObject(message)) devices.set(deviceId, message);
    }
    byUser.set(userId, devices);
  }
  // The message ID deduplicates a message the origin sends twice (its transaction retried).
  await services.toDevice.send(
    { userId: sender, deviceId: `federation:${origin}` },
    type,
    messageId,
    byUser,
  );
}
