/**
 * The rooms service's surface for other services (sync, federation later) and the endpoints.
 */
export { type ClientEventOptions, toClientEvent } from './client-event.ts';
export type { EventDraft } from './create-event.ts';
export { isLocalUser } from './local-user.ts';
export {
  type EventListener,
  type MemberProfile,
  type ProfileLookup,
  RoomService,
} from './service.ts';
export { parseRoomToken, roomToken } from './timeline.ts';
export type {
  Membership,
  MembershipChange,
  RoomMembershipEntry,
  RoomState,
  StoredEvent,
  TimelineSlice,
} from './types.ts';
