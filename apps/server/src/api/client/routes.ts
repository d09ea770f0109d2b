/**
 * How client-server endpoints are registered: each endpoint file exports a function that adds its
 * definition through `clientEndpoint`, which serves it under the current `v3` prefix and the
 * legacy `r0` prefix that older clients such as matrix-nio still call (Synapse serves both).
 */
import {
  type AuthMode,
  type EndpointDefinition,
  type MatrixApp,
  MatrixError,
} from '@weft/transport';

import type { AuthenticatedUser } from '../../services/core/context.ts';
import { StorageError } from '../../storage/index.ts';

/** The Matrix app of this server, parameterised by who the caller is. */
export type ClientApp = MatrixApp<AuthenticatedUser>;

/** An endpoint definition whose `path` is written after `/_matrix/client/{version}`. */
export type ClientEndpoint<Path extends string, A extends AuthMode, Body> = EndpointDefinition<
  Path,
  A,
  Body,
  AuthenticatedUser
> & {
  /** Prefixes to serve under; default `['v3', 'r0']`. Use `['v1']` for v1-only endpoints. */
  readonly versions?: readonly string[];
};

/** Registers `definition` under each of its versions (`/_matrix/client/<version><path>`). */
export function clientEndpoint<
  Path extends string,
  A extends AuthMode,
  Body = Record<string, unknown>,
>(app: ClientApp, definition: ClientEndpoint<Path, A, Body>): void {
  const handler: typeof definition.handler = async (request) => {
    try {
      return await definition.handler(request);
    } catch (error) {
      throw storageErrorAnswer(error);
    }
  };
  for (const version of definition.versions ?? ['v3', 'r0']) {
    app.endpoint({
      ...definition,
      handler,
      path: `/_matrix/client/${version}${definition.path}` as Path,
    });
  }
}

/**
 * A storage failure the client caused: text the database cannot store (PostgreSQL refuses NUL,
 * SQLSTATE 22021/22P05) is 400 `M_INVALID_PARAM`, whichever field carried it. Anything else is
 * rethrown as it is (other storage failures stay 500 `M_UNKNOWN`, logged).
 */
function storageErrorAnswer(error: unknown): unknown {
  if (StorageError.isInstance(error) && error.code === 'invalid-text') {
    return new MatrixError(400, 'M_INVALID_PARAM', 'Text may not contain a NUL character', {
      cause: error,
    });
  }
  return error;
}
