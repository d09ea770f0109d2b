// GET /_matrix/client/v3/devices
// GET/PUT/DELETE /_matrix/client/v3/devices/{deviceId}
// POST /_matrix/client/v3/delete_devices
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3devices
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3devicesdeviceid
// https://spec.matrix.org/v1.19/client-server-api/#delete_matrixclientv3devicesdeviceid
// https://spec.matrix.org/v1.19/client-server-api/#post_matrixclientv3delete_devices
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';
import { requirePassword } from './uia.ts';

export function registerDevices(app: ClientApp, services: Services): void {
  const { accounts } = services;

  clientEndpoint(app, {
    method: 'GET',
    path: '/devices',
    auth: 'user',
    handler: async ({ user }) => ({ devices: await accounts.listDevices(user.userId) }),
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/devices/:deviceId',
    auth: 'user',
    handler: async ({ user, params }) => {
      const device = await accounts.getDevice(user.userId, params.deviceId);
      if (device === undefined) throw MatrixError.notFound('Unknown device');
      return { ...device };
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/devices/:deviceId',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params, body }) => {
      const name = body['display_name'];
      if (name !== undefined && name !== null && typeof name !== 'string') {
        throw MatrixError.badJson('display_name must be a string');
      }
      if (name === undefined) {
        // Nothing to change, but the device must exist.
        if ((await accounts.getDevice(user.userId, params.deviceId)) === undefined) {
          throw MatrixError.notFound('Unknown device');
        }
        return {};
      }
      if (!(await accounts.renameDevice(user.userId, params.deviceId, name))) {
        throw MatrixError.notFound('Unknown device');
      }
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/devices/:deviceId',
    auth: 'user',
    // Spec: the request body carries the UIA `auth` object even though the method is DELETE.
    body: 'json',
    rateLimit: true,
    handler: async ({ user, params, body }) => {
      if ((await accounts.getDevice(user.userId, params.deviceId)) === undefined) {
        throw MatrixError.notFound('Unknown device');
      }
      const challenge = await requirePassword(body, user.userId, accounts);
      if (challenge !== undefined) return challenge;
      await accounts.deleteDevices(user.userId, [params.deviceId]);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/delete_devices',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, body }) => {
      const devices = body['devices'];
      if (!Array.isArray(devices) || !devices.every((d) => typeof d === 'string')) {
        throw MatrixError.badJson('devices must be a list of device IDs');
      }
      const challenge = await requirePassword(body, user.userId, accounts);
      if (challenge !== undefined) return challenge;
      await accounts.deleteDevices(user.userId, devices as string[]);
      return {};
    },
  });
}
