/**
 * The sending side of the policy engine: one `RoomEncryptor` per (room, sending device).
 *
 * It decides when the device's outbound Megolm session is replaced and which keys (which session,
 * from which index, as which event type) go to which device, then asks the caller's Olm layer to
 * encrypt them. Spec: client-server API, End-to-End Encryption, `m.megolm.v1.aes-sha2` (creating,
 * sharing and rotating sessions), `m.room_key`, `m.forwarded_room_key`,
 * "Reporting that decryption keys are withheld".
 */
import { EpochError } from './errors.ts';
import {
  forwardedRoomKeyContent,
  olmPlaintext,
  roomKeyContent,
  withheldContent,
} from './payloads.ts';
import {
  checkPolicy,
  MEGOLM_ALGORITHM,
  POLICY_RULES,
  type RoomPolicy,
  samePolicy,
} from './policy.ts';
import { checkRoom, deviceKey, membershipOf, recipientsOf } from './recipients.ts';
import type {
  DeviceInfo,
  MegolmBackend,
  MegolmEncryptedContent,
  MembershipChange,
  OlmEncryptor,
  OutboundGroupSession,
  OwnDevice,
  RoomKeyStore,
  RoomSnapshot,
  ShareCost,
  ToDeviceMessage,
  WithheldCode,
} from './types.ts';

/**
 * The room as the engine should see it: a snapshot, or a function giving the current one. A
 * function is called inside the engine's one-at-a-time queue, right before keys are built, and
 * again if a membership change is noted while its answer is in use, so a member removed meanwhile
 * never gets the new key (see {@link RoomEncryptor.encrypt}).
 */
export type RoomSource = RoomSnapshot | (() => RoomSnapshot | Promise<RoomSnapshot>);

/** Attempts of one operation against a {@link RoomSource} function before giving up. */
const ROOM_ATTEMPTS = 5;

/** Why a new outbound session was started. */
export type RekeyReason =
  | 'first-message'
  | 'on-demand'
  | 'policy-change'
  | 'membership-rekey'
  | 'membership-change'
  | 'recipients-changed'
  | 'message-limit'
  | 'age-limit'
  | 'per-message';

/** What one rekey did and cost. */
export interface RekeyReport {
  /** The new session's ID. */
  readonly sessionId: string;
  readonly reason: RekeyReason;
  /** Devices the new key was offered to (including those refused with a withheld notice). */
  readonly recipients: number;
  readonly cost: ShareCost;
}

/** Result of {@link RoomEncryptor.encrypt}: send `toDevice` first, then the room event. */
export interface EncryptResult {
  /** To-device messages that must be delivered before the room event. */
  readonly toDevice: readonly ToDeviceMessage[];
  /** The `m.room.encrypted` content of the room event. */
  readonly content: MegolmEncryptedContent;
  /** Present when this message started a new session. */
  readonly rekey?: RekeyReport;
  /** Everything this message cost in key sharing (rekey included). */
  readonly cost: ShareCost;
}

/** Result of an explicit {@link RoomEncryptor.rekey}. */
export interface RekeyResult {
  readonly toDevice: readonly ToDeviceMessage[];
  /** Absent in `forward-secret` rooms, where every message already has its own session. */
  readonly report?: RekeyReport;
}

/** Result of {@link RoomEncryptor.shareKeys} and {@link RoomEncryptor.answerKeyRequest}. */
export interface ShareResult {
  readonly toDevice: readonly ToDeviceMessage[];
  readonly cost: ShareCost;
  /** Present when sharing had to start a new session first. */
  readonly report?: RekeyReport;
}

/** A key request from another device (`m.room_key_request`, action `request`). */
export interface KeyRequest {
  readonly roomId: string;
  readonly sessionId: string;
  readonly requester: DeviceInfo;
}

/** Options of a {@link RoomEncryptor}. */
export interface RoomEncryptorOptions {
  readonly roomId: string;
  readonly own: OwnDevice;
  /** The room's policy, usually `parseEncryptionContent(m.room.encryption content)`. */
  readonly policy: RoomPolicy;
  readonly megolm: MegolmBackend;
  readonly olm: OlmEncryptor;
  readonly store: RoomKeyStore;
  /** Clock in milliseconds, for `rotateAfterMs`; defaults to `Date.now`. */
  readonly now?: () => number;
  /** Share keys only with verified devices; others get `m.unverified`. Default false. */
  readonly onlyVerified?: boolean;
  /** Share keys with invited (not yet joined) users' devices. Default true. */
  readonly includeInvited?: boolean;
}

interface CurrentSession {
  readonly outbound: OutboundGroupSession;
  readonly sessionId: string;
  readonly createdAt: number;
  readonly sharedHistory: boolean;
  readonly singleUse: boolean;
  /** Every device allowed the key (by {@link deviceKey}) when the session started. */
  readonly recipientsAtStart: ReadonlySet<string>;
  messages: number;
  /** The session-sharing key at `keyIndex` (cached: each export costs a signature). */
  key: string;
  keyIndex: number;
}

interface Work {
  toDevice: ToDeviceMessage[];
  olmEncryptions: number;
  withheld: number;
  /** Keys given in this operation (session, device, index): recorded once it is kept. */
  given: Array<{ sessionId: string; device: DeviceInfo; index: number }>;
}

function newWork(): Work {
  return { toDevice: [], olmEncryptions: 0, withheld: 0, given: [] };
}

const NO_COST: ShareCost = Object.freeze({ toDeviceMessages: 0, olmEncryptions: 0, withheld: 0 });

/**
 * Encrypts room events for one device in one room according to the room's policy.
 *
 * Async calls on one instance run one at a time in call order (an internal queue), so a message
 * never sees a half-shared session.
 */
export class RoomEncryptor {
  readonly #roomId: string;
  readonly #own: OwnDevice;
  readonly #megolm: MegolmBackend;
  readonly #olm: OlmEncryptor;
  readonly #store: RoomKeyStore;
  readonly #now: () => number;
  readonly #onlyVerified: boolean;
  readonly #includeInvited: boolean;
  #policy: RoomPolicy;
  #current: CurrentSession | undefined;
  #pending: RekeyReason | undefined;
  /** For each own session: the devices given it and the index they got it from. */
  readonly #given = new Map<string, Map<string, number>>();
  /** Per session: the (device, code) pairs already told the key is withheld, so it is said once. */
  readonly #withheldSent = new Map<string, Set<string>>();
  /** Devices already sent `m.no_olm`: the spec asks for one notice until Olm works again. */
  readonly #noOlmSent = new Set<string>();
  /** The tail of the queue that runs async operations one at a time. */
  #queue: Promise<unknown> = Promise.resolve();
  /** True while a queued operation runs: the outbound session is then in use. */
  #busy = false;
  /** Counts membership and policy changes, so an operation sees that its room went stale. */
  #changes = 0;

  constructor(options: RoomEncryptorOptions) {
    if (typeof options !== 'object' || options === null)
      throw new TypeError('options must be an object');
    if (typeof options.roomId !== 'string' || !options.roomId.startsWith('!')) {
      throw new TypeError('options.roomId must be a room ID');
    }
    if (typeof options.own?.curve25519 !== 'string' || typeof options.own.ed25519 !== 'string') {
      throw new TypeError('options.own must carry the device keys');
    }
    for (const key of ['megolm', 'olm', 'store'] as const) {
      if (typeof options[key] !== 'object' || options[key] === null)
        throw new TypeError(`options.${key} is required`);
    }
    this.#roomId = options.roomId;
    this.#own = options.own;
    this.#policy = checkPolicy(options.policy);
    this.#megolm = options.megolm;
    this.#olm = options.olm;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#onlyVerified = options.onlyVerified ?? false;
    this.#includeInvited = options.includeInvited ?? true;
  }

  /** The policy currently applied. */
  get policy(): RoomPolicy {
    return this.#policy;
  }

  /** The current outbound session's ID (public), if one is in use. */
  get currentSessionId(): string | undefined {
    return this.#current?.sessionId;
  }

  /**
   * Applies a new `m.room.encryption` policy. A different policy drops the current outbound
   * session at once, so the change takes effect from the next message.
   */
  setPolicy(policy: RoomPolicy): void {
    const next = checkPolicy(policy);
    if (samePolicy(next, this.#policy)) return;
    this.#policy = next;
    this.#changes += 1;
    this.#drop('policy-change');
  }

  /**
   * Records a membership change seen in room state. In modes that rotate on membership the next
   * message starts a new session; with `rekey: true` (the option offered on invite and kick)
   * every mode does.
   */
  noteMembershipChange(change: MembershipChange): void {
    if (typeof change !== 'object' || change === null || typeof change.userId !== 'string') {
      throw new TypeError('change must be a membership change with a userId');
    }
    this.#changes += 1;
    if (change.rekey === true) this.#drop('membership-rekey');
    else if (POLICY_RULES[this.#policy.mode].rotateOnMembershipChange)
      this.#drop('membership-change');
  }

  /**
   * Starts a new session now and shares it with every recipient ("rekey on demand"). In a
   * `forward-secret` room this is a no-op: every message already has its own session.
   */
  rekey(room: RoomSource): Promise<RekeyResult> {
    return this.#serial(() =>
      this.#withRoom(room, async (snapshot, work) => {
        this.#assertJoined(snapshot);
        if (POLICY_RULES[this.#policy.mode].sessionPerMessage) return { toDevice: [] };
        const report = await this.#rotate('on-demand', snapshot, work);
        return { toDevice: work.toDevice, report };
      }),
    );
  }

  /**
   * Gives every recipient the keys it lacks now, without sending a message (e.g. when a member
   * joins, so `shared` history reaches it before this device next speaks). Rotates first when
   * the policy requires it. A no-op in `forward-secret` rooms.
   */
  shareKeys(room: RoomSource): Promise<ShareResult> {
    return this.#serial(() =>
      this.#withRoom(room, (snapshot, work) => this.#shareKeys(snapshot, work)),
    );
  }

  async #shareKeys(room: RoomSnapshot, work: Work): Promise<ShareResult> {
    this.#assertJoined(room);
    if (POLICY_RULES[this.#policy.mode].sessionPerMessage) return { toDevice: [], cost: NO_COST };
    const reason = this.#rotationReason(room);
    let report: RekeyReport | undefined;
    if (reason !== undefined) report = await this.#rotate(reason, room, work);
    else await this.#share(room, work);
    return {
      toDevice: work.toDevice,
      ...(report === undefined ? {} : { report }),
      cost: costOf(work),
    };
  }

  /**
   * Encrypts one room event. Returns the to-device key messages to deliver first and the
   * `m.room.encrypted` content (spec: the Megolm plaintext is `{type, content, room_id}`).
   *
   * Pass the room as a function when membership may change while this call waits (other calls
   * queued before it, device lookups): it is read when the keys are built, and if a membership
   * change is noted before the keys are handed back, the work is discarded and done again from
   * a fresh answer, so a removed member's devices get nothing. A plain snapshot is used as given.
   * @throws EpochError `membership-unsettled` when the room kept changing for every attempt.
   */
  encrypt(
    eventType: string,
    content: Readonly<Record<string, unknown>>,
    room: RoomSource,
  ): Promise<EncryptResult> {
    if (typeof eventType !== 'string' || eventType === '')
      return Promise.reject(new TypeError('eventType must be a string'));
    if (typeof content !== 'object' || content === null)
      return Promise.reject(new TypeError('content must be an object'));
    return this.#serial(() =>
      this.#withRoom(room, (snapshot, work) => this.#encrypt(eventType, content, snapshot, work)),
    );
  }

  /**
   * Runs one operation against the room. With a function for the room, the operation is done
   * again (its to-device messages and bookkeeping dropped, a session it started discarded) when
   * a membership or policy change was noted while it ran; otherwise its bookkeeping is kept.
   */
  async #withRoom<T>(
    source: RoomSource,
    run: (room: RoomSnapshot, work: Work) => Promise<T>,
  ): Promise<T> {
    if (typeof source !== 'function') {
      const work = newWork();
      const result = await run(source, work);
      this.#keep(work);
      return result;
    }
    for (let attempt = 1; attempt <= ROOM_ATTEMPTS; attempt++) {
      const changes = this.#changes;
      const room = await source();
      if (changes !== this.#changes) continue;
      const before = this.#current?.sessionId;
      const work = newWork();
      const result = await run(room, work);
      if (changes === this.#changes) {
        this.#keep(work);
        return result;
      }
      // Stale: nothing of this attempt leaves the engine. A session it started is never used.
      const started = this.#current?.sessionId;
      if (started !== undefined && started !== before) {
        this.#forgetCurrent();
        this.#pending ??= 'membership-change';
        await this.#store.delete(this.#roomId, started);
      }
    }
    throw new EpochError(
      'membership-unsettled',
      `the room's membership kept changing during ${ROOM_ATTEMPTS} attempts to share its key`,
      { roomId: this.#roomId },
    );
  }

  #keep(work: Work): void {
    for (const { sessionId, device, index } of work.given)
      this.#markGiven(sessionId, device, index);
  }

  async #encrypt(
    eventType: string,
    content: Readonly<Record<string, unknown>>,
    room: RoomSnapshot,
    work: Work,
  ): Promise<EncryptResult> {
    this.#assertJoined(room);
    const reason = this.#rotationReason(room);
    let rekey: RekeyReport | undefined;
    if (reason !== undefined) rekey = await this.#rotate(reason, room, work);
    else await this.#share(room, work);
    const current = this.#current;
    if (current === undefined) throw new Error('unreachable: no outbound session after rotation');
    const ciphertext = current.outbound.encrypt(
      JSON.stringify({ type: eventType, content, room_id: this.#roomId }),
    );
    current.messages += 1;
    if (current.singleUse) {
      // Nothing can be asked about a single-use session later: drop its bookkeeping too.
      this.#forgetCurrent();
      this.#given.delete(current.sessionId);
      this.#withheldSent.delete(current.sessionId);
    }
    return {
      toDevice: work.toDevice,
      content: {
        algorithm: MEGOLM_ALGORITHM,
        sender_key: this.#own.curve25519,
        device_id: this.#own.deviceId,
        session_id: current.sessionId,
        ciphertext,
      },
      ...(rekey === undefined ? {} : { rekey }),
      cost: costOf(work),
    };
  }

  /**
   * Answers another device's key request for one of this device's sessions: a
   * `m.forwarded_room_key`, or `m.room_key.withheld` with the reason it is refused.
   *
   * Entitled: a current recipient asking for a session whose history is shared, or for a session
   * it was already given (from the index it was given). Everything else is `m.unauthorised`; a
   * key this device no longer holds (e.g. deleted by `forward-secret`) is `m.unavailable`.
   */
  answerKeyRequest(request: KeyRequest, room: RoomSnapshot): Promise<ShareResult> {
    return this.#serial(() =>
      this.#withRoom(room, (snapshot, work) => this.#answerKeyRequest(request, snapshot, work)),
    );
  }

  async #answerKeyRequest(
    request: KeyRequest,
    room: RoomSnapshot,
    work: Work,
  ): Promise<ShareResult> {
    if (typeof request !== 'object' || request === null || typeof request.requester !== 'object') {
      throw new TypeError('request must have roomId, sessionId and requester');
    }
    checkRoom(room);
    const device = request.requester;
    const isRecipient = recipientsOf(room, this.#own, this.#includeInvited).some(
      (d) => deviceKey(d) === deviceKey(device),
    );
    const refusal = this.#refusal(device);
    const key =
      request.roomId === this.#roomId
        ? await this.#store.get(this.#roomId, request.sessionId)
        : undefined;
    const ownKey = key !== undefined && key.senderKey === this.#own.curve25519 ? key : undefined;
    const givenAt = this.#given.get(request.sessionId)?.get(deviceKey(device));
    let code: WithheldCode | undefined;
    let index: number | undefined;
    if (!isRecipient) code = 'm.unauthorised';
    else if (refusal !== undefined) code = refusal;
    else if (ownKey === undefined) code = 'm.unavailable';
    else if (ownKey.sharedHistory && POLICY_RULES[this.#policy.mode].historyShared) {
      index = ownKey.session.firstKnownIndex();
    } else if (givenAt !== undefined) index = Math.max(givenAt, ownKey.session.firstKnownIndex());
    else code = 'm.unauthorised';
    if (code !== undefined || ownKey === undefined || index === undefined) {
      this.#pushWithheld(work, device, code ?? 'm.unavailable', request.sessionId, true);
    } else {
      const payload = forwardedRoomKeyContent(
        this.#own,
        this.#roomId,
        request.sessionId,
        ownKey.session.exportAt(index),
        ownKey.sharedHistory,
      );
      if (await this.#send(work, device, 'm.forwarded_room_key', payload)) {
        work.given.push({ sessionId: request.sessionId, device, index });
      }
    }
    return { toDevice: work.toDevice, cost: costOf(work) };
  }

  /** Public state only: never key material. */
  toJSON(): Record<string, unknown> {
    return {
      roomId: this.#roomId,
      device: this.#own.deviceId,
      policy: this.#policy,
      sessionId: this.#current?.sessionId,
      messageIndex: this.#current?.outbound.messageIndex(),
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `RoomEncryptor ${JSON.stringify(this.toJSON())}`;
  }

  /** Runs `task` after every earlier one has settled, so callers may overlap calls freely. */
  #serial<T>(task: () => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      this.#busy = true;
      try {
        return await task();
      } finally {
        this.#busy = false;
      }
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #assertJoined(room: RoomSnapshot): void {
    checkRoom(room);
    if (membershipOf(room, this.#own.userId) !== 'join') {
      throw new EpochError('not-a-member', 'the sending user is not joined to the room', {
        roomId: this.#roomId,
      });
    }
  }

  /**
   * Requests a new session before the next message and forgets the outbound one. While an
   * operation runs the session stays (it is being shared): the pending rekey replaces it when the
   * next message starts, and an operation against a room function starts over with a new one.
   */
  #drop(reason: RekeyReason): void {
    if (!this.#busy) this.#forgetCurrent();
    this.#pending ??= reason;
  }

  #forgetCurrent(): void {
    const outbound = this.#current?.outbound as
      | (OutboundGroupSession & { free?: () => void })
      | undefined;
    this.#current = undefined;
    // Backends that hold the ratchet outside the JS heap (libolm's wasm) can erase it now.
    outbound?.free?.();
  }

  /**
   * Spec `m.megolm.v1.aes-sha2`: rotate after `rotation_period_ms` / `rotation_period_msgs`,
   * and (epoch, forward-secret) whenever a device that may hold the key is no longer a recipient
   * or a new device must not read what came before.
   */
  #rotationReason(room: RoomSnapshot): RekeyReason | undefined {
    const rules = POLICY_RULES[this.#policy.mode];
    if (rules.sessionPerMessage) return 'per-message';
    if (this.#pending !== undefined) return this.#pending;
    const current = this.#current;
    if (current === undefined) return 'first-message';
    const { rotateAfterMessages, rotateAfterMs } = this.#policy;
    if (rotateAfterMessages !== undefined && current.messages >= rotateAfterMessages)
      return 'message-limit';
    if (rotateAfterMs !== undefined && this.#now() - current.createdAt >= rotateAfterMs)
      return 'age-limit';
    if (rules.rotateOnMembershipChange) {
      const now = this.#allowedKeys(room);
      if (
        now.length !== current.recipientsAtStart.size ||
        now.some((k) => !current.recipientsAtStart.has(k))
      ) {
        return 'recipients-changed';
      }
    }
    return undefined;
  }

  async #rotate(reason: RekeyReason, room: RoomSnapshot, work: Work): Promise<RekeyReport> {
    this.#forgetCurrent();
    this.#pending = undefined;
    const rules = POLICY_RULES[this.#policy.mode];
    const outbound = this.#megolm.createOutbound();
    const sessionId = outbound.sessionId();
    const initialKey = outbound.sessionKey();
    const recipients = recipientsOf(room, this.#own, this.#includeInvited);
    this.#current = {
      outbound,
      sessionId,
      createdAt: this.#now(),
      sharedHistory: rules.historyShared,
      singleUse: rules.sessionPerMessage,
      recipientsAtStart: new Set(this.#allowedKeys(room)),
      messages: 0,
      key: initialKey,
      keyIndex: 0,
    };
    if (rules.senderKeepsKeys) {
      // Every client keeps an inbound copy of its own session to read its own messages back.
      await this.#store.put({
        roomId: this.#roomId,
        sessionId,
        senderKey: this.#own.curve25519,
        senderClaimedEd25519: this.#own.ed25519,
        session: this.#megolm.inboundFromSessionKey(initialKey),
        sharedHistory: rules.historyShared,
        singleUse: false,
        ratchetOnUse: false,
      });
    }
    const before = costOf(work);
    await this.#share(room, work);
    const after = costOf(work);
    return {
      sessionId,
      reason,
      recipients: recipients.length,
      cost: {
        toDeviceMessages: after.toDeviceMessages - before.toDeviceMessages,
        olmEncryptions: after.olmEncryptions - before.olmEncryptions,
        withheld: after.withheld - before.withheld,
      },
    };
  }

  /** Gives every recipient the keys it lacks under the current policy. */
  async #share(room: RoomSnapshot, work: Work): Promise<void> {
    const current = this.#current;
    if (current === undefined) return;
    const given = this.#given.get(current.sessionId);
    // Only devices without the current session need anything: a device is offered the history
    // in the same pass that gives it the current session, so the common case costs no store read.
    const pending = recipientsOf(room, this.#own, this.#includeInvited).filter(
      (device) => given?.has(deviceKey(device)) !== true,
    );
    if (pending.length === 0) return;
    const history = POLICY_RULES[this.#policy.mode].historyShared
      ? (await this.#store.list(this.#roomId)).filter(
          (k) =>
            k.sharedHistory &&
            k.senderKey === this.#own.curve25519 &&
            k.sessionId !== current.sessionId,
        )
      : [];
    for (const device of pending) {
      const key = deviceKey(device);
      const refusal = this.#refusal(device);
      if (refusal !== undefined) {
        this.#pushWithheld(work, device, refusal, current.sessionId, false);
        continue;
      }
      if (!(await this.#shareCurrent(work, device, current))) continue;
      for (const old of history) {
        if (this.#given.get(old.sessionId)?.has(key) === true) continue;
        const first = old.session.firstKnownIndex();
        await this.#forward(work, device, old.sessionId, old.session.exportAt(first), first);
      }
    }
  }

  /**
   * Gives the current session to one device: from its first index when its history is shared
   * (as `m.forwarded_room_key`, the export format), else at the current index (`m.room_key`).
   */
  async #shareCurrent(work: Work, device: DeviceInfo, current: CurrentSession): Promise<boolean> {
    const index = current.outbound.messageIndex();
    if (index > 0 && current.sharedHistory) {
      const own = await this.#store.get(this.#roomId, current.sessionId);
      if (own !== undefined) {
        const first = own.session.firstKnownIndex();
        return this.#forward(work, device, current.sessionId, own.session.exportAt(first), first);
      }
    }
    // The session key is signed on every export: compute it once per index, not per device.
    if (current.keyIndex !== index) {
      current.key = current.outbound.sessionKey();
      current.keyIndex = index;
    }
    const payload = roomKeyContent(
      this.#roomId,
      current.sessionId,
      current.key,
      current.sharedHistory,
      current.singleUse,
    );
    if (!(await this.#send(work, device, 'm.room_key', payload))) return false;
    work.given.push({ sessionId: current.sessionId, device, index });
    return true;
  }

  async #forward(
    work: Work,
    device: DeviceInfo,
    sessionId: string,
    exported: string,
    index: number,
  ): Promise<boolean> {
    const payload = forwardedRoomKeyContent(this.#own, this.#roomId, sessionId, exported, true);
    if (!(await this.#send(work, device, 'm.forwarded_room_key', payload))) return false;
    work.given.push({ sessionId, device, index });
    return true;
  }

  #markGiven(sessionId: string, device: DeviceInfo, index: number): void {
    let devices = this.#given.get(sessionId);
    if (devices === undefined) {
      devices = new Map();
      this.#given.set(sessionId, devices);
    }
    const key = deviceKey(device);
    const previous = devices.get(key);
    devices.set(key, previous === undefined ? index : Math.min(previous, index));
  }

  /**
   * The devices allowed the key now. A device newly blocked (or unverified under `onlyVerified`)
   * leaves this set, so in `epoch` and `forward-secret` it loses the next session like a departed
   * member.
   */
  #allowedKeys(room: RoomSnapshot): string[] {
    return recipientsOf(room, this.#own, this.#includeInvited)
      .filter((device) => this.#refusal(device) === undefined)
      .map(deviceKey);
  }

  #refusal(device: DeviceInfo): WithheldCode | undefined {
    if (device.blocked === true) return 'm.blacklisted';
    if (this.#onlyVerified && device.verified !== true) return 'm.unverified';
    return undefined;
  }

  /** Olm-encrypts one key payload to one device; on no Olm channel, says `m.no_olm` once. */
  async #send(
    work: Work,
    device: DeviceInfo,
    type: string,
    content: Readonly<Record<string, unknown>>,
  ): Promise<boolean> {
    const encrypted = await this.#olm.encryptForDevice(
      device,
      olmPlaintext(this.#own, device, type, content),
    );
    work.olmEncryptions += 1;
    const key = deviceKey(device);
    if (encrypted === undefined) {
      if (!this.#noOlmSent.has(key)) {
        this.#noOlmSent.add(key);
        this.#pushWithheld(work, device, 'm.no_olm', '', true);
      }
      return false;
    }
    this.#noOlmSent.delete(key);
    work.toDevice.push({
      type: 'm.room.encrypted',
      userId: device.userId,
      deviceId: device.deviceId,
      content: encrypted,
    });
    return true;
  }

  #pushWithheld(
    work: Work,
    device: DeviceInfo,
    code: WithheldCode,
    sessionId: string,
    always: boolean,
  ): void {
    if (!always) {
      const once = `${deviceKey(device)}\u0000${code}`;
      let sent = this.#withheldSent.get(sessionId);
      if (sent === undefined) {
        sent = new Set();
        this.#withheldSent.set(sessionId, sent);
      }
      if (sent.has(once)) return;
      sent.add(once);
    }
    work.withheld += 1;
    work.toDevice.push({
      type: 'm.room_key.withheld',
      userId: device.userId,
      deviceId: device.deviceId,
      content: withheldContent(this.#own, code, this.#roomId, sessionId),
    });
  }
}

function costOf(work: Work): ShareCost {
  if (work.toDevice.length === 0 && work.olmEncryptions === 0) return NO_COST;
  return {
    toDeviceMessages: work.toDevice.length,
    olmEncryptions: work.olmEncryptions,
    withheld: work.withheld,
  };
}
