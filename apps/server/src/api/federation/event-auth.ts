// GET /_matrix/federation/v1/event_auth/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1event_authroomideventid
//
// Spec server-server-api "Retrieving the auth chain of an event": "Retrieves the complete auth
// chain for a given event" — `auth_chain`, the PDUs reachable through `auth_events` from the
// event, recursively (not the event itself). Authorised as `/state_ids` is (state-ids.ts): the
// asking server must have (or have had) a member in the room, and the room's server ACL must
// not deny it (spec "Server Access Control Lists": `event_auth` is a protected endpoint).
import { authChain, type DagEvent } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import { serverMaySee, statePdusForServer } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import { toDagEvent } from '../../services/rooms/auth.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import type { FederationApp } from './routes.ts';

export function registerEventAuth(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/event_auth/:roomId/:eventId',
    auth: 'server',
    handler: async ({ params, origin }) => {
      const { roomId, eventId } = params;
      if (!(await serverMaySee(services, roomId, origin))) {
        throw MatrixError.forbidden('Your server is not in this room');
      }
      await requireServerAllowed(services.ctx.db, roomId, origin);
      const event = await services.rooms.getEvent(eventId);
      if (event === undefined || event.roomId !== roomId) {
        throw MatrixError.notFound('Event not found');
      }
      const loaded = new Map<string, StoredEvent>([[event.eventId, event]]);
      const fetch = async (wanted: readonly string[]): Promise<DagEvent[]> => {
        const missing = wanted.filter((id) => !loaded.has(id));
        for (const [id, stored] of await services.rooms.getEvents(missing)) loaded.set(id, stored);
        return wanted.flatMap((id) => {
          const hit = loaded.get(id);
          return hit === undefined ? [] : [toDagEvent(hit)];
        });
      };
      const chain = await authChain([event.eventId], fetch);
      // An erased user's events redacted for a server none of whose users saw them before.
      const events = [...chain].flatMap((id) => loaded.get(id) ?? []);
      return { auth_chain: await statePdusForServer(services, roomId, origin, events) };
    },
  });
}
