/**
 * Room creation (spec client-server-api "POST /createRoom", the numbered list of events it
 * sends): create, the creator's join, power levels, canonical alias, the preset's join rules,
 * history visibility and guest access, `initial_state`, name, topic, then invites — all in one
 * transaction, so a room exists completely or not at all.
 */
import { randomBytes } from 'node:crypto';

import { type RoomVersionRules, roomVersionRules, STABLE_ROOM_VERSIONS } from '@weft/dag';
import { computeRoomId } from '@weft/signing';
import { MatrixError } from '@weft/transport';

import { StorageError } from '../../storage/index.ts';
import { buildCreateEvent } from './create-event.ts';
import { loadRoom, type RoomRow } from './room-store.ts';
import type { RoomService } from './service.ts';

/** The room version rooms get when the request names none. */
export const DEFAULT_ROOM_VERSION = '11';

export type RoomPreset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomOptions {
  readonly creator: string;
  readonly creatorDevice: string;
  readonly roomVersion?: string;
  readonly preset?: RoomPreset;
  readonly visibility?: 'public' | 'private';
  readonly name?: string;
  readonly topic?: string;
  /** Already validated alias (`#localpart:server`) to create and point at the room. */
  readonly alias?: string;
  readonly invite?: readonly string[];
  /**
   * Invitees of other servers: they count as invitees (power levels, additional creators) but
   * are not invited inside the creation transaction — the caller invites them afterwards through
   * their server (server-server-api "Inviting to a room"), as `POST /invite` does.
   */
  readonly isRemote?: (userId: string) => boolean;
  readonly isDirect?: boolean;
  readonly creationContent?: Readonly<Record<string, unknown>>;
  readonly initialState?: ReadonlyArray<{
    readonly type: string;
    readonly stateKey: string;
    readonly content: Readonly<Record<string, unknown>>;
  }>;
  readonly powerLevelOverride?: Readonly<Record<string, unknown>>;
}

/** Spec "POST /createRoom" preset table. */
const PRESETS: Readonly<
  Record<RoomPreset, { joinRule: string; history: string; guest: string; inviteesAdmin: boolean }>
> = {
  private_chat: {
    joinRule: 'invite',
    history: 'shared',
    guest: 'can_join',
    inviteesAdmin: false,
  },
  trusted_private_chat: {
    joinRule: 'invite',
    history: 'shared',
    guest: 'can_join',
    inviteesAdmin: true,
  },
  public_chat: { joinRule: 'public', history: 'shared', guest: 'forbidden', inviteesAdmin: false },
};

function randomRoomLocalpart(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  return [...randomBytes(18)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

/** Creates a room; returns its ID. */
export async function createRoom(rooms: RoomService, options: CreateRoomOptions): Promise<string> {
  const version = options.roomVersion ?? DEFAULT_ROOM_VERSION;
  const rules: RoomVersionRules | undefined = roomVersionRules(version);
  if (rules === undefined || !STABLE_ROOM_VERSIONS.includes(version)) {
    throw new MatrixError(
      400,
      'M_UNSUPPORTED_ROOM_VERSION',
      `Room version ${version} is not supported`,
    );
  }
  const preset =
    PRESETS[options.preset ?? (options.visibility === 'public' ? 'public_chat' : 'private_chat')];
  const { ctx } = rooms;
  const creator = options.creator;
  const invitees = [...new Set(options.invite ?? [])].filter((user) => user !== creator);
  const privileged = rules.authorization.explicitlyPrivilegeRoomCreators;

  // 1. m.room.create: creation_content, then the keys the server decides.
  const createContent: Record<string, unknown> = {
    ...options.creationContent,
    room_version: version,
  };
  if (!rules.authorization.useRoomCreateSender) createContent['creator'] = creator;
  else delete createContent['creator'];
  if (privileged && preset.inviteesAdmin && invitees.length > 0) {
    // v12 (MSC4289): trusted_private_chat invitees become additional creators, besides those
    // the client named in creation_content (a non-list is left for the format checks to refuse).
    const requested = createContent['additional_creators'];
    if (requested === undefined) createContent['additional_creators'] = invitees;
    else if (Array.isArray(requested)) {
      createContent['additional_creators'] = [...new Set([...requested, ...invitees])];
    }
  }
  const localRoomId = rules.eventFormat.createEventHasNoRoomId
    ? undefined
    : `!${randomRoomLocalpart()}:${ctx.config.serverName}`;
  const create = buildCreateEvent(ctx, rules, localRoomId, creator, createContent);
  const roomId = localRoomId ?? computeRoomId(create.pdu, rules.id);

  return rooms.write(async (send, tx) => {
    await tx.execute(
      'INSERT INTO rooms (room_id, room_version, creator, created_ts, is_public) VALUES ($1, $2, $3, $4, $5)',
      [roomId, version, creator, ctx.now(), options.visibility === 'public' ? 1 : 0],
    );
    const room = (await loadRoom(tx, roomId)) as RoomRow;
    // The create event is built outside `send` (it has no prev or auth events); the positions
    // of the later events, which `write` announces, cover it.
    await rooms.persistBuilt(tx, room, create, {});
    // Spec "POST /createRoom" 400 M_INVALID_ROOM_STATE: initial_state or
    // power_level_content_override whose events the authorization rules refuse make the request
    // invalid (not a 403: the creator is not refused anything).
    const state = (type: string, stateKey: string, content: Record<string, unknown>) =>
      send({ roomId, type, stateKey, sender: creator, content }).catch((error: unknown) => {
        if (error instanceof MatrixError && error.errcode === 'M_FORBIDDEN') {
          throw new MatrixError(400, 'M_INVALID_ROOM_STATE', error.message);
        }
        throw error;
      });

    // 2. The creator joins.
    const profile = await rooms.profileOf(tx, creator);
    await state('m.room.member', creator, { membership: 'join', ...cleanProfile(profile) });

    // 3. Power levels: the spec defaults, the preset's, then the override.
    const users: Record<string, number> = {};
    if (!privileged) users[creator] = 100;
    if (preset.inviteesAdmin && !privileged) for (const user of invitees) users[user] = 100;
    const powerLevels: Record<string, unknown> = {
      users,
      users_default: 0,
      events: {
        'm.room.name': 50,
        'm.room.power_levels': 100,
        'm.room.history_visibility': 100,
        'm.room.canonical_alias': 50,
        'm.room.avatar': 50,
        // Spec client-server "POST /createRoom": in room version 12 and higher the tombstone
        // level "MUST explicitly be higher than state_default. For example, set to 150 instead
        // of 100" (Synapse: 150 when the version privileges creators), so only creators upgrade.
        'm.room.tombstone': privileged ? 150 : 100,
        'm.room.server_acl': 100,
        'm.room.encryption': 100,
      },
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
      historical: 100,
      ...options.powerLevelOverride,
    };
    await state('m.room.power_levels', '', powerLevels);

    // 4. Canonical alias.
    if (options.alias !== undefined) {
      // Spec "POST /createRoom" 400 M_ROOM_IN_USE: checked again here, inside the transaction,
      // and the unique index's refusal mapped, for an alias taken since the endpoint's check
      // (a concurrent createRoom or PUT /directory/room).
      const taken = await tx.queryOne('SELECT 1 AS one FROM room_aliases WHERE room_alias = $1', [
        options.alias,
      ]);
      if (taken !== undefined) throw aliasInUse();
      try {
        await tx.execute(
          'INSERT INTO room_aliases (room_alias, room_id, creator) VALUES ($1, $2, $3)',
          [options.alias, roomId, creator],
        );
      } catch (error) {
        if (StorageError.isInstance(error) && error.code === 'unique-violation') throw aliasInUse();
        throw error;
      }
      await state('m.room.canonical_alias', '', { alias: options.alias });
    }
    // 5. The preset's join rules, history visibility and guest access, unless initial_state sets them.
    const initial = options.initialState ?? [];
    const overridden = (type: string) => initial.some((e) => e.type === type && e.stateKey === '');
    if (!overridden('m.room.join_rules'))
      await state('m.room.join_rules', '', { join_rule: preset.joinRule });
    if (!overridden('m.room.history_visibility')) {
      await state('m.room.history_visibility', '', { history_visibility: preset.history });
    }
    if (!overridden('m.room.guest_access'))
      await state('m.room.guest_access', '', { guest_access: preset.guest });
    // 6. initial_state.
    for (const event of initial) await state(event.type, event.stateKey, { ...event.content });
    // 7. Name and topic.
    if (options.name !== undefined) await state('m.room.name', '', { name: options.name });
    if (options.topic !== undefined) {
      await state('m.room.topic', '', {
        topic: options.topic,
        'm.topic': [{ body: options.topic, mimetype: 'text/plain' }],
      });
    }
    // 8. Invites (of this server's users; the caller invites the others once this commits).
    for (const invitee of invitees) {
      if (options.isRemote?.(invitee) === true) continue;
      const inviteeProfile = await rooms.profileOf(tx, invitee);
      await state('m.room.member', invitee, {
        membership: 'invite',
        ...cleanProfile(inviteeProfile),
        ...(options.isDirect === true ? { is_direct: true } : {}),
      });
    }
    return roomId;
  });
}

function aliasInUse(): MatrixError {
  return new MatrixError(400, 'M_ROOM_IN_USE', 'Room alias already taken');
}

/** The profile fields that are set. */
export function cleanProfile(profile: {
  readonly displayname?: string | undefined;
  readonly avatar_url?: string | undefined;
}): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof profile.displayname === 'string') out['displayname'] = profile.displayname;
  if (typeof profile.avatar_url === 'string') out['avatar_url'] = profile.avatar_url;
  return out;
}
