/**
 * The receiving side of the policy engine: imports room keys that arrived over Olm and decrypts
 * room events, applying the key-store rule of the room's policy (what is kept, what is deleted).
 *
 * Spec: client-server API, End-to-End Encryption, `m.megolm.v1.aes-sha2` ("the client MUST
 * ensure that the session was received via an Olm channel"; an updated session must come from a
 * trusted source and have a lower first index), `m.room_key`, `m.forwarded_room_key`.
 */
import { parseAnyJson } from '@weft/canonical-json';
import { EpochError, typeName } from './errors.ts';
import { recordAt, SINGLE_USE_FIELD, stringField } from './payloads.ts';
import { MEGOLM_ALGORITHM, POLICY_RULES, type RoomPolicy } from './policy.ts';
import type {
  MegolmBackend,
  OlmPlaintext,
  OwnDevice,
  RoomKeyStore,
  StoredRoomKey,
} from './types.ts';

/** Erases a dropped session's state at once when its backend can (`free()`). */
function release(session: StoredRoomKey['session']): void {
  (session as { free?: () => void }).free?.();
}

/** What {@link RoomKeyReceiver.receiveKey} did with a key. */
export type KeyImportOutcome =
  /** The key was stored. */
  | 'stored'
  /** A key for the session from the same or an earlier index was already held; it stays. */
  | 'kept-existing'
  /**
   * The key was refused: this device already used and deleted it (a single-use key, e.g. a
   * replayed Olm message bringing it back).
   */
  | 'refused-deleted';

/** A decrypted room event. */
export interface DecryptedEvent {
  readonly type: string;
  readonly content: Readonly<Record<string, unknown>>;
  readonly sessionId: string;
  readonly messageIndex: number;
  /** Curve25519 key of the device that created the session (as authenticated by Olm). */
  readonly senderKey: string;
}

/**
 * The caller's checks on a decrypted event (sender owns the device, replay): throwing refuses the
 * event, and the room's key-store rule is then not applied (a single-use key is not deleted).
 */
export type DecryptCheck = (
  event: DecryptedEvent,
  key: {
    /** Ed25519 key the session's creator claimed in the Olm payload that carried the key. */
    readonly senderClaimedEd25519: string;
  },
) => void | Promise<void>;

/** Options of a {@link RoomKeyReceiver}. */
export interface RoomKeyReceiverOptions {
  readonly own: OwnDevice;
  readonly megolm: MegolmBackend;
  readonly store: RoomKeyStore;
  /** This device's view of each room's policy (from its `m.room.encryption` state). */
  readonly policyFor: (roomId: string) => RoomPolicy | undefined;
}

/**
 * Imports keys and decrypts room events for one device, across rooms.
 *
 * Key-store rules, fixed when a key is imported: in `shared` and `epoch` rooms every key is kept;
 * a key marked single-use by a Weft `forward-secret` sender is deleted right after its message is
 * decrypted; any other key received while the room is `forward-secret` is re-imported from the
 * next index after each message, so no stored key decrypts a message already read.
 */
export class RoomKeyReceiver {
  readonly #own: OwnDevice;
  readonly #megolm: MegolmBackend;
  readonly #store: RoomKeyStore;
  readonly #policyFor: (roomId: string) => RoomPolicy | undefined;
  /** Deleted single-use keys, when the store keeps no tombstones of its own. */
  readonly #deleted = new Set<string>();

  constructor(options: RoomKeyReceiverOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('options must be an object');
    if (typeof options.policyFor !== 'function')
      throw new TypeError('options.policyFor must be a function');
    this.#own = options.own;
    this.#megolm = options.megolm;
    this.#store = options.store;
    this.#policyFor = options.policyFor;
  }

  /**
   * Imports an `m.room_key` or `m.forwarded_room_key` the caller has Olm-decrypted.
   * `olmSenderKey` is the Curve25519 key of the Olm session it arrived on: the only sender
   * identity that is authenticated.
   *
   * A forwarded key is accepted only from the device that created the session (an empty
   * forwarding chain and `sender_key` equal to the Olm sender), which is how Weft's `shared`
   * history travels; keys relayed by third devices are refused.
   *
   * @throws EpochError `wrong-recipient`, `invalid-content`, `untrusted-forward`, `session-mismatch`.
   */
  async receiveKey(plaintext: OlmPlaintext, olmSenderKey: string): Promise<KeyImportOutcome> {
    if (typeof olmSenderKey !== 'string' || olmSenderKey === '') {
      throw new TypeError('olmSenderKey must be the Olm sender’s Curve25519 key');
    }
    const payload = recordAt(plaintext, 'plaintext');
    if (payload['recipient'] !== this.#own.userId) {
      throw new EpochError('wrong-recipient', 'the key was addressed to another user', {
        path: 'plaintext.recipient',
      });
    }
    const recipientKeys = recordAt(payload['recipient_keys'], 'plaintext.recipient_keys');
    if (recipientKeys['ed25519'] !== this.#own.ed25519) {
      throw new EpochError('wrong-recipient', 'the key was addressed to another device', {
        path: 'plaintext.recipient_keys.ed25519',
      });
    }
    const claimedEd25519 = stringField(
      recordAt(payload['keys'], 'plaintext.keys'),
      'ed25519',
      'plaintext.keys',
    );
    const content = recordAt(payload['content'], 'plaintext.content');
    if (content['algorithm'] !== MEGOLM_ALGORITHM) {
      throw new EpochError('invalid-content', 'the key is not for m.megolm.v1.aes-sha2', {
        path: 'plaintext.content.algorithm',
        got: typeName(content['algorithm']),
      });
    }
    const roomId = stringField(content, 'room_id', 'plaintext.content');
    const sessionId = stringField(content, 'session_id', 'plaintext.content');
    const sessionKey = stringField(content, 'session_key', 'plaintext.content');
    const sharedHistory = content['shared_history'] === true;
    let session: StoredRoomKey['session'];
    let singleUse = false;
    if (payload['type'] === 'm.room_key') {
      session = this.#import(
        () => this.#megolm.inboundFromSessionKey(sessionKey),
        roomId,
        sessionId,
      );
      singleUse = content[SINGLE_USE_FIELD] === true;
    } else if (payload['type'] === 'm.forwarded_room_key') {
      const chain = content['forwarding_curve25519_key_chain'];
      if (!Array.isArray(chain)) {
        throw new EpochError(
          'invalid-content',
          'forwarding_curve25519_key_chain must be an array',
          {
            path: 'plaintext.content.forwarding_curve25519_key_chain',
            got: typeName(chain),
          },
        );
      }
      const creatorKey = stringField(content, 'sender_key', 'plaintext.content');
      const creatorEd25519 = stringField(
        content,
        'sender_claimed_ed25519_key',
        'plaintext.content',
      );
      if (chain.length !== 0 || creatorKey !== olmSenderKey || creatorEd25519 !== claimedEd25519) {
        throw new EpochError(
          'untrusted-forward',
          'a forwarded key must come from the session creator',
          {
            roomId,
            sessionId,
          },
        );
      }
      session = this.#import(() => this.#megolm.inboundFromExport(sessionKey), roomId, sessionId);
    } else {
      throw new EpochError('invalid-content', 'not a room key event', {
        path: 'plaintext.type',
        expected: 'm.room_key | m.forwarded_room_key',
        got: typeof payload['type'] === 'string' ? payload['type'] : typeName(payload['type']),
      });
    }
    if (await this.#wasDeleted(roomId, sessionId)) {
      release(session);
      return 'refused-deleted';
    }
    const existing = await this.#store.get(roomId, sessionId);
    if (existing !== undefined) {
      if (existing.senderKey !== olmSenderKey) {
        throw new EpochError(
          'session-mismatch',
          'another device already sent a key for this session',
          {
            roomId,
            sessionId,
          },
        );
      }
      // Spec: a stored session is replaced only by one with a lower first index. A key that is
      // ratcheted forward after reading is never wound back (that would undo the ratchet).
      if (
        existing.ratchetOnUse ||
        existing.session.firstKnownIndex() <= session.firstKnownIndex()
      ) {
        release(session);
        return 'kept-existing';
      }
    }
    const policy = this.#policyFor(roomId);
    const keeps = policy === undefined || POLICY_RULES[policy.mode].receiverKeepsKeys;
    await this.#store.put({
      roomId,
      sessionId,
      senderKey: olmSenderKey,
      senderClaimedEd25519: claimedEd25519,
      session,
      sharedHistory,
      singleUse,
      ratchetOnUse: !singleUse && !keeps,
    });
    if (existing !== undefined) release(existing.session);
    return 'stored';
  }

  /**
   * Decrypts a Megolm room event of `roomId`, runs the caller's `check` (sender and replay
   * checks), and only when it passes applies the room's key-store rule: a copy of a
   * forward-secret event that the checks refuse does not delete the key of the real one.
   *
   * @throws EpochError `invalid-content`, `unknown-session`, `decrypt-failed`, `room-mismatch`;
   *   whatever `check` throws.
   */
  async decrypt(roomId: string, encrypted: unknown, check?: DecryptCheck): Promise<DecryptedEvent> {
    if (typeof roomId !== 'string' || roomId === '')
      throw new TypeError('roomId must be a room ID');
    const content = recordAt(encrypted, 'content');
    if (content['algorithm'] !== MEGOLM_ALGORITHM) {
      throw new EpochError('invalid-content', 'not an m.megolm.v1.aes-sha2 event', {
        roomId,
        path: 'content.algorithm',
        got: typeName(content['algorithm']),
      });
    }
    const sessionId = stringField(content, 'session_id', 'content');
    const ciphertext = stringField(content, 'ciphertext', 'content');
    const key = await this.#store.get(roomId, sessionId);
    if (key === undefined || key.roomId !== roomId) {
      throw new EpochError('unknown-session', 'no key is held for this session', {
        roomId,
        sessionId,
      });
    }
    let result: { plaintext: string; messageIndex: number };
    try {
      result = key.session.decrypt(ciphertext);
    } catch (cause) {
      throw new EpochError('decrypt-failed', 'the held key cannot decrypt this message', {
        roomId,
        sessionId,
        cause,
      });
    }
    let event: unknown;
    try {
      event = parseAnyJson(result.plaintext);
    } catch (cause) {
      throw new EpochError('invalid-content', 'the decrypted payload is not JSON', {
        roomId,
        sessionId,
        cause,
      });
    }
    const body = recordAt(event, 'plaintext');
    // Spec: the room ID is inside the ciphertext so a server cannot move an event between rooms.
    if (body['room_id'] !== roomId) {
      throw new EpochError('room-mismatch', 'the event was encrypted for another room', {
        roomId,
        sessionId,
      });
    }
    const type = stringField(body, 'type', 'plaintext');
    const eventContent = recordAt(body['content'], 'plaintext.content');
    const decrypted: DecryptedEvent = {
      type,
      content: eventContent,
      sessionId,
      messageIndex: result.messageIndex,
      senderKey: key.senderKey,
    };
    if (check !== undefined)
      await check(decrypted, { senderClaimedEd25519: key.senderClaimedEd25519 });
    await this.#applyRetention(key, result.messageIndex);
    return decrypted;
  }

  /**
   * The store's tombstone methods when it has both: one without the other would write
   * tombstones never read (or read ones never written), so the in-memory set is used instead.
   */
  #tombstones(): Required<Pick<RoomKeyStore, 'markDeleted' | 'wasDeleted'>> | undefined {
    const store = this.#store;
    if (store.markDeleted === undefined || store.wasDeleted === undefined) return undefined;
    return {
      markDeleted: (roomId, sessionId) => store.markDeleted?.(roomId, sessionId),
      wasDeleted: (roomId, sessionId) => store.wasDeleted?.(roomId, sessionId) ?? false,
    };
  }

  async #wasDeleted(roomId: string, sessionId: string): Promise<boolean> {
    if (this.#deleted.has(`${roomId}|${sessionId}`)) return true;
    return (await this.#tombstones()?.wasDeleted(roomId, sessionId)) === true;
  }

  async #applyRetention(key: StoredRoomKey, messageIndex: number): Promise<void> {
    if (key.singleUse) {
      // The tombstone first: a replayed Olm message must never bring the key back.
      const tombstones = this.#tombstones();
      if (tombstones === undefined) this.#deleted.add(`${key.roomId}|${key.sessionId}`);
      else await tombstones.markDeleted(key.roomId, key.sessionId);
      await this.#store.delete(key.roomId, key.sessionId);
      release(key.session);
      return;
    }
    if (!key.ratchetOnUse) return;
    // A multi-message session received in a forward-secret room (e.g. from a non-Weft sender):
    // keep only the ratchet after this message, so what was read can no longer be decrypted.
    const next = messageIndex + 1;
    if (next <= key.session.firstKnownIndex()) return;
    const advanced = this.#megolm.inboundFromExport(key.session.exportAt(next));
    await this.#store.put({ ...key, session: advanced });
    release(key.session);
  }

  #import<T>(make: () => T & { sessionId(): string }, roomId: string, sessionId: string): T {
    let session: T & { sessionId(): string };
    try {
      session = make();
    } catch (cause) {
      throw new EpochError(
        'invalid-content',
        'the session key is malformed or its signature is invalid',
        {
          roomId,
          sessionId,
          cause,
        },
      );
    }
    if (session.sessionId() !== sessionId) {
      throw new EpochError('session-mismatch', 'session_id does not match the session key', {
        roomId,
        sessionId,
      });
    }
    return session;
  }

  /** Public state only. */
  toJSON(): Record<string, unknown> {
    return { device: this.#own.deviceId };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RoomKeyReceiver ${JSON.stringify(this.toJSON())}`;
  }
}
