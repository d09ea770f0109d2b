/**
 * The federation app's type: transport's Matrix app whose `auth: 'server'` endpoints verify the
 * X-Matrix signature with keys from the key cache (app.ts builds it).
 */
import type { MatrixApp } from '@weft/transport';

import type { AuthenticatedUser } from '../../services/core/context.ts';

/** The app the federation (TLS) listener serves. */
export type FederationApp = MatrixApp<AuthenticatedUser>;
