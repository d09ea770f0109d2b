// DELETE /_matrix/client/v3/profile/{userId}/{keyName} (displayname, avatar_url)
// https://spec.matrix.org/v1.19/client-server-api/#delete_matrixclientv3profileuseridkeyname
import type { Services } from '../../services/index.ts';
import type { ProfileField } from '../../services/profile/service.ts';
import { requireOwnUser } from './own-user.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * Spec (added in v1.16): removes a profile field; "200: The profile field was deleted or it
 * doesn't exist". Like a PUT, a change re-sends the user's member events.
 */
export function registerProfileDelete(app: ClientApp, services: Services): void {
  for (const field of ['displayname', 'avatar_url'] as const satisfies readonly ProfileField[]) {
    clientEndpoint(app, {
      method: 'DELETE',
      path: `/profile/:userId/${field}`,
      auth: 'user',
      rateLimit: true,
      handler: async ({ params, user }) => {
        requireOwnUser(params.userId, user.userId, 'the profile');
        await services.profile.set(user.userId, field, null);
        return {};
      },
    });
  }
}
