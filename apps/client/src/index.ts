// @weft/client public API: the whole surface is this list.
export { ClientError, type ClientErrorCode, type ClientErrorContext } from './errors.ts';
export {
  type ClientWarning,
  type CreateRoomOptions,
  DEFAULT_HOMESERVER,
  type LoggedOutWarning,
  type PolicyDowngradeWarning,
  type TimelineListener,
  type WarningListener,
  WeftClient,
  type WeftClientOptions,
} from './sdk/client.ts';
export {
  type DecryptionFailure,
  type RawEvent,
  RoomModel,
  type TimelineEvent,
} from './sdk/room-model.ts';
