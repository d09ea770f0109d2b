/**
 * Runs a room's event sequence through the real engine: one `RoomEncryptor` and one
 * `RoomKeyReceiver` per simulated device, real Megolm sessions, real Olm between devices, and a
 * key store per device. Every device that has ever been listed receives every room event (a
 * removed or departed device is assumed to keep syncing: the worst case); to-device messages go
 * only where the engine addressed them.
 */
import {
  type MegolmBackend,
  type OlmEncryptedContent,
  RoomEncryptor,
  RoomKeyReceiver,
  type RoomPolicy,
  type RoomSnapshot,
  type ShareCost,
  type ToDeviceMessage,
} from '@weft/epoch';

import { MemoryKeyStore } from './memory-store.ts';
import { OlmDevice } from './olm-transport.ts';
import { DEVICE_OWNER, RoomModel, type SimEvent } from './oracle.ts';

export const ROOM_ID = '!spectrum:weft.test';

/** What actually happened to one message. */
export interface ObservedMessage {
  readonly step: number;
  readonly sender: string;
  readonly sessionId: string;
  /** Devices that decrypted it when it arrived. */
  readonly liveReaders: Set<string>;
  /** Devices that can decrypt it after the whole sequence. */
  readonly finalReaders: Set<string>;
}

export interface SimDevice {
  readonly name: string;
  readonly olm: OlmDevice;
  readonly store: MemoryKeyStore;
  readonly receiver: RoomKeyReceiver;
  readonly encryptor: RoomEncryptor;
}

export interface SimulationResult {
  readonly messages: ObservedMessage[];
  readonly devices: ReadonlyMap<string, SimDevice>;
  /** Session IDs of messages sent under `forward-secret`. */
  readonly forwardSecretSessions: Set<string>;
  /** Per rekey (new session): its cost, to show the O(n) shape. */
  readonly rekeyCosts: ShareCost[];
  /** Devices that still held a forward-secret key right after decrypting its message. */
  readonly keptAfterDecrypt: string[];
}

/** One Megolm implementation for all devices, or one chosen per device (to mix implementations). */
export type MegolmChoice = MegolmBackend | ((device: string) => MegolmBackend);

export async function simulate(
  events: readonly SimEvent[],
  initial: RoomPolicy,
  choice: MegolmChoice,
): Promise<SimulationResult> {
  const directory = new Map<string, OlmDevice>();
  const devices = new Map<string, SimDevice>();
  let policy = initial;
  let clock = 0;
  for (const [name, userId] of Object.entries(DEVICE_OWNER)) {
    const olm = new OlmDevice(userId, name, directory);
    const store = new MemoryKeyStore();
    const megolm = typeof choice === 'function' ? choice(name) : choice;
    devices.set(name, {
      name,
      olm,
      store,
      receiver: new RoomKeyReceiver({ own: olm.own, megolm, store, policyFor: () => policy }),
      encryptor: new RoomEncryptor({
        roomId: ROOM_ID,
        own: olm.own,
        policy,
        megolm,
        olm,
        store,
        now: () => clock,
      }),
    });
  }
  const model = new RoomModel();
  const everListed = new Set<string>();
  const sent: Array<{
    step: number;
    sender: string;
    content: unknown;
    sessionId: string;
    live: Set<string>;
  }> = [];
  const forwardSecretSessions = new Set<string>();
  const rekeyCosts: ShareCost[] = [];
  const keptAfterDecrypt: string[] = [];

  const snapshot = (): RoomSnapshot => ({
    members: [...model.membership].map(([userId, membership]) => ({ userId, membership })),
    devices: [...model.listed].sort().map((name) => {
      const device = devices.get(name);
      if (device === undefined) throw new Error(`unknown device ${name}`);
      return device.olm.info(model.blocked.has(name) ? { blocked: true } : {});
    }),
  });
  const byAddress = (userId: string, deviceId: string): SimDevice => {
    const device = devices.get(deviceId);
    if (device === undefined || device.olm.own.userId !== userId)
      throw new Error(`no device ${deviceId}`);
    return device;
  };
  const deliver = async (messages: readonly ToDeviceMessage[]): Promise<void> => {
    for (const message of messages) {
      if (message.type !== 'm.room.encrypted') continue;
      const target = byAddress(message.userId, message.deviceId);
      const content = message.content as OlmEncryptedContent;
      await target.receiver.receiveKey(target.olm.decrypt(content), content.sender_key);
    }
  };
  const tryDecrypt = async (device: SimDevice, content: unknown): Promise<boolean> => {
    try {
      await device.receiver.decrypt(ROOM_ID, content);
      return true;
    } catch {
      return false;
    }
  };

  for (const [step, event] of events.entries()) {
    switch (event.kind) {
      case 'member':
        model.apply(event);
        for (const d of devices.values())
          d.encryptor.noteMembershipChange({
            userId: event.user,
            membership: event.membership,
            ...(event.rekey === undefined ? {} : { rekey: event.rekey }),
          });
        break;
      case 'add-device':
        model.apply(event);
        everListed.add(event.device);
        break;
      case 'remove-device':
      case 'block':
        model.apply(event);
        break;
      case 'tick':
        clock += event.ms;
        break;
      case 'policy':
        policy = event.policy;
        for (const d of devices.values()) d.encryptor.setPolicy(event.policy);
        break;
      case 'rekey':
      case 'share': {
        if (!model.canAct(event.device)) break;
        const sender = devices.get(event.device);
        if (sender === undefined) break;
        const result =
          event.kind === 'rekey'
            ? await sender.encryptor.rekey(snapshot())
            : await sender.encryptor.shareKeys(snapshot());
        if (result.report !== undefined) rekeyCosts.push(result.report.cost);
        await deliver(result.toDevice);
        break;
      }
      case 'send': {
        if (!model.canAct(event.device)) break;
        const sender = devices.get(event.device);
        if (sender === undefined) break;
        const result = await sender.encryptor.encrypt(
          'm.room.message',
          { msgtype: 'm.text', body: `step ${step}` },
          snapshot(),
        );
        if (result.rekey !== undefined) rekeyCosts.push(result.rekey.cost);
        if (policy.mode === 'forward-secret') forwardSecretSessions.add(result.content.session_id);
        await deliver(result.toDevice);
        const live = new Set<string>();
        for (const name of everListed) {
          const device = devices.get(name);
          if (device === undefined) continue;
          if (await tryDecrypt(device, result.content)) {
            live.add(name);
            if (
              policy.mode === 'forward-secret' &&
              device.store.sessionIds().has(result.content.session_id)
            ) {
              keptAfterDecrypt.push(name);
            }
          }
        }
        sent.push({
          step,
          sender: event.device,
          content: result.content,
          sessionId: result.content.session_id,
          live,
        });
        break;
      }
    }
  }

  const messages: ObservedMessage[] = [];
  for (const m of sent) {
    const finalReaders = new Set<string>();
    for (const name of everListed) {
      const device = devices.get(name);
      if (device !== undefined && (await tryDecrypt(device, m.content))) finalReaders.add(name);
    }
    messages.push({
      step: m.step,
      sender: m.sender,
      sessionId: m.sessionId,
      liveReaders: m.live,
      finalReaders,
    });
  }
  return { messages, devices, forwardSecretSessions, rekeyCosts, keptAfterDecrypt };
}
