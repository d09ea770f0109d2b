/**
 * The client API's reach into other servers (spec client-server-api `/profile`, room alias
 * resolution, `/keys/query`, `/keys/claim`, served through server-server-api "Querying for
 * information" and "End-to-End Encryption"): the request is split by server, one federation
 * request goes to each other server in parallel, and servers that fail or time out are listed
 * in `failures` (keys) instead of failing the whole request.
 */
import { MatrixError } from '@weft/transport';

import { type FederationRequest, serverNameOf } from '../membership/types.ts';

/** Splits `entries` by the server of their key (a user ID). */
function byServer<V>(entries: Iterable<readonly [string, V]>): Map<string, Map<string, V>> {
  const out = new Map<string, Map<string, V>>();
  for (const [userId, value] of entries) {
    const server = serverNameOf(userId);
    const group = out.get(server) ?? new Map<string, V>();
    group.set(userId, value);
    out.set(server, group);
  }
  return out;
}

/** A remote user's profile (or one field) from their server. */
export async function remoteProfile(
  request: FederationRequest,
  userId: string,
  field?: string,
): Promise<Record<string, unknown>> {
  const query = new URLSearchParams({ user_id: userId });
  if (field !== undefined) query.set('field', field);
  return request(serverNameOf(userId), 'GET', `/_matrix/federation/v1/query/profile?${query}`);
}

/** A remote alias' room ID and resident servers, or `undefined` when the alias is unknown. */
export async function remoteAlias(
  request: FederationRequest,
  alias: string,
): Promise<{ roomId: string; servers: string[] } | undefined> {
  const query = new URLSearchParams({ room_alias: alias });
  try {
    const body = await request(
      serverNameOf(alias),
      'GET',
      `/_matrix/federation/v1/query/directory?${query}`,
    );
    const roomId = body['room_id'];
    const servers = body['servers'];
    if (typeof roomId !== 'string') return undefined;
    return {
      roomId,
      servers: Array.isArray(servers) ? servers.filter((s) => typeof s === 'string') : [],
    };
  } catch (error) {
    if (MatrixError.isInstance(error) && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * `/keys/query` for remote users: device keys and cross-signing master and self-signing keys by
 * user, and the servers that failed.
 */
export async function remoteKeysQuery(
  request: FederationRequest,
  requested: ReadonlyMap<string, readonly string[]>,
): Promise<{
  deviceKeys: Record<string, unknown>;
  masterKeys: Record<string, unknown>;
  selfSigningKeys: Record<string, unknown>;
  failures: Record<string, object>;
}> {
  const deviceKeys: Record<string, unknown> = {};
  const masterKeys: Record<string, unknown> = {};
  const selfSigningKeys: Record<string, unknown> = {};
  const failures: Record<string, object> = {};
  await Promise.all(
    [...byServer(requested)].map(async ([server, users]) => {
      try {
        const body = await request(server, 'POST', '/_matrix/federation/v1/user/keys/query', {
          device_keys: Object.fromEntries(users),
        });
        const keys = body['device_keys'];
        if (typeof keys !== 'object' || keys === null) throw new Error('no device_keys');
        for (const [userId, devices] of Object.entries(keys)) {
          // A server speaks only for its own users.
          if (users.has(userId)) deviceKeys[userId] = devices;
        }
        for (const [field, into] of [
          ['master_keys', masterKeys],
          ['self_signing_keys', selfSigningKeys],
        ] as const) {
          const byUser = body[field];
          if (typeof byUser !== 'object' || byUser === null) continue;
          for (const [userId, key] of Object.entries(byUser)) {
            if (users.has(userId)) into[userId] = key;
          }
        }
      } catch {
        failures[server] = {};
      }
    }),
  );
  return { deviceKeys, masterKeys, selfSigningKeys, failures };
}

/** `/keys/claim` for remote users: claimed one-time keys by user, and the servers that failed. */
export async function remoteKeysClaim(
  request: FederationRequest,
  requested: ReadonlyMap<string, ReadonlyMap<string, string>>,
): Promise<{ oneTimeKeys: Record<string, unknown>; failures: Record<string, object> }> {
  const oneTimeKeys: Record<string, unknown> = {};
  const failures: Record<string, object> = {};
  await Promise.all(
    [...byServer(requested)].map(async ([server, users]) => {
      try {
        const body = await request(server, 'POST', '/_matrix/federation/v1/user/keys/claim', {
          one_time_keys: Object.fromEntries(
            [...users].map(([userId, devices]) => [userId, Object.fromEntries(devices)]),
          ),
        });
        const keys = body['one_time_keys'];
        if (typeof keys !== 'object' || keys === null) throw new Error('no one_time_keys');
        for (const [userId, devices] of Object.entries(keys)) {
          if (users.has(userId)) oneTimeKeys[userId] = devices;
        }
      } catch {
        failures[server] = {};
      }
    }),
  );
  return { oneTimeKeys, failures };
}
