// GET /_matrix/federation/v1/publicRooms
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1publicrooms
// POST /_matrix/federation/v1/publicRooms
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixfederationv1publicrooms
//
// This server's published room directory for another server (services/rooms/directory.ts
// `publicRooms`, as the client API's `/publicRooms` lists it): only rooms published here, X-Matrix
// authenticated, not scoped to a room (so no server ACL applies). `limit` 0 or absent means no
// limit (spec). No application service bridges third-party networks here, so every published room
// is in the default (Matrix) network: `include_all_networks` lists the same rooms, and a
// `third_party_instance_id` names a network with no rooms. Both together are refused, as the spec
// says the instance ID "can only be used if `include_all_networks` is false".
import { MatrixError } from '@weft/transport';

import { isObject } from '../../json-object.ts';
import type { Services } from '../../services/index.ts';
import { type PublicRoom, parseRoomTypes, publicRooms } from '../../services/rooms/directory.ts';
import type { FederationApp } from './routes.ts';

interface DirectoryOptions {
  readonly limit: number | undefined;
  readonly since: string | undefined;
  readonly includeAllNetworks: boolean;
  readonly thirdPartyInstanceId: string | undefined;
  readonly searchTerm?: string | undefined;
  readonly roomTypes?: ReadonlyArray<string | null> | undefined;
}

type DirectoryPage = Awaited<ReturnType<typeof publicRooms>>;

async function directory(services: Services, options: DirectoryOptions): Promise<DirectoryPage> {
  if (options.includeAllNetworks && options.thirdPartyInstanceId !== undefined) {
    throw MatrixError.invalidParam(
      'third_party_instance_id cannot be used with include_all_networks',
    );
  }
  const page = await publicRooms(services.rooms, {
    // "Defaults to 0 (no limit)".
    limit: options.limit === 0 ? undefined : options.limit,
    since: options.since,
    searchTerm: options.searchTerm,
    roomTypes: options.roomTypes,
  });
  if (options.thirdPartyInstanceId === undefined) return page;
  // A third-party network no bridge here provides: no rooms.
  const none: PublicRoom[] = [];
  return { chunk: none, total_room_count_estimate: 0 };
}

function parseLimit(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw MatrixError.invalidParam('limit must be a non-negative integer');
  }
  return value as number;
}

function parseBoolean(value: string | null, name: string): boolean {
  if (value === null || value === 'false') return false;
  if (value === 'true') return true;
  throw MatrixError.invalidParam(`${name} must be true or false`);
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw MatrixError.badJson(`${key} must be a string`);
  return value;
}

export function registerPublicRooms(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/publicRooms',
    auth: 'server',
    handler: ({ query }) => {
      const limit = query.get('limit');
      if (limit !== null && !/^\d{1,15}$/.test(limit)) {
        throw MatrixError.invalidParam('limit must be a non-negative integer');
      }
      return directory(services, {
        limit: limit === null ? undefined : Number(limit),
        since: query.get('since') ?? undefined,
        includeAllNetworks: parseBoolean(query.get('include_all_networks'), 'include_all_networks'),
        thirdPartyInstanceId: query.get('third_party_instance_id') ?? undefined,
      });
    },
  });
  app.endpoint({
    method: 'POST',
    path: '/_matrix/federation/v1/publicRooms',
    auth: 'server',
    handler: ({ body }) => {
      const filter = body['filter'];
      if (filter !== undefined && filter !== null && !isObject(filter)) {
        throw MatrixError.badJson('filter must be an object');
      }
      const filterObject = isObject(filter) ? (filter as Record<string, unknown>) : {};
      const roomTypes = parseRoomTypes(filterObject);
      const includeAll = body['include_all_networks'];
      if (includeAll !== undefined && includeAll !== null && typeof includeAll !== 'boolean') {
        throw MatrixError.badJson('include_all_networks must be a boolean');
      }
      return directory(services, {
        limit: parseLimit(body['limit'] ?? undefined),
        since: optionalString(body, 'since'),
        includeAllNetworks: includeAll === true,
        thirdPartyInstanceId: optionalString(body, 'third_party_instance_id'),
        searchTerm: optionalString(filterObject, 'generic_search_term'),
        roomTypes,
      });
    },
  });
}
