/**
 * Real Olm between simulated devices, with @weft/ratchet's `Account` and `Session`: each device
 * claims a fresh one-time key of its peer the first time it writes to it (as `/keys/claim` would
 * give it), and the receiving side creates the inbound session from the pre-key message.
 */
import type {
  DeviceInfo,
  OlmEncryptedContent,
  OlmEncryptor,
  OlmPlaintext,
  OwnDevice,
} from '@weft/epoch';
import { Account, type Session } from '@weft/ratchet';

const decoder = new TextDecoder();

/** One simulated device's Olm identity and sessions. */
export class OlmDevice implements OlmEncryptor {
  readonly account: Account;
  readonly own: OwnDevice;
  /** Sessions with each peer (by Curve25519 key), most recent first. */
  readonly #sessions = new Map<string, Session[]>();
  /** Looks up a peer's Olm endpoint to claim a one-time key (the simulation's `/keys/claim`). */
  readonly #directory: Map<string, OlmDevice>;
  /** Peers for which no one-time key can be claimed (to exercise `m.no_olm`). */
  readonly unreachable = new Set<string>();

  constructor(userId: string, deviceId: string, directory: Map<string, OlmDevice>) {
    this.account = Account.create();
    const keys = this.account.identityKeys();
    this.own = { userId, deviceId, curve25519: keys.curve25519, ed25519: keys.ed25519 };
    this.#directory = directory;
    directory.set(keys.curve25519, this);
  }

  /** Public device info as `/keys/query` would return it. */
  info(extra: Partial<Pick<DeviceInfo, 'blocked' | 'verified'>> = {}): DeviceInfo {
    return { ...this.own, ...extra };
  }

  claimOneTimeKey(): string {
    this.account.generateOneTimeKeys(1);
    const key = Object.values(this.account.oneTimeKeys())[0];
    this.account.markKeysAsPublished();
    if (key === undefined) throw new Error('no one-time key generated');
    return key;
  }

  encryptForDevice(device: DeviceInfo, payload: OlmPlaintext): OlmEncryptedContent | undefined {
    let session = this.#sessions.get(device.curve25519)?.[0];
    if (session === undefined) {
      const peer = this.#directory.get(device.curve25519);
      if (peer === undefined || this.unreachable.has(device.curve25519)) return undefined;
      session = this.account.createOutboundSession(device.curve25519, peer.claimOneTimeKey());
      this.#sessions.set(device.curve25519, [session]);
    }
    const message = session.encrypt(JSON.stringify(payload));
    return {
      algorithm: 'm.olm.v1.curve25519-aes-sha2',
      sender_key: this.own.curve25519,
      ciphertext: { [device.curve25519]: { type: message.type, body: message.body } },
    };
  }

  /** Decrypts an Olm to-device event addressed to this device; returns the plaintext payload. */
  decrypt(content: OlmEncryptedContent): OlmPlaintext {
    const message = content.ciphertext[this.own.curve25519];
    if (message === undefined) throw new Error('not addressed to this device');
    const sessions = this.#sessions.get(content.sender_key) ?? [];
    const olmMessage = { type: message.type as 0 | 1, body: message.body };
    for (const session of sessions) {
      if (message.type === 0 && !session.matchesInboundSession(message.body, content.sender_key))
        continue;
      try {
        return JSON.parse(decoder.decode(session.decrypt(olmMessage))) as OlmPlaintext;
      } catch {
        // try the next session with this peer
      }
    }
    if (message.type !== 0) throw new Error('no Olm session decrypts this message');
    const { session, plaintext } = this.account.createInboundSession(
      content.sender_key,
      message.body,
    );
    this.#sessions.set(content.sender_key, [session, ...sessions]);
    return JSON.parse(decoder.decode(plaintext)) as OlmPlaintext;
  }
}
