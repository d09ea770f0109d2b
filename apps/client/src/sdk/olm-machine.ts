/**
 * This device's Olm layer (spec: client-server API, "End-to-End Encryption" and
 * `m.olm.v1.curve25519-aes-sha2`): the account and its published keys, device-list tracking,
 * Olm sessions established on demand, and to-device encryption and decryption. It implements
 * @weft/epoch's `OlmEncryptor`, so the policy engine hands room keys to it.
 */
import { encodeCanonicalJson, parseAnyJson } from '@weft/canonical-json';
import type {
  DeviceInfo,
  OlmEncryptedContent,
  OlmEncryptor,
  OlmPlaintext,
  OwnDevice,
} from '@weft/epoch';
import { Account, Session } from '@weft/ratchet';
import { decodeBase64, type JsonObject, verifyJson } from '@weft/signing';
import type { MatrixHttpClient } from '@weft/transport';

import { ClientError } from '../errors.ts';
import type { LocalStore } from './local-store.ts';

const OLM_ALGORITHM = 'm.olm.v1.curve25519-aes-sha2';
const MEGOLM_ALGORITHM = 'm.megolm.v1.aes-sha2';
/** Keep this many one-time keys on the server (spec: a client should keep about half its maximum). */
const ONE_TIME_KEY_TARGET = 50;
/**
 * How long the previous fallback key stays usable after a new one is published, so peers that
 * claimed it just before the rotation can still start a session. After that it is forgotten: a
 * replayed pre-key message built on it can no longer start a session (and bring back a key).
 */
export const FALLBACK_KEY_GRACE_MS = 60 * 60 * 1000;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A decrypted, checked to-device event. */
export interface DecryptedToDevice {
  readonly plaintext: OlmPlaintext;
  /** Curve25519 key of the Olm sender (authenticated by the Olm session). */
  readonly senderKey: string;
}

/** The Olm account, device lists and sessions of one logged-in device. */
export class OlmMachine implements OlmEncryptor {
  readonly own: OwnDevice;
  readonly #account: Account;
  readonly #store: LocalStore;
  readonly #http: MatrixHttpClient;
  readonly #devices: Map<string, DeviceInfo[]>;
  readonly #outdated: Set<string>;

  private constructor(own: OwnDevice, account: Account, store: LocalStore, http: MatrixHttpClient) {
    this.own = own;
    this.#account = account;
    this.#store = store;
    this.#http = http;
    this.#devices = new Map(
      Object.entries(store.get<Record<string, DeviceInfo[]>>('devices') ?? {}),
    );
    this.#outdated = new Set(store.get<string[]>('devices-outdated') ?? []);
  }

  /** Loads this device's account from the store, or creates it (first login). */
  static load(
    userId: string,
    deviceId: string,
    store: LocalStore,
    http: MatrixHttpClient,
  ): OlmMachine {
    const pickle = store.get<string>('olm-account');
    const account =
      pickle === undefined ? Account.create() : Account.fromPickle(pickle, store.pickleKey);
    const keys = account.identityKeys();
    const machine = new OlmMachine({ userId, deviceId, ...keys }, account, store, http);
    if (pickle === undefined) machine.#saveAccount();
    return machine;
  }

  #saveAccount(): void {
    this.#store.set('olm-account', this.#account.pickle(this.#store.pickleKey));
  }

  #signed<T extends Record<string, unknown>>(
    object: T,
  ): T & { signatures: Record<string, Record<string, string>> } {
    // Spec appendices, "Signing JSON": sign canonical JSON without `signatures` and `unsigned`.
    const { signatures: _s, unsigned: _u, ...rest } = object as Record<string, unknown>;
    const signature = this.#account.sign(encodeCanonicalJson(rest));
    return {
      ...object,
      signatures: { [this.own.userId]: { [`ed25519:${this.own.deviceId}`]: signature } },
    };
  }

  /** The signed `device_keys` object (spec: `/keys/upload`, DeviceKeys). */
  deviceKeys(): Record<string, unknown> {
    return this.#signed({
      user_id: this.own.userId,
      device_id: this.own.deviceId,
      algorithms: [OLM_ALGORITHM, MEGOLM_ALGORITHM],
      keys: {
        [`curve25519:${this.own.deviceId}`]: this.own.curve25519,
        [`ed25519:${this.own.deviceId}`]: this.own.ed25519,
      },
    });
  }

  /**
   * Uploads device keys (first time), signed one-time keys up to the target given the server's
   * `count`, and a signed fallback key when the server has none (spec: `/keys/upload`).
   */
  async uploadKeys(
    count: number | undefined,
    fallbackUnused: readonly string[] | undefined,
  ): Promise<void> {
    const body: Record<string, unknown> = {};
    if (this.#store.get<boolean>('device-keys-uploaded') !== true)
      body['device_keys'] = this.deviceKeys();
    const have = count ?? 0;
    if (have < ONE_TIME_KEY_TARGET) {
      this.#account.generateOneTimeKeys(ONE_TIME_KEY_TARGET - have);
      const otks: Record<string, unknown> = {};
      for (const [id, key] of Object.entries(this.#account.oneTimeKeys())) {
        otks[`signed_curve25519:${id}`] = this.#signed({ key });
      }
      body['one_time_keys'] = otks;
    }
    const rotatedAt = this.#store.get<number>('fallback-rotated-at');
    if (rotatedAt !== undefined && Date.now() - rotatedAt >= FALLBACK_KEY_GRACE_MS) {
      this.#account.forgetOldFallbackKey();
      this.#saveAccount();
      this.#store.set('fallback-rotated-at', undefined);
    }
    let rotated = false;
    if (fallbackUnused !== undefined && !fallbackUnused.includes('signed_curve25519')) {
      this.#account.generateFallbackKey();
      rotated = true;
      const fallback: Record<string, unknown> = {};
      for (const [id, key] of Object.entries(this.#account.fallbackKey())) {
        fallback[`signed_curve25519:${id}`] = this.#signed({ key, fallback: true });
      }
      body['fallback_keys'] = fallback;
    }
    if (Object.keys(body).length === 0) return;
    this.#saveAccount();
    await this.#http.post('/_matrix/client/v3/keys/upload', body);
    this.#account.markKeysAsPublished();
    this.#saveAccount();
    this.#store.set('device-keys-uploaded', true);
    // The previous fallback key is forgotten once the grace period after this upload has passed.
    if (rotated) this.#store.set('fallback-rotated-at', Date.now());
  }

  /** Marks users whose device lists changed (sync `device_lists.changed`). */
  markOutdated(userIds: readonly string[]): void {
    for (const id of userIds) this.#outdated.add(id);
    this.#store.set('devices-outdated', [...this.#outdated]);
  }

  /** Forgets users we no longer share a room with (sync `device_lists.left`). */
  forgetUsers(userIds: readonly string[]): void {
    for (const id of userIds) {
      this.#devices.delete(id);
      this.#outdated.delete(id);
    }
    this.#saveDevices();
  }

  #saveDevices(): void {
    this.#store.set('devices', Object.fromEntries(this.#devices));
    this.#store.set('devices-outdated', [...this.#outdated]);
  }

  /**
   * The devices of `userIds`, querying `/keys/query` for users unknown or outdated. Each device's
   * keys must be signed by its own Ed25519 key and name the right user and device; others are
   * dropped (spec: "Downloading keys", the client must check the signature).
   */
  async devicesOf(userIds: readonly string[]): Promise<DeviceInfo[]> {
    const stale = userIds.filter((id) => !this.#devices.has(id) || this.#outdated.has(id));
    if (stale.length > 0) {
      const res = await this.#http.post<{
        device_keys?: Record<string, Record<string, JsonObject>>;
        failures?: Record<string, unknown>;
      }>('/_matrix/client/v3/keys/query', {
        device_keys: Object.fromEntries(stale.map((id) => [id, []])),
      });
      // Users the answer leaves out (their server is in `failures`, or absent altogether) keep
      // the devices known before and stay outdated, so the next lookup asks again.
      const failed = new Set(Object.keys(res.failures ?? {}));
      const answered = stale.filter(
        (id) =>
          Object.hasOwn(res.device_keys ?? {}, id) && !failed.has(id.slice(id.indexOf(':') + 1)),
      );
      const checked = new Map<string, DeviceInfo[]>();
      for (const userId of answered) {
        const list: DeviceInfo[] = [];
        const previous = new Map((this.#devices.get(userId) ?? []).map((d) => [d.deviceId, d]));
        for (const [deviceId, keys] of Object.entries(res.device_keys?.[userId] ?? {})) {
          const info = checkDeviceKeys(userId, deviceId, keys);
          if (info === undefined) continue;
          // Spec: a device's Ed25519 key must never change; a changed key is refused.
          const before = previous.get(deviceId);
          if (before !== undefined && before.ed25519 !== info.ed25519) continue;
          list.push(info);
        }
        checked.set(userId, list);
      }
      // A self-signed device can name any Curve25519 key: one that another device (known, or
      // in this response) already owns is refused, so it cannot pass as that device's owner.
      const replacing = new Set(answered);
      const claims = new Map<string, number>();
      for (const list of checked.values())
        for (const d of list) claims.set(d.curve25519, (claims.get(d.curve25519) ?? 0) + 1);
      for (const [userId, list] of checked) {
        const kept = list.filter(
          (d) =>
            claims.get(d.curve25519) === 1 &&
            this.#otherOwnerOf(d, replacing) === undefined &&
            (d.curve25519 !== this.own.curve25519 ||
              (d.userId === this.own.userId && d.deviceId === this.own.deviceId)),
        );
        this.#devices.set(userId, kept);
      }
      for (const userId of answered) this.#outdated.delete(userId);
      for (const userId of stale) if (!answered.includes(userId)) this.#outdated.add(userId);
      this.#saveDevices();
    }
    return userIds.flatMap((id) => this.#devices.get(id) ?? []);
  }

  #deviceByCurveKey(curve25519: string): DeviceInfo | undefined {
    for (const list of this.#devices.values()) {
      const found = list.find((d) => d.curve25519 === curve25519);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * A known device other than `device` with the same Curve25519 key (the lists of `replacing`,
   * users whose devices are being re-queried, are not counted).
   */
  #otherOwnerOf(
    device: DeviceInfo,
    replacing: ReadonlySet<string> = new Set(),
  ): DeviceInfo | undefined {
    for (const [userId, list] of this.#devices) {
      if (replacing.has(userId)) continue;
      const found = list.find(
        (d) =>
          d.curve25519 === device.curve25519 &&
          (d.userId !== device.userId || d.deviceId !== device.deviceId),
      );
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /**
   * The device owning a Curve25519 key, querying `userId`'s devices if it is not known yet. A key
   * claimed by more than one known device belongs to none of them.
   */
  async deviceFor(userId: string, curve25519: string): Promise<DeviceInfo | undefined> {
    let device = (this.#devices.get(userId) ?? []).find((d) => d.curve25519 === curve25519);
    if (device === undefined) {
      this.#outdated.add(userId);
      device = (await this.devicesOf([userId])).find((d) => d.curve25519 === curve25519);
    }
    return device === undefined || this.#otherOwnerOf(device) !== undefined ? undefined : device;
  }

  /**
   * Establishes Olm sessions with every device that has none, claiming one signed one-time (or
   * fallback) key each with `/keys/claim` and checking its signature (spec: "Claiming one-time keys").
   */
  async ensureSessions(devices: readonly DeviceInfo[]): Promise<void> {
    const missing = devices.filter(
      (d) =>
        d.curve25519 !== this.own.curve25519 && this.#store.olmSessions(d.curve25519).length === 0,
    );
    if (missing.length === 0) return;
    const request: Record<string, Record<string, string>> = {};
    for (const d of missing)
      request[d.userId] = { ...request[d.userId], [d.deviceId]: 'signed_curve25519' };
    const res = await this.#http.post<{
      one_time_keys?: Record<string, Record<string, Record<string, JsonObject>>>;
    }>('/_matrix/client/v3/keys/claim', { one_time_keys: request });
    for (const d of missing) {
      const claimed = res.one_time_keys?.[d.userId]?.[d.deviceId];
      if (claimed === undefined) continue;
      for (const [keyId, value] of Object.entries(claimed)) {
        if (!keyId.startsWith('signed_curve25519:') || typeof value['key'] !== 'string') continue;
        const ok = verifyJson(value, d.userId, `ed25519:${d.deviceId}`, decodeBase64(d.ed25519));
        if (!ok.valid) continue;
        const session = this.#account.createOutboundSession(d.curve25519, value['key']);
        this.#saveSession(d.curve25519, session);
        break;
      }
    }
  }

  #saveSession(senderKey: string, session: Session): void {
    this.#store.putOlmSession(
      senderKey,
      session.sessionId(),
      session.pickle(this.#store.pickleKey),
    );
  }

  /** `OlmEncryptor`: encrypts `payload` for one device over its newest Olm session. */
  encryptForDevice(device: DeviceInfo, payload: OlmPlaintext): OlmEncryptedContent | undefined {
    const [newest] = this.#store.olmSessions(device.curve25519);
    if (newest === undefined) return undefined;
    const session = Session.fromPickle(newest.pickle, this.#store.pickleKey);
    const message = session.encrypt(JSON.stringify(payload));
    this.#saveSession(device.curve25519, session);
    session.free();
    return {
      algorithm: OLM_ALGORITHM,
      sender_key: this.own.curve25519,
      ciphertext: { [device.curve25519]: { type: message.type, body: message.body } },
    };
  }

  /** Builds the spec's `OlmPlaintext` for a to-device payload to `device`. */
  plaintextFor(device: DeviceInfo, type: string, content: Record<string, unknown>): OlmPlaintext {
    return {
      type,
      content,
      sender: this.own.userId,
      recipient: device.userId,
      recipient_keys: { ed25519: device.ed25519 },
      keys: { ed25519: this.own.ed25519 },
    };
  }

  /**
   * Decrypts an Olm `m.room.encrypted` to-device event and checks its plaintext (spec,
   * `m.olm.v1.curve25519-aes-sha2`): `sender` is the event's sender, `recipient` and
   * `recipient_keys` are this device, and `keys.ed25519` is the sending device's known key.
   */
  async decryptToDevice(
    sender: string,
    content: Record<string, unknown>,
  ): Promise<DecryptedToDevice> {
    const senderKey = content['sender_key'];
    const ciphertext = (
      content['ciphertext'] as Record<string, { type?: unknown; body?: unknown }> | undefined
    )?.[this.own.curve25519];
    if (
      content['algorithm'] !== OLM_ALGORITHM ||
      typeof senderKey !== 'string' ||
      ciphertext === undefined
    ) {
      throw new ClientError('olm-failed', 'not an Olm message for this device', { userId: sender });
    }
    const { type, body } = ciphertext;
    if ((type !== 0 && type !== 1) || typeof body !== 'string') {
      throw new ClientError('olm-failed', 'malformed Olm ciphertext', { userId: sender });
    }
    // The sender's device is resolved (perhaps with /keys/query) before any Olm state changes: a
    // network failure then leaves the sessions and one-time keys as they were, and the message
    // can be decrypted when it is delivered again.
    const device = await this.deviceFor(sender, senderKey);
    if (device === undefined) {
      throw new ClientError(
        'untrusted-sender',
        'Olm sender key does not belong to a known device of the sender',
        { userId: sender },
      );
    }
    let bytes: Uint8Array | undefined;
    for (const stored of this.#store.olmSessions(senderKey)) {
      const session = Session.fromPickle(stored.pickle, this.#store.pickleKey);
      try {
        if (type === 0 && !session.matchesInboundSession(body, senderKey)) continue;
        bytes = session.decrypt({ type, body });
        this.#saveSession(senderKey, session);
        break;
      } catch {
        // Not this session; try the next (spec: try every session with the sender's key).
      } finally {
        session.free();
      }
    }
    if (bytes === undefined) {
      if (type !== 0)
        throw new ClientError('olm-failed', 'no Olm session decrypts this message', {
          userId: sender,
        });
      try {
        const created = this.#account.createInboundSession(senderKey, body);
        bytes = created.plaintext;
        this.#saveSession(senderKey, created.session);
        created.session.free();
        this.#saveAccount();
      } catch (cause) {
        throw new ClientError(
          'olm-failed',
          'cannot start an Olm session from this message',
          { userId: sender },
          { cause },
        );
      }
    }
    let plaintext: OlmPlaintext;
    try {
      plaintext = parseAnyJson(utf8.decode(bytes)) as OlmPlaintext;
    } finally {
      bytes.fill(0);
    }
    if (
      plaintext.sender !== sender ||
      plaintext.recipient !== this.own.userId ||
      plaintext.recipient_keys?.ed25519 !== this.own.ed25519
    ) {
      throw new ClientError('untrusted-sender', 'Olm plaintext names another sender or recipient', {
        userId: sender,
      });
    }
    if (device.ed25519 !== plaintext.keys?.ed25519) {
      throw new ClientError(
        'untrusted-sender',
        'Olm sender key does not belong to a known device of the sender',
        {
          userId: sender,
        },
      );
    }
    return { plaintext, senderKey };
  }

  /** The device that owns a Curve25519 key among the devices known so far. */
  knownDevice(curve25519: string): DeviceInfo | undefined {
    return this.#deviceByCurveKey(curve25519);
  }
}

function checkDeviceKeys(
  userId: string,
  deviceId: string,
  keys: JsonObject,
): DeviceInfo | undefined {
  if (keys['user_id'] !== userId || keys['device_id'] !== deviceId) return undefined;
  const map = keys['keys'] as Record<string, unknown> | undefined;
  const ed25519 = map?.[`ed25519:${deviceId}`];
  const curve25519 = map?.[`curve25519:${deviceId}`];
  if (typeof ed25519 !== 'string' || typeof curve25519 !== 'string') return undefined;
  try {
    if (!verifyJson(keys, userId, `ed25519:${deviceId}`, decodeBase64(ed25519)).valid)
      return undefined;
  } catch {
    return undefined;
  }
  return { userId, deviceId, curve25519, ed25519 };
}
