// PUT /_matrix/federation/v2/send_join/{roomId}/{eventId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv2send_joinroomideventid
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

export function registerSendJoin(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v2/send_join/:roomId/:eventId',
    auth: 'server',
    // `omit_members` (partial-state joins) is accepted and ignored: the full state is sent.
    handler: async ({ params, body, origin }) => {
      const answer = await services.federationMembership.sendJoin(
        origin,
        params.roomId,
        params.eventId,
        body,
      );
      // JSON bytes written as the stored PDU texts are read (see join-answer.ts).
      return new Response(answer.body, {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    },
  });
}
