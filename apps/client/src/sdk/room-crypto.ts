/**
 * Megolm for rooms, under each room's policy: one @weft/epoch `RoomEncryptor` per room for
 * sending, one `RoomKeyReceiver` for keys and decryption, with the sender and replay checks the
 * spec leaves to the client ("m.megolm.v1.aes-sha2": the event's sender must own the session's
 * device; a message index may be used by one event only).
 */
import {
  EpochError,
  type MegolmEncryptedContent,
  type MembershipChange,
  RoomEncryptor,
  RoomKeyReceiver,
  type RoomPolicy,
  type RoomSnapshot,
  ratchetMegolm,
  type ToDeviceMessage,
} from '@weft/epoch';

import { ClientError } from '../errors.ts';
import type { LocalStore } from './local-store.ts';
import type { OlmMachine } from './olm-machine.ts';
import { SqliteRoomKeyStore } from './room-key-store.ts';

/** A decrypted room event. */
export interface DecryptedRoomEvent {
  readonly type: string;
  readonly content: Record<string, unknown>;
  readonly sessionId: string;
  readonly messageIndex: number;
}

/** Encrypts and decrypts room events; owns the room key store. */
export class RoomCrypto {
  readonly #olm: OlmMachine;
  readonly #store: LocalStore;
  readonly #keys: SqliteRoomKeyStore;
  readonly #receiver: RoomKeyReceiver;
  readonly #encryptors = new Map<string, RoomEncryptor>();
  readonly #policies = new Map<string, RoomPolicy>();
  /** Called when a key for (room, session) arrives. */
  onKey: ((roomId: string, sessionId: string) => void) | undefined;

  constructor(olm: OlmMachine, store: LocalStore) {
    this.#olm = olm;
    this.#store = store;
    this.#keys = new SqliteRoomKeyStore(store);
    this.#keys.onPut = (roomId, sessionId) => this.onKey?.(roomId, sessionId);
    this.#receiver = new RoomKeyReceiver({
      own: olm.own,
      megolm: ratchetMegolm,
      store: this.#keys,
      policyFor: (roomId) => this.#policies.get(roomId),
    });
  }

  /** Records a room's policy (from its `m.room.encryption` state). */
  setPolicy(roomId: string, policy: RoomPolicy): void {
    this.#policies.set(roomId, policy);
    this.#encryptors.get(roomId)?.setPolicy(policy);
  }

  /** The room's policy, if it is encrypted. */
  policyOf(roomId: string): RoomPolicy | undefined {
    return this.#policies.get(roomId);
  }

  /** Feeds an accepted `m.room.member` change to the room's encryptor. */
  noteMembershipChange(roomId: string, change: MembershipChange): void {
    this.#encryptors.get(roomId)?.noteMembershipChange(change);
  }

  #encryptor(roomId: string): RoomEncryptor {
    const policy = this.#policies.get(roomId);
    if (policy === undefined)
      throw new ClientError('unknown-room', 'the room is not encrypted', { roomId });
    let encryptor = this.#encryptors.get(roomId);
    if (encryptor === undefined) {
      encryptor = new RoomEncryptor({
        roomId,
        own: this.#olm.own,
        policy,
        megolm: ratchetMegolm,
        olm: this.#olm,
        store: this.#keys,
      });
      this.#encryptors.set(roomId, encryptor);
    }
    return encryptor;
  }

  /**
   * Encrypts a room event for the room's current members. Returns the to-device key messages
   * (deliver them first) and the `m.room.encrypted` content.
   *
   * `members` is read when the engine builds the key (inside its queue), after the device
   * lookups and Olm session set-up; a membership change noted meanwhile (a kick applied by sync)
   * makes the engine start over from a fresh read, so a removed member's devices get no key.
   */
  async encrypt(
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    members: RoomSnapshot['members'] | (() => RoomSnapshot['members']),
  ): Promise<{ toDevice: readonly ToDeviceMessage[]; content: MegolmEncryptedContent }> {
    const read = typeof members === 'function' ? members : () => members;
    const encryptor = this.#encryptor(roomId);
    const result = await encryptor.encrypt(type, content, async (): Promise<RoomSnapshot> => {
      const users = read()
        .filter((m) => m.membership === 'join' || m.membership === 'invite')
        .map((m) => m.userId);
      const devices = await this.#olm.devicesOf(users);
      await this.#olm.ensureSessions(devices);
      // Members read again after the network: only devices of users still in the room count.
      return { members: read(), devices };
    });
    return { toDevice: result.toDevice, content: result.content };
  }

  /** Imports a room key from a decrypted Olm payload. */
  async receiveKey(
    plaintext: Parameters<RoomKeyReceiver['receiveKey']>[0],
    senderKey: string,
  ): Promise<void> {
    await this.#receiver.receiveKey(plaintext, senderKey);
  }

  /**
   * Decrypts a Megolm room event. The sender and replay checks run before the room's key-store
   * rule is applied, so a refused copy of a forward-secret event does not delete its key.
   * @throws ClientError `missing-key` (with the reason), `decrypt-failed`, `untrusted-sender`,
   *   `replayed-message`.
   */
  async decrypt(
    roomId: string,
    event: { event_id?: unknown; sender?: unknown; content?: unknown },
  ): Promise<DecryptedRoomEvent> {
    const eventId = String(event.event_id);
    const sender = String(event.sender);
    const content = (event.content ?? {}) as Record<string, unknown>;
    const sessionId = typeof content['session_id'] === 'string' ? content['session_id'] : '';
    const check = async (
      decrypted: Awaited<ReturnType<RoomKeyReceiver['decrypt']>>,
      key: { readonly senderClaimedEd25519: string },
    ) => {
      // Spec: the session's device must belong to the sender, by both of its keys (the Ed25519
      // key claimed when the session was shared must be the device's signing key).
      const device = await this.#olm.deviceFor(sender, decrypted.senderKey);
      if (device === undefined || device.ed25519 !== key.senderClaimedEd25519) {
        throw new ClientError(
          'untrusted-sender',
          'the session was created by a device the sender does not own',
          {
            roomId,
            eventId,
            sessionId,
            userId: sender,
          },
        );
      }
      if (!this.#store.checkReplay(decrypted.sessionId, decrypted.messageIndex, eventId)) {
        throw new ClientError('replayed-message', 'another event already used this message index', {
          roomId,
          eventId,
          sessionId,
        });
      }
    };
    let decrypted: Awaited<ReturnType<RoomKeyReceiver['decrypt']>>;
    try {
      decrypted = await this.#receiver.decrypt(roomId, content, check);
    } catch (cause) {
      if (ClientError.isInstance(cause)) throw cause;
      if (EpochError.isInstance(cause) && cause.code === 'unknown-session') {
        const deviceId =
          typeof content['device_id'] === 'string' ? content['device_id'] : 'unknown';
        throw new ClientError(
          'missing-key',
          `no room key for session ${sessionId} from ${sender} (device ${deviceId}): it has not arrived, ` +
            'was not shared with this device, or was deleted under the room policy',
          { roomId, eventId, sessionId, userId: sender, deviceId },
          { cause },
        );
      }
      throw new ClientError(
        'decrypt-failed',
        'the room event cannot be decrypted',
        { roomId, eventId, sessionId },
        { cause },
      );
    }
    return {
      type: decrypted.type,
      content: decrypted.content as Record<string, unknown>,
      sessionId: decrypted.sessionId,
      messageIndex: decrypted.messageIndex,
    };
  }
}
