// GET /_matrix/key/v2/query/{serverName}
// https://spec.matrix.org/v1.19/server-server-api/#get_matrixkeyv2queryservername
// POST /_matrix/key/v2/query
// https://spec.matrix.org/v1.19/server-server-api/#post_matrixkeyv2query
//
// The notary: answers from the key cache, fetching from the server itself when nothing cached is
// valid at `minimum_valid_until_ts` (the current time when not supplied — keys_query.yaml: "If not
// supplied, the notary server MUST use the current time"), and adds this server's own signature to
// each response.
//
// Anyone may call these endpoints (no authentication), and each name not cached costs an outbound
// fetch (and, failing that, a question to every trusted notary). So only names of valid server
// name grammar (appendices "Server Name", https://spec.matrix.org/v1.19/appendices/#server-name)
// are looked at, and a POST is answered for its first MAX_NOTARY_SERVERS names only. The spec
// sets no limit; answering a prefix (rather than refusing the whole batch with a 400) keeps a
// large but honest batch working: the requester sees the missing servers absent from
// `server_keys`, as for unreachable ones, and asks again or elsewhere.
import { isValidServerName } from '@weft/dag';
import { type JsonObject, signJson } from '@weft/signing';
import { MatrixError } from '@weft/transport';
import { isObject } from '../../json-object.ts';
import type { Services } from '../../services/index.ts';
import type { FederationApp } from './routes.ts';

/** How many servers one `POST /_matrix/key/v2/query` is answered for. */
export const MAX_NOTARY_SERVERS = 100;

async function notarise(
  services: Services,
  serverName: string,
  minimumValidUntilTs: number,
): Promise<JsonObject[]> {
  const { keys } = services.federation;
  if (!isValidServerName(serverName)) return [];
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
      const given = query.get('minimum_valid_until_ts');
      const min = given === null ? services.ctx.now() : Number(given);
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
      const names = Object.keys(wanted).filter(isValidServerName).slice(0, MAX_NOTARY_SERVERS);
      for (const serverName of names) {
        const byKey = (wanted as Record<string, unknown>)[serverName];
        // The latest `minimum_valid_until_ts` asked for any of its keys; the current time when
        // none is given (keys_query.yaml).
        let min: number | undefined;
        for (const criteria of Object.values((byKey ?? {}) as Record<string, unknown>)) {
          const value = (criteria as Record<string, unknown> | null)?.['minimum_valid_until_ts'];
          if (typeof value === 'number') min = Math.max(min ?? value, value);
        }
        out.push(...(await notarise(services, serverName, min ?? services.ctx.now())));
      }
      return { server_keys: out };
    },
  });
}
