// POST /_matrix/federation/v1/get_missing_events/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixfederationv1get_missing_eventsroomid
//
// Walks back from `latest_events` through prev events, not past `earliest_events` nor below
// `min_depth`, and returns at most `limit` events (default 10), oldest first.
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import { pdusForServer, serverMaySee } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import type { FederationApp } from './routes.ts';

const MAX_LIMIT = 100;

function stringList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw MatrixError.badJson(`${name} must be an array of event IDs`);
  }
  return value as string[];
}

export function registerGetMissingEvents(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'POST',
    path: '/_matrix/federation/v1/get_missing_events/:roomId',
    auth: 'server',
    handler: async ({ params, body, origin }) => {
      if (!(await serverMaySee(services, params.roomId, origin))) {
        throw MatrixError.forbidden('Your server is not in this room');
      }
      await requireServerAllowed(services.ctx.db, params.roomId, origin);
      const earliest = new Set(stringList(body['earliest_events'] ?? [], 'earliest_events'));
      const latest = stringList(body['latest_events'], 'latest_events');
      const limit = Math.min(MAX_LIMIT, Number(body['limit'] ?? 10));
      const minDepth = Number(body['min_depth'] ?? 0);
      if (!Number.isSafeInteger(limit) || limit < 0 || !Number.isSafeInteger(minDepth)) {
        throw MatrixError.badJson('limit and min_depth must be integers');
      }
      const seen = new Set<string>([...earliest, ...latest]);
      const found: StoredEvent[] = [];
      let frontier = latest;
      while (frontier.length > 0 && found.length < limit) {
        const events = await services.rooms.getEvents(frontier);
        const next: string[] = [];
        for (const id of frontier) {
          const event = events.get(id);
          if (event === undefined || event.roomId !== params.roomId) continue;
          for (const prev of (event.pdu['prev_events'] as string[] | undefined) ?? []) {
            if (seen.has(prev)) continue;
            seen.add(prev);
            next.push(prev);
          }
        }
        const prevEvents = await services.rooms.getEvents(next);
        frontier = [];
        for (const id of next) {
          const event = prevEvents.get(id);
          if (event === undefined || event.roomId !== params.roomId || event.depth < minDepth) {
            continue;
          }
          if (found.length >= limit) break;
          found.push(event);
          frontier.push(id);
        }
      }
      found.sort((a, b) => a.depth - b.depth);
      // History visibility at each event (client-server-api "History visibility" → "Server
      // behaviour"): events the asking server may not see go out redacted, as /backfill does.
      return { events: await pdusForServer(services, params.roomId, origin, found) };
    },
  });
}
