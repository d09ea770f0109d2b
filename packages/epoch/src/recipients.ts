/**
 * Who a room key goes to, computed from plain membership and device data.
 *
 * Spec: client-server API, End-to-End Encryption, `m.megolm.v1.aes-sha2`: the session key is
 * shared "with the intended recipients"; Weft's intended recipients are the devices of users whose
 * signed membership is `join` or (by default) `invite`, minus the sending device itself.
 */
import type { DeviceInfo, OwnDevice, RoomSnapshot } from './types.ts';

/** Throws TypeError unless `room` has the {@link RoomSnapshot} shape (arrays of plain records). */
export function checkRoom(room: RoomSnapshot): void {
  if (typeof room !== 'object' || room === null) throw new TypeError('room must be an object');
  if (!Array.isArray(room.members)) throw new TypeError('room.members must be an array');
  if (!Array.isArray(room.devices)) throw new TypeError('room.devices must be an array');
  for (const member of room.members) {
    if (typeof member?.userId !== 'string' || typeof member.membership !== 'string') {
      throw new TypeError('each room member needs a userId and a membership');
    }
  }
  for (const device of room.devices) {
    if (
      typeof device?.userId !== 'string' ||
      typeof device.deviceId !== 'string' ||
      typeof device.curve25519 !== 'string' ||
      typeof device.ed25519 !== 'string'
    ) {
      throw new TypeError('each device needs userId, deviceId, curve25519 and ed25519 strings');
    }
  }
}

/** A stable identity for a device's key material: a re-created device is a new recipient. */
export function deviceKey(device: {
  userId: string;
  deviceId: string;
  curve25519: string;
}): string {
  return `${device.userId}\u0000${device.deviceId}\u0000${device.curve25519}`;
}

/**
 * The devices that should hold the room's current key, in a stable order: the listed devices of
 * users whose membership is `join` (or `invite`, when `includeInvited`), minus `own`.
 *
 * @throws TypeError on a malformed room.
 */
export function recipientDevices(
  room: RoomSnapshot,
  own: OwnDevice,
  includeInvited = true,
): DeviceInfo[] {
  checkRoom(room);
  if (typeof own?.userId !== 'string' || typeof own.deviceId !== 'string') {
    throw new TypeError('own must identify the sending device');
  }
  return recipientsOf(room, own, includeInvited);
}

/** {@link recipientDevices} without the checks, for callers that validated `room` already. */
export function recipientsOf(
  room: RoomSnapshot,
  own: OwnDevice,
  includeInvited: boolean,
): DeviceInfo[] {
  const eligible = new Set<string>();
  for (const member of room.members) {
    if (member.membership === 'join' || (includeInvited && member.membership === 'invite')) {
      eligible.add(member.userId);
    }
  }
  const seen = new Set<string>();
  const result: DeviceInfo[] = [];
  for (const device of room.devices) {
    if (!eligible.has(device.userId)) continue;
    if (device.userId === own.userId && device.deviceId === own.deviceId) continue;
    const key = deviceKey(device);
    if (seen.has(key)) continue;
    seen.add(key);
    result.push(device);
  }
  return result;
}

/** The membership of `userId` in the snapshot (`leave` when absent). */
export function membershipOf(room: RoomSnapshot, userId: string): string {
  for (const member of room.members) if (member.userId === userId) return member.membership;
  return 'leave';
}
