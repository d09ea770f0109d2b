// GET /_matrix/federation/v1/backfill/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1backfillroomid
//
// The events `v` and up to `limit` in all their ancestry (prev events, breadth first, newest
// depth first), for a server filling history backwards.
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import { pdusForServer, serverMaySee } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import type { FederationApp } from './routes.ts';

const MAX_LIMIT = 1000;

export function registerBackfill(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/backfill/:roomId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      const from = query.getAll('v');
      const limit = Number(query.get('limit'));
      if (from.length === 0) throw MatrixError.missingParam('v');
      if (!Number.isSafeInteger(limit) || limit < 1) throw MatrixError.invalidParam('limit');
      if (!(await serverMaySee(services, params.roomId, origin))) {
        throw MatrixError.forbidden('Your server is not in this room');
      }
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      const wanted = Math.min(limit, MAX_LIMIT);
      const seen = new Set<string>(from);
      const found: StoredEvent[] = [];
      let frontier = from;
      while (frontier.length > 0 && found.length < wanted) {
        const events = await services.rooms.getEvents(frontier);
        const next: string[] = [];
        const layer = frontier
          .flatMap((id) => {
            const event = events.get(id);
            return event === undefined || event.roomId !== params.roomId ? [] : [event];
          })
          .sort((a, b) => b.depth - a.depth);
        for (const event of layer) {
          if (found.length >= wanted) break;
          found.push(event);
          for (const prev of (event.pdu['prev_events'] as string[] | undefined) ?? []) {
            if (!seen.has(prev)) {
              seen.add(prev);
              next.push(prev);
            }
          }
        }
        frontier = next;
      }
      // History visibility at each event (client-server-api "History visibility"): events the
      // asking server may not see go out redacted, so its DAG still connects.
      return {
        origin: services.ctx.config.serverName,
        origin_server_ts: services.ctx.now(),
        pdus: await pdusForServer(services, params.roomId, origin, found),
      };
    },
  });
}
