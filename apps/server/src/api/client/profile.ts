// GET /_matrix/client/v3/profile/{userId}
// GET/PUT /_matrix/client/v3/profile/{userId}/displayname, …/avatar_url
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3profileuserid
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3profileuseridkeyname
import { MatrixError } from '@weft/transport';
import type { Services } from '../../services/index.ts';
import type { ProfileField } from '../../services/profile/service.ts';
import { requireOwnUser } from './own-user.ts';
import { parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

const FIELDS: readonly ProfileField[] = ['displayname', 'avatar_url'];

export function registerProfile(app: ClientApp, services: Services): void {
  const { profile } = services;

  // Spec: profile lookups may require authentication (a server option); this one answers anyone.
  clientEndpoint(app, {
    method: 'GET',
    path: '/profile/:userId',
    auth: 'optional-user',
    handler: async ({ params }) => {
      const userId = parseUserId(params.userId);
      // A user of another server: ask their server (federation "Querying for information").
      if (services.federationQueries.isRemote(userId)) {
        return services.federationQueries.remoteProfile(userId);
      }
      return profile.get(userId);
    },
  });

  for (const field of FIELDS) {
    clientEndpoint(app, {
      method: 'GET',
      path: `/profile/:userId/${field}`,
      auth: 'optional-user',
      handler: async ({ params }) => {
        const userId = parseUserId(params.userId);
        const found = services.federationQueries.isRemote(userId)
          ? await services.federationQueries.remoteProfile(userId, field)
          : await profile.get(userId);
        const value = found[field];
        if (value === undefined) throw MatrixError.notFound(`No ${field} set`);
        return { [field]: value };
      },
    });
    clientEndpoint(app, {
      method: 'PUT',
      path: `/profile/:userId/${field}`,
      auth: 'user',
      rateLimit: true,
      handler: async ({ params, user, body }) => {
        requireOwnUser(params.userId, user.userId, 'the profile');
        const value = body[field];
        if (value !== undefined && value !== null && typeof value !== 'string') {
          throw MatrixError.badJson(`${field} must be a string`);
        }
        // An absent or null value clears the field (Synapse does the same).
        await profile.set(user.userId, field, value ?? null);
        return {};
      },
    });
  }
}
