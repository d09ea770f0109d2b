/** Every client-server endpoint, registered on the app; one file per endpoint (or small group). */
import type { Services } from '../../services/index.ts';
import { registerLogin } from './login.ts';
import { registerLogout } from './logout.ts';
import { registerRegister } from './register.ts';
import type { ClientApp } from './routes.ts';
import { registerVersions } from './versions.ts';
import { registerWellKnown } from './well-known.ts';
import { registerWhoami } from './whoami.ts';

export function registerClientApi(app: ClientApp, services: Services): void {
  registerVersions(app);
  registerWellKnown(app, services.ctx.config);
  registerRegister(app, services);
  registerLogin(app, services);
  registerLogout(app, services);
  registerWhoami(app);
}
