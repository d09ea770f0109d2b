/** A small room for unit tests: alice's sender device plus peers with real Olm. */
import {
  type DeviceInfo,
  type MegolmBackend,
  type OlmEncryptedContent,
  RoomEncryptor,
  type RoomEncryptorOptions,
  RoomKeyReceiver,
  type RoomPolicy,
  type RoomSnapshot,
  type ToDeviceMessage,
} from '@weft/epoch';

import { MemoryKeyStore } from './memory-store.ts';
import { OlmDevice } from './olm-transport.ts';

export const ROOM = '!unit:weft.test';

export interface Peer {
  readonly olm: OlmDevice;
  readonly store: MemoryKeyStore;
  readonly receiver: RoomKeyReceiver;
}

export function makePeer(
  userId: string,
  deviceId: string,
  directory: Map<string, OlmDevice>,
  megolm: MegolmBackend,
  policy: () => RoomPolicy | undefined,
): Peer {
  const olm = new OlmDevice(userId, deviceId, directory);
  const store = new MemoryKeyStore();
  return {
    olm,
    store,
    receiver: new RoomKeyReceiver({ own: olm.own, megolm, store, policyFor: policy }),
  };
}

export interface Fixture {
  readonly alice: Peer;
  readonly peers: Peer[];
  readonly encryptor: RoomEncryptor;
  room(overrides?: (d: DeviceInfo) => DeviceInfo): RoomSnapshot;
  deliver(messages: readonly ToDeviceMessage[]): Promise<string[]>;
}

/** alice (sender) and `n` bob devices, all joined. */
export function fixture(
  megolm: MegolmBackend,
  policy: RoomPolicy,
  n: number,
  options: Partial<RoomEncryptorOptions> = {},
): Fixture {
  const directory = new Map<string, OlmDevice>();
  const alice = makePeer('@alice:weft.test', 'ALICE', directory, megolm, () => policy);
  const peers = Array.from({ length: n }, (_, i) =>
    makePeer('@bob:weft.test', `BOB${i}`, directory, megolm, () => policy),
  );
  const encryptor = new RoomEncryptor({
    roomId: ROOM,
    own: alice.olm.own,
    policy,
    megolm,
    olm: alice.olm,
    store: alice.store,
    ...options,
  });
  const byDevice = new Map(peers.map((p) => [p.olm.own.deviceId, p]));
  return {
    alice,
    peers,
    encryptor,
    room: (overrides = (d) => d) => ({
      members: [
        { userId: '@alice:weft.test', membership: 'join' },
        { userId: '@bob:weft.test', membership: 'join' },
      ],
      devices: [alice.olm.info(), ...peers.map((p) => overrides(p.olm.info()))],
    }),
    async deliver(messages) {
      const types: string[] = [];
      for (const m of messages) {
        const peer = byDevice.get(m.deviceId);
        if (peer === undefined) throw new Error(`no peer ${m.deviceId}`);
        if (m.type === 'm.room.encrypted') {
          const content = m.content as OlmEncryptedContent;
          const plaintext = peer.olm.decrypt(content);
          types.push(plaintext.type);
          await peer.receiver.receiveKey(plaintext, content.sender_key);
        } else types.push(m.type);
      }
      return types;
    },
  };
}
