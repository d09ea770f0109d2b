/**
 * This server's answers to other servers' queries (spec server-server-api "Querying for
 * information", "Device Management" and "End-to-End Encryption"):
 * - `query/profile`: a local user's profile, or one field of it;
 * - `query/directory`: a local alias' room ID and servers with joined members;
 * - `user/devices`: a local user's devices with their identity keys and display names;
 * - `user/keys/query` / `user/keys/claim`: device keys and one-time keys of local users.
 * Requests naming users or aliases of other servers are refused (they must ask that server).
 */
import { isValidUserId } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import type { AccountService } from '../../accounts/service.ts';
import { userStreamId } from '../../device-lists/store.ts';
import type { E2eKeyService } from '../../e2e-keys/service.ts';
import type { ProfileService } from '../../profile/service.ts';
import { resolveAlias } from '../../rooms/directory.ts';
import type { RoomService } from '../../rooms/service.ts';
import { serverNameOf } from '../membership/types.ts';

/** The services the query answers read. */
export interface QuerySources {
  readonly rooms: RoomService;
  readonly accounts: AccountService;
  readonly profile: ProfileService;
  readonly e2eKeys: E2eKeyService;
}

function requireLocal(sources: QuerySources, id: string, what: string): void {
  if (!id.includes(':') || serverNameOf(id) !== sources.rooms.ctx.config.serverName) {
    throw MatrixError.invalidParam(`${what} is not on this server`);
  }
}

/**
 * How many device entries one `user/keys/claim` claims keys for (each claim takes a one-time key
 * and writes; the spec sets no limit). The entries beyond are left out of the answer, as devices
 * without keys are: the asking client sees no key for them, where a 400 for the whole request
 * would leave a large but honest claim (a big room's devices on this server) with none.
 */
export const MAX_CLAIM_DEVICES = 1_000;

/**
 * `GET /v1/query/profile?user_id=…&field=…`. Any field name may be asked for (query.yaml: "Defined
 * values are `displayname`, `avatar_url` and `m.tz`. In addition to these servers MAY allow users
 * to set additional key/value pairs"); one the user has not set is 404 `M_NOT_FOUND` ("the
 * queried field does not exist").
 */
export async function queryProfile(
  sources: QuerySources,
  userId: string,
  field: string | undefined,
): Promise<Record<string, unknown>> {
  requireLocal(sources, userId, 'user_id');
  const profile = (await sources.profile.get(userId)) as Record<string, unknown>;
  if (field === undefined) return profile;
  const value = Object.hasOwn(profile, field) ? profile[field] : undefined;
  if (value === undefined || value === null) throw MatrixError.notFound(`No ${field} set`);
  return { [field]: value };
}

/** `GET /v1/query/directory?room_alias=…`. */
export async function queryDirectory(
  sources: QuerySources,
  alias: string,
): Promise<{ room_id: string; servers: string[] }> {
  requireLocal(sources, alias, 'room_alias');
  const roomId = await resolveAlias(sources.rooms, alias);
  if (roomId === undefined) throw MatrixError.notFound('Room alias not found');
  const own = sources.rooms.ctx.config.serverName;
  const servers = new Set<string>([own]);
  for (const member of await sources.rooms.members(roomId)) servers.add(serverNameOf(member));
  return { room_id: roomId, servers: [...servers] };
}

/** `GET /v1/user/devices/{userId}`. */
export async function userDevices(
  sources: QuerySources,
  userId: string,
): Promise<Record<string, unknown>> {
  requireLocal(sources, userId, 'userId');
  if (!(await sources.accounts.userExists(userId))) throw MatrixError.notFound('Unknown user');
  const { deviceKeys, masterKeys, selfSigningKeys } = await sources.e2eKeys.query(
    new Map([[userId, []]]),
  );
  const keysOf = deviceKeys[userId] ?? {};
  const devices = (await sources.accounts.listDevices(userId)).map((device) => {
    const entry: Record<string, unknown> = { device_id: device.device_id };
    const keys = keysOf[device.device_id] as Record<string, unknown> | undefined;
    if (keys !== undefined) {
      const { unsigned: _local, ...published } = keys;
      entry['keys'] = published;
    }
    if (device.display_name !== undefined) entry['device_display_name'] = device.display_name;
    return entry;
  });
  return {
    user_id: userId,
    // The user's device-list stream ID, as the `m.device_list_update` EDUs count it.
    stream_id: await userStreamId(sources.rooms.ctx.db, userId),
    devices,
    // Spec: the user's cross-signing master and self-signing keys, when they have them.
    ...(masterKeys[userId] !== undefined ? { master_key: masterKeys[userId] } : {}),
    ...(selfSigningKeys[userId] !== undefined ? { self_signing_key: selfSigningKeys[userId] } : {}),
  };
}

/**
 * Whether `userId` is a well-formed user ID of this server. Malformed IDs (no `:`, a bad server
 * name: appendices "User Identifiers") are not ours either; they are left out of the answer
 * rather than failing the whole request.
 */
function isLocalUser(userId: string, own: string): boolean {
  return isValidUserId(userId) && serverNameOf(userId) === own;
}

/**
 * `POST /v1/user/keys/query`: only local users are answered (other and malformed user IDs are
 * left out), with their cross-signing master and
 * self-signing keys (never user-signing keys, spec server-server-api "Querying keys for a device").
 */
export async function userKeysQuery(
  sources: QuerySources,
  requested: ReadonlyMap<string, readonly string[]>,
): Promise<{
  device_keys: Record<string, unknown>;
  master_keys: Record<string, unknown>;
  self_signing_keys: Record<string, unknown>;
}> {
  const own = sources.rooms.ctx.config.serverName;
  const local = new Map([...requested].filter(([userId]) => isLocalUser(userId, own)));
  const { deviceKeys, masterKeys, selfSigningKeys } = await sources.e2eKeys.query(local);
  return { device_keys: deviceKeys, master_keys: masterKeys, self_signing_keys: selfSigningKeys };
}

/**
 * `POST /v1/user/keys/claim`: only local users' keys are claimed (other and malformed user IDs
 * are left out), for at most {@link MAX_CLAIM_DEVICES} devices.
 */
export async function userKeysClaim(
  sources: QuerySources,
  requested: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Promise<{ one_time_keys: Record<string, unknown> }> {
  const own = sources.rooms.ctx.config.serverName;
  const local = new Map<string, ReadonlyMap<string, string>>();
  let budget = MAX_CLAIM_DEVICES;
  for (const [userId, devices] of requested) {
    if (budget === 0) break;
    if (!isLocalUser(userId, own) || devices.size === 0) continue;
    const taken = new Map([...devices].slice(0, budget));
    budget -= taken.size;
    local.set(userId, taken);
  }
  const { oneTimeKeys } = await sources.e2eKeys.claim(local);
  return { one_time_keys: oneTimeKeys };
}
