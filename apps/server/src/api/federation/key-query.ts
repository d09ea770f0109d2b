// GET /_matrix/key/v2/query/{serverName}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixkeyv2queryservername
// POST /_matrix/key/v2/query
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixkeyv2query
//
// The notary: answers from the key cache, fetching from the server itself when nothing cached is
// valid at `minimum_valid_until_ts`, and adds this server's own signature to each response.
import { type JsonObject, signJson } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

async function notarise(
  services: Services,
  serverName: string,
  minimumValidUntilTs: number,
): Promise<JsonObject[]> {
  const { keys } = services.federation;
  await keys.refreshIfStale(serverName, minimumValidUntilTs);
  const { serverName: self } = services.ctx.config;
  const { signingKey } = services.ctx;
  return (await keys.storedResponses(serverName)).map((response) =>
    serverName === self ? response : signJson(response, self, signingKey.keyId, signingKey),
  );
}

export function registerKeyQuery(app: FederationApp, services: Services): void {
  app.endpoint({
    method: 'GET',
    path: '/_matrix/key/v2/query/:serverName',
    auth: 'none',
    handler: async ({ params, query }) => {
      const min = Number(query.get('minimum_valid_until_ts') ?? 0);
      if (!Number.isSafeInteger(min)) throw MatrixError.invalidParam('minimum_valid_until_ts');
      return { server_keys: await notarise(services, params.serverName, min) };
    },
  });
  app.endpoint({
    method: 'POST',
    path: '/_matrix/key/v2/query',
    auth: 'none',
    handler: async ({ body }) => {
      const wanted = body['server_keys'];
      if (!isObject(wanted)) {
        throw MatrixError.badJson('server_keys must be an object');
      }
      const out: JsonObject[] = [];
      for (const [serverName, byKey] of Object.entries(wanted as Record<string, unknown>)) {
        let min = 0;
        for (const criteria of Object.values((byKey ?? {}) as Record<string, unknown>)) {
          const value = (criteria as Record<string, unknown> | null)?.['minimum_valid_until_ts'];
          if (typeof value === 'number') min = Math.max(min, value);
        }
        out.push(...(await notarise(services, serverName, min)));
      }
      return { server_keys: out };
    },
  });
}
