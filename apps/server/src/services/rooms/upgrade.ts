/**
 * Room upgrades (client-server-api "Room Upgrades", server behaviour,
 * https://spec.matrix.org/v1.19/client-server-api/#server-behaviour-16), in one transaction:
 *
 * 1. the new room: an `m.room.create` of the new version with `predecessor` (v12 derives the room
 *    ID from it and names no `creator`; `additional_creators` come from the request), the
 *    upgrading user's join and the old room's power levels;
 * 2. the transferable state copied: join rules, name, topic, avatar, history visibility, guest
 *    access, encryption, server ACL, the bans, and a space's `m.space.child` events (Synapse
 *    copies those too); additional creators of this server are invited — those of other servers
 *    are left to the caller, which invites them through their server once this commits;
 * 3. the old room's local aliases moved over (with `m.room.canonical_alias`), and its directory
 *    listing;
 * 4. an `m.room.tombstone` in the old room pointing at the new one;
 * 5. the old room's power levels raised so ordinary members can no longer talk or invite there.
 *
 * The authorization rules (@weft/dag) decide whether the user may send each event: without the
 * power to send the tombstone the whole upgrade is refused and nothing is stored.
 */
import { randomBytes } from 'node:crypto';

import {
  type RoomVersionRules,
  roomVersionRules,
  STABLE_ROOM_VERSIONS,
  stateKeyOf,
} from '@weft/dag';
import { computeRoomId } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { buildCreateEvent } from './create-event.ts';
import { cleanProfile } from './create-room.ts';
import { loadRoom, membershipOf, type RoomRow } from './room-store.ts';
import type { RoomService } from './service.ts';

/** State copied into the new room as it is (Synapse copies the same set). */
const TRANSFERABLE = [
  'm.room.join_rules',
  'm.room.name',
  'm.room.topic',
  'm.room.avatar',
  'm.room.history_visibility',
  'm.room.guest_access',
  'm.room.encryption',
  'm.room.server_acl',
] as const;

/** The level the upgrading user needs in the new room to send everything copied there. */
const ADMIN_LEVEL = 100;

export interface UpgradeOptions {
  readonly roomId: string;
  readonly userId: string;
  readonly newVersion: string;
  /**
   * v12 and later: further creators of the new room; ignored for versions without them (spec
   * room_upgrades.yaml: "this field is ignored").
   */
  readonly additionalCreators?: readonly string[];
  /**
   * Users of other servers: not invited inside the upgrade's transaction — their server must
   * sign the invite first (server-server-api "Inviting to a room"); see `UpgradeResult`.
   */
  readonly isRemote?: (userId: string) => boolean;
}

export interface UpgradeResult {
  /** The replacement room. */
  readonly roomId: string;
  /** Additional creators of other servers, still to be invited through their server. */
  readonly remoteInvitees: readonly string[];
}

function randomRoomLocalpart(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(18)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/** Upgrades a room; returns the replacement room's ID and the remote creators to invite. */
export async function upgradeRoom(
  rooms: RoomService,
  options: UpgradeOptions,
): Promise<UpgradeResult> {
  const { ctx } = rooms;
  const { roomId: oldRoomId, userId, newVersion } = options;
  const rules: RoomVersionRules | undefined = roomVersionRules(newVersion);
  if (rules === undefined || !STABLE_ROOM_VERSIONS.includes(newVersion)) {
    throw new MatrixError(
      400,
      'M_UNSUPPORTED_ROOM_VERSION',
      `Room version ${newVersion} is not supported`,
    );
  }
  const privileged = rules.authorization.explicitlyPrivilegeRoomCreators;
  // Spec: "When upgrading to a room version which doesn't support additional creators, this
  // field is ignored."
  const additional = privileged
    ? [...new Set(options.additionalCreators ?? [])].filter((u) => u !== userId)
    : [];
  const remoteInvitees = additional.filter((u) => options.isRemote?.(u) === true);

  const roomId = await rooms.write(async (send, tx) => {
    const oldRoom = await loadRoom(tx, oldRoomId);
    if (
      oldRoom === undefined ||
      (await membershipOf(tx, oldRoomId, userId))?.membership !== 'join'
    ) {
      throw MatrixError.forbidden('You are not joined to this room');
    }
    const oldState = await rooms.states.get(tx, oldRoom.currentStateGroup ?? 0);
    const oldEvents = await rooms.events.getMany(tx, [...oldState.values()]);
    const contentOf = (type: string, stateKey = '') => {
      const id = oldState.get(stateKeyOf(type, stateKey));
      const event = id === undefined ? undefined : oldEvents.get(id);
      return event?.pdu['content'] as Record<string, unknown> | undefined;
    };
    const lastEvent = await tx.queryOne<{ event_id: string }>(
      'SELECT event_id FROM room_forward_extremities WHERE room_id = $1 LIMIT 1',
      [oldRoomId],
    );

    // 1. The new room.
    const createContent: Record<string, unknown> = {
      room_version: newVersion,
      predecessor: {
        room_id: oldRoomId,
        // Spec: "the last known event in the old room" (optional since v1.16).
        ...(lastEvent !== undefined ? { event_id: lastEvent.event_id } : {}),
      },
    };
    const oldCreate = contentOf('m.room.create');
    if (oldCreate?.['m.federate'] === false) createContent['m.federate'] = false;
    if (typeof oldCreate?.['type'] === 'string') createContent['type'] = oldCreate['type'];
    if (!rules.authorization.useRoomCreateSender) createContent['creator'] = userId;
    if (additional.length > 0) createContent['additional_creators'] = additional;
    const localRoomId = rules.eventFormat.createEventHasNoRoomId
      ? undefined
      : `!${randomRoomLocalpart()}:${ctx.config.serverName}`;
    const create = buildCreateEvent(ctx, rules, localRoomId, userId, createContent);
    const newRoomId = localRoomId ?? computeRoomId(create.pdu, rules.id);
    await tx.execute(
      'INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public) VALUES ($1, $2, $3, $4, $5)',
      [newRoomId, newVersion, userId, ctx.now(), oldRoom.isPublic ? 1 : 0],
    );
    const newRoom = (await loadRoom(tx, newRoomId)) as RoomRow;
    await rooms.persistBuilt(tx, newRoom, create, {});
    const state = (type: string, stateKey: string, content: Record<string, unknown>) =>
      send({ roomId: newRoomId, type, stateKey, sender: userId, content });
    await state('m.room.member', userId, {
      membership: 'join',
      ...cleanProfile(await rooms.profileOf(tx, userId)),
    });

    // Power levels: the old room's; creators of a v12 room are above them and may not be listed.
    const oldPower = contentOf('m.room.power_levels') ?? {};
    const users = { ...((oldPower['users'] as Record<string, number> | undefined) ?? {}) };
    const finalPower: Record<string, unknown> = { ...oldPower, users };
    let temporary: Record<string, unknown> | undefined;
    if (privileged) {
      for (const creator of [userId, ...additional]) delete users[creator];
    } else {
      // A v12 creator's infinite power, or none listed, becomes the admin level; a lower one
      // is raised while copying and restored at the end.
      const own = users[userId];
      if (own === undefined || !Number.isFinite(own)) users[userId] = ADMIN_LEVEL;
      if ((users[userId] ?? 0) < ADMIN_LEVEL) {
        temporary = { ...finalPower, users: { ...users, [userId]: ADMIN_LEVEL } };
      }
    }
    await state('m.room.power_levels', '', temporary ?? finalPower);

    // 2. Transferable state and bans.
    for (const type of TRANSFERABLE) {
      const content = contentOf(type);
      if (content !== undefined) await state(type, '', { ...content });
    }
    for (const id of oldState.values()) {
      const event = oldEvents.get(id);
      if (event?.type !== 'm.room.member' || event.stateKey === undefined) continue;
      const content = event.pdu['content'] as Record<string, unknown>;
      if (content['membership'] !== 'ban' || event.stateKey === userId) continue;
      await state('m.room.member', event.stateKey, {
        membership: 'ban',
        ...(typeof content['reason'] === 'string' ? { reason: content['reason'] } : {}),
      });
    }

    // A space keeps its children (Synapse does the same); an emptied child was removed.
    if (oldCreate?.['type'] === 'm.space') {
      for (const id of oldState.values()) {
        const event = oldEvents.get(id);
        if (event?.type !== 'm.space.child' || event.stateKey === undefined) continue;
        const content = event.pdu['content'] as Record<string, unknown>;
        if (Object.keys(content).length === 0) continue;
        await state('m.space.child', event.stateKey, { ...content });
      }
    }

    // Additional creators are invited, so they can join whatever the join rule (those of other
    // servers by the caller, after the commit).
    for (const creator of additional) {
      if (remoteInvitees.includes(creator)) continue;
      await state('m.room.member', creator, {
        membership: 'invite',
        ...cleanProfile(await rooms.profileOf(tx, creator)),
      });
    }

    // 3. Aliases and the directory listing move to the new room.
    await tx.execute('UPDATE room_aliases SET room_id = $1 WHERE room_id = $2', [
      newRoomId,
      oldRoomId,
    ]);
    const canonical = contentOf('m.room.canonical_alias');
    if (canonical !== undefined && Object.keys(canonical).length > 0) {
      await state('m.room.canonical_alias', '', { ...canonical });
    }
    if (temporary !== undefined) await state('m.room.power_levels', '', finalPower);
    await tx.execute('UPDATE rooms SET is_public = 0 WHERE room_id = $1', [oldRoomId]);

    // 4. The tombstone (refused, and the whole upgrade with it, without the power to send it).
    const old = (type: string, content: Record<string, unknown>) =>
      send({ roomId: oldRoomId, type, stateKey: '', sender: userId, content });
    await old('m.room.tombstone', {
      body: 'This room has been replaced',
      replacement_room: newRoomId,
    });
    if (canonical !== undefined && Object.keys(canonical).length > 0) {
      try {
        await old('m.room.canonical_alias', {});
      } catch (error) {
        // Without the power to clear it the old room keeps its canonical alias; the aliases
        // themselves already point at the new room.
        if (!MatrixError.isInstance(error) || error.status !== 403) throw error;
      }
    }

    // 5. Ordinary members can no longer talk or invite in the old room (spec: "SHOULD").
    const usersDefault = Number(oldPower['users_default'] ?? 0);
    const restricted = Math.max(50, usersDefault + 1);
    const restrictedPower = { ...oldPower };
    let changed = false;
    for (const name of ['events_default', 'invite'] as const) {
      const current = Number(oldPower[name] ?? 0);
      if (current < restricted) {
        restrictedPower[name] = restricted;
        changed = true;
      }
    }
    if (changed) {
      try {
        await old('m.room.power_levels', restrictedPower);
      } catch (error) {
        // Without the power to change power levels the old room keeps them; the tombstone
        // already points everyone to the new room.
        if (!MatrixError.isInstance(error) || error.status !== 403) throw error;
      }
    }
    return newRoomId;
  });
  return { roomId, remoteInvitees };
}
