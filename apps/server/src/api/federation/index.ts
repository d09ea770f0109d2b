/**
 * Every federation endpoint (served on the TLS listener), one file per endpoint. Both federation
 * engineers add their `register…` line here.
 */
import type { Services } from '../../services/index.ts';
import { registerBackfill } from './backfill.ts';
import { registerEvent } from './event.ts';
import { registerEventAuth } from './event-auth.ts';
import { registerGetMissingEvents } from './get-missing-events.ts';
import { registerHierarchy } from './hierarchy.ts';
import { registerInvite } from './invite.ts';
import { registerKeyQuery } from './key-query.ts';
import { registerKeyServer } from './key-server.ts';
import { registerMakeJoin } from './make-join.ts';
import { registerMakeKnock } from './make-knock.ts';
import { registerMakeLeave } from './make-leave.ts';
import { registerMedia } from './media.ts';
import { registerOpenIdUserInfo } from './openid-userinfo.ts';
import { registerPublicRooms } from './public-rooms.ts';
import { registerQueryDirectory } from './query-directory.ts';
import { registerQueryProfile } from './query-profile.ts';
import type { FederationApp } from './routes.ts';
import { registerSend } from './send.ts';
import { registerSendJoin } from './send-join.ts';
import { registerSendKnock } from './send-knock.ts';
import { registerSendLeave } from './send-leave.ts';
import { registerStateIds } from './state-ids.ts';
import { registerTimestampToEvent } from './timestamp-to-event.ts';
import { registerUserDevices } from './user-devices.ts';
import { registerUserKeys } from './user-keys.ts';
import { registerVersion } from './version.ts';

/** Registers the federation and key endpoints on `app`. */
export function registerFederationApi(app: FederationApp, services: Services): void {
  registerKeyServer(app, services);
  registerKeyQuery(app, services);
  registerVersion(app);
  registerSend(app, services);
  registerEvent(app, services);
  registerEventAuth(app, services);
  registerStateIds(app, services);
  registerGetMissingEvents(app, services);
  registerBackfill(app, services);
  registerTimestampToEvent(app, services);
  registerHierarchy(app, services);
  registerPublicRooms(app, services);
  registerMakeJoin(app, services);
  registerSendJoin(app, services);
  registerMakeLeave(app, services);
  registerSendLeave(app, services);
  registerMakeKnock(app, services);
  registerSendKnock(app, services);
  registerInvite(app, services);
  registerQueryProfile(app, services);
  registerQueryDirectory(app, services);
  registerUserDevices(app, services);
  registerUserKeys(app, services);
  registerOpenIdUserInfo(app, services);
  registerMedia(app, services);
}
