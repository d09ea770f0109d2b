// GET /_matrix/client/v3/admin/whois/{userId}
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3adminwhoisuserid
// The spec lets this be "restricted to only be called by the user being looked up, or by a
// server admin"; this server has no server admins, so only the user themself may ask (403
// M_FORBIDDEN for anyone else). Each device is one session with at most one connection: the
// device's `last_seen_ts` as `last_seen`, and `ip` once recorded (`last_seen_ip`; this server
// does not record it yet). No user agent is kept, so none is answered; a device never seen has
// no connection.

import type { Services } from '../../services/index.ts';
import { requireOwnUserId } from './own-user.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

type ConnectionInfo = { ip?: string; last_seen?: number };

export function registerAdminWhois(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/admin/whois/:userId',
    auth: 'user',
    handler: async ({ user, params }) => {
      const userId = requireOwnUserId(params.userId, user.userId, 'You may only look up yourself');
      const devices: Record<string, { sessions: { connections: ConnectionInfo[] }[] }> = {};
      for (const device of await services.accounts.listDevices(userId)) {
        const connection: ConnectionInfo = {};
        if (device.last_seen_ip !== undefined) connection.ip = device.last_seen_ip;
        if (device.last_seen_ts !== undefined) connection.last_seen = device.last_seen_ts;
        devices[device.device_id] = {
          sessions: [{ connections: Object.keys(connection).length > 0 ? [connection] : [] }],
        };
      }
      return { user_id: userId, devices };
    },
  });
}
