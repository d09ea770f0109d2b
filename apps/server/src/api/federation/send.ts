// PUT /_matrix/federation/v1/send/{txnId}
// https://spec.matrix.org/v1.19/server-server-api/#put_matrixfederationv1sendtxnid
//
// Spec "Transactions": a transaction is processed once per (origin, txnId) — a replay is answered
// with the first response and changes nothing. Each PDU goes through the receipt checks
// (services/federation/event-handler), each EDU to the local services; the response maps every
// PDU's event ID to `{}` or `{ error }`.
import { parseAnyJson } from '@weft/canonical-json';
import { MatrixError } from '@weft/transport';

import { handleEdu } from '../../services/federation/edus/inbound.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

const MAX_PDUS = 50;
const MAX_EDUS = 100;

export function registerSend(app: FederationApp, services: Services): void {
  const inFlight = new Map<string, Promise<Record<string, unknown>>>();
  const { db } = services.ctx;

  const process = async (
    origin: string,
    txnId: string,
    body: Record<string, unknown>,
  ): Promise<Record<string, unknown>> => {
    const previous = await db.queryOne<{ response: string }>(
      'SELECT response FROM federation_inbound_txns WHERE origin = $1 AND txn_id = $2',
      [origin, txnId],
    );
    if (previous !== undefined) return parseAnyJson(previous.response) as Record<string, unknown>;
    const pdus = body['pdus'] as unknown[];
    const edus = (body['edus'] ?? []) as unknown[];
    const results: Record<string, Record<string, string>> = {};
    // One database transaction for the PDUs (event-handler/handle-pdu.ts), committed before
    // this answers: an acknowledged PDU is durable.
    for (const outcome of await services.federation.events.handleBatch(origin, pdus)) {
      if (outcome.eventId === '') continue;
      results[outcome.eventId] = outcome.status === 'rejected' ? { error: outcome.error } : {};
    }
    for (const edu of edus) {
      try {
        await handleEdu(services, origin, edu);
      } catch (error) {
        services.ctx.log.warn('EDU failed', { origin, error: (error as Error).message });
      }
    }
    const response = { pdus: results };
    await db.execute(
      `INSERT INTO federation_inbound_txns (origin, txn_id, response, received_ts) VALUES ($1, $2, $3, $4)
       ON CONFLICT (origin, txn_id) DO NOTHING`,
      [origin, txnId, JSON.stringify(response), services.ctx.now()],
    );
    return response;
  };

  app.endpoint({
    method: 'PUT',
    path: '/_matrix/federation/v1/send/:txnId',
    auth: 'server',
    maxBodyBytes: 64 * 1024 * 1024,
    handler: async ({ params, body, origin }) => {
      if (body['origin'] !== undefined && body['origin'] !== origin) {
        throw MatrixError.forbidden('origin does not match the signing server');
      }
      const pdus = body['pdus'];
      const edus = body['edus'];
      if (!Array.isArray(pdus) || pdus.length > MAX_PDUS) {
        throw MatrixError.badJson(`pdus must be an array of at most ${MAX_PDUS} PDUs`);
      }
      if (edus !== undefined && (!Array.isArray(edus) || edus.length > MAX_EDUS)) {
        throw MatrixError.badJson(`edus must be an array of at most ${MAX_EDUS} EDUs`);
      }
      // The sender is evidently up: deliver what we have queued for it without waiting.
      services.federation.sender.contacted(origin);
      const key = `${origin}\u0000${params.txnId}`;
      let running = inFlight.get(key);
      if (running === undefined) {
        running = process(origin, params.txnId, body).finally(() => inFlight.delete(key));
        inFlight.set(key, running);
      }
      return running;
    },
  });
}
