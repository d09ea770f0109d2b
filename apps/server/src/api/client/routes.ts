/**
 * How client-server endpoints are registered: each endpoint file exports a function that adds its
 * definition through `clientEndpoint`, which serves it under the current `v3` prefix and the
 * legacy `r0` prefix that older clients such as matrix-nio still call (Synapse serves both).
 */
import type { AuthMode, EndpointDefinition, MatrixApp } from '@weft/transport';

import type { AuthenticatedUser } from '../../services/core/context.ts';

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
  for (const version of definition.versions ?? ['v3', 'r0']) {
    app.endpoint({ ...definition, path: `/_matrix/client/${version}${definition.path}` as Path });
  }
}
