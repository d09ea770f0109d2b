// POST /_matrix/federation/v1/user/keys/query
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixfederationv1userkeysquery
// POST /_matrix/federation/v1/user/keys/claim
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixfederationv1userkeysclaim
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

function objectField(json: Record<string, unknown>, key: string): Record<string, unknown> {
  const value = json[key];
  if (!isObject(value)) {
    throw MatrixError.badJson(`${key} must be an object`);
  }
  return value as Record<string, unknown>;
}

/** `device_keys`: user ID → device IDs (empty = all). */
function parseKeysQuery(json: Record<string, unknown>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [userId, devices] of Object.entries(objectField(json, 'device_keys'))) {
    if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) {
      throw MatrixError.badJson(`device_keys.${userId} must be a list of device IDs`);
    }
    out.set(userId, devices as string[]);
  }
  return out;
}

/** `one_time_keys`: user ID → device ID → algorithm. */
function parseKeysClaim(json: Record<string, unknown>): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [userId, devices] of Object.entries(objectField(json, 'one_time_keys'))) {
    if (!isObject(devices)) {
      throw MatrixError.badJson(`one_time_keys.${userId} must be an object`);
    }
    const byDevice = new Map<string, string>();
    for (const [deviceId, algorithm] of Object.entries(devices)) {
      if (typeof algorithm !== 'string') throw MatrixError.badJson('algorithm must be a string');
      byDevice.set(deviceId, algorithm);
    }
    out.set(userId, byDevice);
  }
  return out;
}

export function registerUserKeys(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'POST',
    path: '/_matrix/federation/v1/user/keys/query',
    auth: 'server',
    parseBody: parseKeysQuery,
    handler: ({ body }) => services.federationQueries.keysQuery(body),
  });
  app.endpoint({
    method: 'POST',
    path: '/_matrix/federation/v1/user/keys/claim',
    auth: 'server',
    parseBody: parseKeysClaim,
    handler: ({ body }) => services.federationQueries.keysClaim(body),
  });
}
