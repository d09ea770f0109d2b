/**
 * What the web UI shows, as plain JSON: rooms, members and timeline lines built from the SDK's
 * models. Pure functions, so the page never sees a key, a store or a raw SDK object.
 */
import type { WeftClient } from '../sdk/client.ts';
import type { RoomModel, TimelineEvent } from '../sdk/room-model.ts';
import type { EventView, MemberView, PolicyBadge, RoomSummary } from './view-types.ts';

export type { EventView, MemberView, PolicyBadge, RoomSummary } from './view-types.ts';

function policyOf(client: WeftClient, room: RoomModel): PolicyBadge {
  // An invite shows only the stripped state the inviter shared, so the policy may be unknown.
  const encryption = room.stateContent('m.room.encryption');
  const mode = client.policy(room.roomId)?.mode;
  if (mode !== undefined) return mode;
  return encryption === undefined && room.membership !== 'invite' ? 'unencrypted' : 'unknown';
}

/** Whether an event counts as a message a person would read (for unread counts). */
function isMessage(event: TimelineEvent): boolean {
  return event.type === 'm.room.message' || event.decryptionError !== undefined;
}

/** Messages from others after `userId`'s latest read receipt (all of them without a receipt). */
export function unreadCount(room: RoomModel, userId: string): number {
  const readUpTo = room.receipts.get(userId);
  let start = 0;
  if (readUpTo !== undefined) {
    const index = room.timeline.findIndex((e) => e.eventId === readUpTo);
    if (index >= 0) start = index + 1;
  }
  let count = 0;
  for (const event of room.timeline.slice(start))
    if (event.sender !== userId && event.status === 'sent' && isMessage(event)) count += 1;
  return count;
}

export function roomSummary(client: WeftClient, room: RoomModel): RoomSummary {
  return {
    roomId: room.roomId,
    name: room.name ?? room.roomId,
    membership: room.membership,
    policy: policyOf(client, room),
    unread: room.membership === 'join' ? unreadCount(room, client.userId) : 0,
  };
}

/** The room list: joined and invited rooms, by name. */
export function roomList(client: WeftClient): RoomSummary[] {
  return client
    .rooms()
    .filter((room) => room.membership === 'join' || room.membership === 'invite')
    .map((room) => roomSummary(client, room))
    .sort((a, b) => a.name.localeCompare(b.name) || a.roomId.localeCompare(b.roomId));
}

export function memberList(room: RoomModel): MemberView[] {
  return room
    .members()
    .filter((m) => m.membership === 'join' || m.membership === 'invite')
    .sort((a, b) => a.userId.localeCompare(b.userId));
}

/** A timeline entry as a line, or undefined for events the UI does not show. */
export function eventView(event: TimelineEvent): EventView | undefined {
  const key = event.txnId ?? event.eventId;
  if (key === undefined) return undefined;
  const base = {
    key,
    eventId: event.eventId ?? null,
    sender: event.sender,
    encrypted: event.encrypted,
    status: event.status,
  };
  if (event.decryptionError !== undefined)
    return { ...base, kind: 'undecryptable', text: event.decryptionError.reason };
  const content = event.content;
  if (event.type === 'm.room.message') {
    const body = content['body'];
    return { ...base, kind: 'message', text: typeof body === 'string' ? body : '' };
  }
  const stateKey = event.raw?.state_key;
  if (event.type === 'm.room.member' && typeof stateKey === 'string')
    return { ...base, kind: 'notice', text: `${stateKey}: ${String(content['membership'])}` };
  if (event.type === 'm.room.name')
    return { ...base, kind: 'notice', text: `room name: ${String(content['name'])}` };
  return undefined;
}

export function timelineView(room: RoomModel): EventView[] {
  const views: EventView[] = [];
  for (const event of room.timeline) {
    const view = eventView(event);
    if (view !== undefined) views.push(view);
  }
  return views;
}
