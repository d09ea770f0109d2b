// GET /_matrix/client/v3/capabilities
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3capabilities
import { STABLE_ROOM_VERSIONS } from '@weft/dag';

import { DEFAULT_ROOM_VERSION } from '../../services/rooms/create-room.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec "Capabilities negotiation": `m.change_password` (POST /account/password is served),
 * `m.room_versions` (every version @weft/dag supports is stable: 10, 11, 12; the default is the
 * one createRoom uses), profile changes allowed, no third-party identifiers.
 */
export function registerCapabilities(app: ClientApp): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/capabilities',
    auth: 'user',
    handler: () => ({
      capabilities: {
        'm.change_password': { enabled: true },
        'm.room_versions': {
          default: DEFAULT_ROOM_VERSION,
          available: Object.fromEntries(
            STABLE_ROOM_VERSIONS.map((version) => [version, 'stable' as const]),
          ),
        },
        'm.set_displayname': { enabled: true },
        'm.set_avatar_url': { enabled: true },
        'm.3pid_changes': { enabled: false },
        'm.get_login_token': { enabled: false },
      },
    }),
  });
}
