/**
 * The plain data and the small interfaces the engine works with. The engine owns no network, no
 * storage and no cipher: the caller supplies Megolm sessions ({@link MegolmBackend}), Olm
 * encryption ({@link OlmEncryptor}) and a key store ({@link RoomKeyStore}).
 */

/** A device as the caller's device-list tracking knows it (from `/keys/query`). */
export interface DeviceInfo {
  readonly userId: string;
  readonly deviceId: string;
  /** The device's Curve25519 identity key (unpadded base64). */
  readonly curve25519: string;
  /** The device's Ed25519 signing key (unpadded base64). */
  readonly ed25519: string;
  /** The local user blocked this device: it gets `m.room_key.withheld` / `m.blacklisted`. */
  readonly blocked?: boolean;
  /** The device is verified (cross-signed by its owner and trusted by the local user). */
  readonly verified?: boolean;
}

/** This device: who is sending. */
export interface OwnDevice {
  readonly userId: string;
  readonly deviceId: string;
  readonly curve25519: string;
  readonly ed25519: string;
}

/** Membership values of `m.room.member` (spec: client-server API, `m.room.member`). */
export type Membership = 'invite' | 'join' | 'knock' | 'leave' | 'ban';

/**
 * The room as the caller's state tracking sees it when a message is sent: every user's current
 * membership (from signed `m.room.member` state) and the current device list of each member.
 */
export interface RoomSnapshot {
  readonly members: ReadonlyArray<{ readonly userId: string; readonly membership: Membership }>;
  readonly devices: readonly DeviceInfo[];
}

/**
 * One `m.room.member` change, as plain data. `rekey` carries the Weft option offered on invite
 * and kick (`org.weft.rekey: true` in the member event's content): every Weft sender starts a new
 * session before its next message, whatever the mode.
 */
export interface MembershipChange {
  readonly userId: string;
  readonly membership: Membership;
  readonly rekey?: boolean;
}

/** A Megolm outbound session (the shape of `@weft/ratchet`'s `GroupSession`). */
export interface OutboundGroupSession {
  sessionId(): string;
  /** Index of the next message this session will encrypt. */
  messageIndex(): number;
  /** The session key in the spec's session-sharing format, at the current index. */
  sessionKey(): string;
  /** Encrypts and advances the ratchet; returns the base64 Megolm message. */
  encrypt(plaintext: string): string;
}

/** A Megolm inbound session (the shape of `@weft/ratchet`'s `InboundGroupSession`). */
export interface InboundGroupSession {
  sessionId(): string;
  firstKnownIndex(): number;
  /** The session in the spec's export format, from `index` (≥ firstKnownIndex). */
  exportAt(index: number): string;
  decrypt(message: string): { plaintext: string; messageIndex: number };
}

/** Creates Megolm sessions; `ratchetMegolm` adapts `@weft/ratchet` to it. */
export interface MegolmBackend {
  createOutbound(): OutboundGroupSession;
  /** From an `m.room_key` session key (signed session-sharing format). */
  inboundFromSessionKey(sessionKey: string): InboundGroupSession;
  /** From an `m.forwarded_room_key` session key (export format). */
  inboundFromExport(exportedKey: string): InboundGroupSession;
}

/** The `m.room.encrypted` content of an Olm-encrypted to-device event (spec, `m.olm.v1`). */
export interface OlmEncryptedContent {
  readonly algorithm: 'm.olm.v1.curve25519-aes-sha2';
  readonly sender_key: string;
  readonly ciphertext: Readonly<Record<string, { readonly type: number; readonly body: string }>>;
}

/** The plaintext of an Olm-encrypted event (spec definition `OlmPlaintext`). */
export interface OlmPlaintext {
  readonly type: string;
  readonly content: Readonly<Record<string, unknown>>;
  readonly sender: string;
  readonly recipient: string;
  readonly recipient_keys: { readonly ed25519: string };
  readonly keys: { readonly ed25519: string };
}

/**
 * The caller's Olm layer. Returns `undefined` when no Olm session exists with the device and
 * none can be established (no one-time or fallback key): the engine then sends `m.no_olm`.
 */
export interface OlmEncryptor {
  encryptForDevice(
    device: DeviceInfo,
    payload: OlmPlaintext,
  ): Promise<OlmEncryptedContent | undefined> | OlmEncryptedContent | undefined;
}

/** A room key as held by a device. */
export interface StoredRoomKey {
  readonly roomId: string;
  readonly sessionId: string;
  /** Curve25519 key of the device that created the session (authenticated by Olm). */
  readonly senderKey: string;
  /** Ed25519 key the creator claimed in its Olm payload. */
  readonly senderClaimedEd25519: string;
  readonly session: InboundGroupSession;
  /** The spec's `shared_history` flag: this session may be given to later members. */
  readonly sharedHistory: boolean;
  /** Weft `forward-secret`: the key is deleted as soon as its message is decrypted. */
  readonly singleUse: boolean;
  /**
   * Received in a `forward-secret` room without the single-use marker (e.g. from a non-Weft
   * sender): after each decryption only the ratchet from the next index is kept.
   */
  readonly ratchetOnUse: boolean;
}

/**
 * The caller's key store. Methods may be synchronous or return promises. The engine's deletion
 * rules are only as good as the store's `delete`: a persistent store must erase the record.
 */
export interface RoomKeyStore {
  get(
    roomId: string,
    sessionId: string,
  ): StoredRoomKey | undefined | Promise<StoredRoomKey | undefined>;
  put(key: StoredRoomKey): void | Promise<void>;
  delete(roomId: string, sessionId: string): void | Promise<void>;
  /** Every key held for the room. */
  list(roomId: string): readonly StoredRoomKey[] | Promise<readonly StoredRoomKey[]>;
  /**
   * Records that a single-use key was used and deleted, durably (a tombstone), so the same key
   * is refused if it arrives again (a replayed Olm message). Used only together with
   * {@link wasDeleted}: a store without both gets neither called, and the receiver remembers
   * deleted keys in memory only.
   */
  markDeleted?(roomId: string, sessionId: string): void | Promise<void>;
  /** Whether {@link markDeleted} was called for the session (used only with `markDeleted`). */
  wasDeleted?(roomId: string, sessionId: string): boolean | Promise<boolean>;
}

/** A to-device message to send: `m.room.encrypted` (Olm) or plain `m.room_key.withheld`. */
export interface ToDeviceMessage {
  readonly type: 'm.room.encrypted' | 'm.room_key.withheld';
  readonly userId: string;
  readonly deviceId: string;
  readonly content: OlmEncryptedContent | RoomKeyWithheldContent;
}

/** The reasons a key is withheld (spec, `m.room_key.withheld`). */
export type WithheldCode =
  | 'm.blacklisted'
  | 'm.unverified'
  | 'm.unauthorised'
  | 'm.unavailable'
  | 'm.no_olm';

/** `m.room_key.withheld` content; `room_id`/`session_id` are absent for `m.no_olm`. */
export interface RoomKeyWithheldContent {
  readonly algorithm: 'm.megolm.v1.aes-sha2';
  readonly room_id?: string;
  readonly session_id?: string;
  readonly sender_key: string;
  readonly code: WithheldCode;
  readonly reason: string;
}

/** The `m.room.encrypted` content of a Megolm room event (spec, `m.megolm.v1.aes-sha2`). */
export interface MegolmEncryptedContent {
  readonly algorithm: 'm.megolm.v1.aes-sha2';
  readonly sender_key: string;
  readonly device_id: string;
  readonly session_id: string;
  readonly ciphertext: string;
}

/** What sharing keys cost: the figures the issue asks every rekey to report. */
export interface ShareCost {
  /** To-device messages produced (encrypted keys plus withheld notices). */
  readonly toDeviceMessages: number;
  /** Olm encryptions performed (one per key payload per device). */
  readonly olmEncryptions: number;
  /** Of the to-device messages, how many are `m.room_key.withheld`. */
  readonly withheld: number;
}
