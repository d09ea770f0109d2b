// GET /_matrix/client/v3/notifications
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3notifications
import { MatrixError } from '@weft/transport';

import { withoutIgnored } from '../../services/account-data/ignored-users.ts';
import type { Services } from '../../services/index.ts';
import { parseLimit } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/**
 * The events that notified the user (push evaluation, services/push), newest first. `from` and
 * `next_token` are stream positions: the page holds notifications before it. Messages of users
 * the user ignores are left out (spec "Ignoring Users"; a page may come back shorter), also
 * those stored before the user ignored them.
 */
export function registerNotifications(app: ClientApp, services: Services): void {
  clientEndpoint(app, {
    method: 'GET',
    path: '/notifications',
    auth: 'user',
    handler: async ({ query, user }) => {
      const rawFrom = query.get('from');
      let before = Number.MAX_SAFE_INTEGER;
      if (rawFrom !== null && rawFrom !== '') {
        if (!/^[0-9]{1,15}$/.test(rawFrom))
          throw MatrixError.invalidParam('from is not a valid token');
        before = Number(rawFrom);
      }
      const only = query.get('only');
      if (only !== null && only !== 'highlight') {
        throw MatrixError.invalidParam('only must be "highlight"');
      }
      const limit = parseLimit(query.get('limit'), 20, 100);
      const entries = await services.push.notifications(user.userId, {
        before,
        limit: limit + 1,
        onlyHighlights: only === 'highlight',
      });
      const page = entries.slice(0, limit);
      const last = page.at(-1);
      const ignored = services.accountData.ignoredUsers.of(user.userId);
      const shown =
        ignored === undefined
          ? page
          : page.filter((entry) => withoutIgnored([entry.event], ignored).length === 1);
      return {
        notifications: shown.map((entry) => ({
          actions: entry.actions,
          event: services.rooms.clientEvent(entry.event, { viewer: user }),
          read: entry.read,
          room_id: entry.roomId,
          ts: entry.ts,
        })),
        ...(entries.length > limit && last !== undefined
          ? { next_token: String(last.position) }
          : {}),
      };
    },
  });
}
