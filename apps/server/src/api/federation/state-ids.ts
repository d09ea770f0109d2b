// GET /_matrix/federation/v1/state_ids/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1state_idsroomid
// GET /_matrix/federation/v1/state/{roomId}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixfederationv1stateroomid
//
// The room state at `event_id` — the state before it (the resolved state of its prev events),
// as Synapse and the spec's "state at an event" mean it — with the auth chain of that state.
import { authChain, type DagEvent, stateBeforeEvent } from '@weft/dag';
import { MatrixError } from '@weft/transport';

import { requireServerAllowed } from '../../services/federation/acl.ts';
import { serverMaySee, statePdusForServer } from '../../services/federation/visibility.ts';
import type { Services } from '../../services/index.ts';
import { toDagEvent } from '../../services/rooms/auth.ts';
import type { StoredEvent } from '../../services/rooms/index.ts';
import { loadRoom } from '../../services/rooms/room-store.ts';
import { rulesOf } from '../../services/rooms/service.ts';
import type { FederationApp } from './routes.ts';

/**
 * The state before `event` (spec server-server-api "GET /_matrix/federation/v1/state_ids/{roomId}":
 * "the state of the room at the point of the event, before it"): the state after it for a
 * message event; for a state event the states after its prev events, resolved with the room
 * version's algorithm (@weft/dag `stateBeforeEvent`, as the receiver computed it,
 * services/federation/event-handler/state-before.ts). Not `unsigned.replaces_state`: events
 * received over federation are stored without `unsigned`, so a remote state event's entry would
 * be dropped rather than put back. Only when a prev event's state is unknown (an outlier after
 * a gap) is the state after the event used with its own entry put back from `replaces_state`.
 */
async function stateBefore(services: Services, event: StoredEvent): Promise<Map<string, string>> {
  const after = await services.rooms.stateAfterEvent(event);
  if (event.stateKey === undefined) return new Map(after);
  const prevEvents = (event.pdu['prev_events'] as string[] | undefined) ?? [];
  const prevs = await services.rooms.getEvents(prevEvents);
  const states: Array<ReadonlyMap<string, string>> = [];
  for (const id of prevEvents) {
    const prev = prevs.get(id);
    if (prev?.stateGroup == null) break;
    states.push(await services.rooms.stateAfterEvent(prev));
  }
  if (states.length === prevEvents.length) {
    const room = await loadRoom(services.ctx.db, event.roomId);
    const fetchEvents = async (ids: readonly string[]): Promise<DagEvent[]> =>
      [...(await services.rooms.getEvents(ids)).values()].map(toDagEvent);
    return stateBeforeEvent(rulesOf(room?.roomVersion ?? ''), states, fetchEvents);
  }
  const state = new Map(after);
  for (const [key, id] of after) {
    if (id !== event.eventId) continue;
    const replaced = event.unsigned?.['replaces_state'];
    if (typeof replaced === 'string') state.set(key, replaced);
    else state.delete(key);
  }
  return state;
}

async function stateAt(
  services: Services,
  roomId: string,
  eventId: string | null,
  origin: string,
): Promise<{ state: string[]; authChain: string[] }> {
  if (eventId === null) throw MatrixError.missingParam('event_id');
  if (!(await serverMaySee(services, roomId, origin))) {
    throw MatrixError.forbidden('Your server is not in this room');
  }
  await requireServerAllowed(services.ctx.db, roomId, origin);
  const event = await services.rooms.getEvent(eventId);
  if (event === undefined || event.roomId !== roomId || event.stateGroup === null) {
    throw MatrixError.notFound('Event not found');
  }
  const state = await stateBefore(services, event);
  const ids = [...state.values()];
  const loaded = new Map<string, DagEvent>();
  const fetch = async (wanted: readonly string[]): Promise<DagEvent[]> => {
    const missing = wanted.filter((id) => !loaded.has(id));
    const found = await services.rooms.getEvents(missing);
    for (const [id, stored] of found) loaded.set(id, toDagEvent(stored));
    return wanted.flatMap((id) => {
      const hit = loaded.get(id);
      return hit === undefined ? [] : [hit];
    });
  };
  const chain = await authChain(ids, fetch);
  return { state: ids, authChain: [...chain] };
}

export function registerStateIds(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/state_ids/:roomId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      const at = await stateAt(services, params.roomId, query.get('event_id'), origin);
      return { pdu_ids: at.state, auth_chain_ids: at.authChain };
    },
  });
  app.endpoint({
    method: 'GET',
    path: '/_matrix/federation/v1/state/:roomId',
    auth: 'server',
    handler: async ({ params, query, origin }) => {
      const at = await stateAt(services, params.roomId, query.get('event_id'), origin);
      const events = await services.rooms.getEvents([...at.state, ...at.authChain]);
      // An erased user's events redacted for a server none of whose users saw them before.
      const pdus = (ids: string[]) =>
        statePdusForServer(
          services,
          params.roomId,
          origin,
          ids.flatMap((id) => {
            const event: StoredEvent | undefined = events.get(id);
            return event === undefined ? [] : [event];
          }),
        );
      return { pdus: await pdus(at.state), auth_chain: await pdus(at.authChain) };
    },
  });
}
