/** Every client-server endpoint, registered on the app; one file per endpoint (or small group). */
import type { Services } from '../../services/index.ts';
import type { ClientApp } from './routes.ts';
import { registerVersions } from './versions.ts';
import { registerWellKnown } from './well-known.ts';

export function registerClientApi(app: ClientApp, services: Services): void {
  registerVersions(app);
  registerWellKnown(app, services.ctx.config);
}
