/** Every client-server endpoint, registered on the app; one file per endpoint (or small group). */
import type { Services } from '../../services/index.ts';
import { registerCreateRoom } from './create-room.ts';
import { registerJoin } from './join.ts';
import { registerJoinedRooms } from './joined-rooms.ts';
import { registerLogin } from './login.ts';
import { registerLogout } from './logout.ts';
import { registerMembers } from './members.ts';
import { registerMessages } from './messages.ts';
import { registerPublicRooms } from './public-rooms.ts';
import { registerRedact } from './redact.ts';
import { registerRegister } from './register.ts';
import { registerRoomAliases } from './room-aliases.ts';
import { registerRoomEvent } from './room-event.ts';
import { registerRoomMembership } from './room-membership.ts';
import { registerRoomState } from './room-state.ts';
import type { ClientApp } from './routes.ts';
import { registerSend } from './send.ts';
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
  registerCreateRoom(app, services);
  registerJoin(app, services);
  registerRoomMembership(app, services);
  registerJoinedRooms(app, services);
  registerSend(app, services);
  registerRoomState(app, services);
  registerRedact(app, services);
  registerMessages(app, services);
  registerRoomEvent(app, services);
  registerMembers(app, services);
  registerRoomAliases(app, services);
  registerPublicRooms(app, services);
}
