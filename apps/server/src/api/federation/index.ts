/**
 * Every federation endpoint (served on the TLS listener), one file per endpoint. Both federation
 * engineers add their `register…` line here.
 */
import type { Services } from '../../services/index.ts';
import { registerBackfill } from './backfill.ts';
import { registerEvent } from './event.ts';
import { registerGetMissingEvents } from './get-missing-events.ts';
import { registerKeyQuery } from './key-query.ts';
import { registerKeyServer } from './key-server.ts';
import type { FederationApp } from './routes.ts';
import { registerSend } from './send.ts';
import { registerStateIds } from './state-ids.ts';
import { registerVersion } from './version.ts';

/** Registers the federation and key endpoints on `app`. */
export function registerFederationApi(app: FederationApp, services: Services): void {
  registerKeyServer(app, services);
  registerKeyQuery(app, services);
  registerVersion(app);
  registerSend(app, services);
  registerEvent(app, services);
  registerStateIds(app, services);
  registerGetMissingEvents(app, services);
  registerBackfill(app, services);
}
