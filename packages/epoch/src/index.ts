// @weft/epoch public API: the whole surface is this list (STYLE.md practice 2).

export { EpochError, type EpochErrorCode, type EpochErrorContext } from './errors.ts';
export {
  type DecryptCheck,
  type DecryptedEvent,
  type KeyImportOutcome,
  RoomKeyReceiver,
  type RoomKeyReceiverOptions,
} from './key-receiver.ts';
export { membershipChangeOf, REKEY_FIELD } from './membership.ts';
export {
  type ForwardedRoomKeyContent,
  type RoomKeyContent,
  SINGLE_USE_FIELD,
} from './payloads.ts';
export {
  DEFAULT_POLICY,
  type EncryptionContent,
  MEGOLM_ALGORITHM,
  POLICY_FIELD,
  POLICY_RULES,
  type PolicyMode,
  type PolicyRules,
  parseEncryptionContent,
  type RoomPolicy,
  strictestPolicy,
  toEncryptionContent,
} from './policy.ts';
export { ratchetMegolm } from './ratchet-megolm.ts';
export { recipientDevices } from './recipients.ts';
export {
  type EncryptResult,
  type KeyRequest,
  type RekeyReason,
  type RekeyReport,
  type RekeyResult,
  RoomEncryptor,
  type RoomEncryptorOptions,
  type RoomSource,
  type ShareResult,
} from './room-encryptor.ts';
export type {
  DeviceInfo,
  InboundGroupSession,
  MegolmBackend,
  MegolmEncryptedContent,
  Membership,
  MembershipChange,
  OlmEncryptedContent,
  OlmEncryptor,
  OlmPlaintext,
  OutboundGroupSession,
  OwnDevice,
  RoomKeyStore,
  RoomKeyWithheldContent,
  RoomSnapshot,
  ShareCost,
  StoredRoomKey,
  ToDeviceMessage,
  WithheldCode,
} from './types.ts';
