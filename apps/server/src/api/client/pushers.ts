// GET  /_matrix/client/v3/pushers
// POST /_matrix/client/v3/pushers/set
// https://spec.matrix.org/v1.19/client-server-api/#push-notifications
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { PusherSettings } from '../../services/pushers/service.ts';
import { isObject, optionalString, requiredString } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Spec `pushkey`: "Max length, 512 bytes". */
const MAX_PUSHKEY_BYTES = 512;
/** Spec `app_id`: "Max length, 64 chars". */
const MAX_APP_ID_CHARS = 64;
/** The path every push gateway serves (Push Gateway API). */
const NOTIFY_PATH = '/_matrix/push/v1/notify';

type SetBody =
  | { readonly delete: true; readonly appId: string; readonly pushkey: string }
  | ({ readonly delete: false } & PusherSettings);

/**
 * `data.url` of an `http` pusher: an http(s) URL whose path ends in `/_matrix/push/v1/notify`
 * (the spec asks for HTTPS; plain HTTP is accepted, as Synapse does, for gateways on a local
 * network). 400 `M_INVALID_PARAM` otherwise.
 */
function checkUrl(value: unknown): void {
  if (typeof value !== 'string') {
    throw MatrixError.invalidParam("data.url is required for an 'http' pusher");
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw MatrixError.invalidParam('data.url is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw MatrixError.invalidParam('data.url must be an http or https URL');
  }
  if (!url.pathname.endsWith(NOTIFY_PATH)) {
    throw MatrixError.invalidParam(`data.url must have a path ending in ${NOTIFY_PATH}`);
  }
}

function parseSetBody(json: Record<string, unknown>): SetBody {
  const kind = json['kind'];
  if (kind === undefined) throw MatrixError.missingParam('Missing parameter: kind');
  if (kind !== null && typeof kind !== 'string') throw MatrixError.badJson('kind must be a string');
  const appId = requiredParam(json, 'app_id');
  const pushkey = requiredParam(json, 'pushkey');
  if (appId === '' || appId.length > MAX_APP_ID_CHARS) {
    throw MatrixError.invalidParam(`app_id must be 1 to ${MAX_APP_ID_CHARS} characters`);
  }
  if (pushkey === '' || Buffer.byteLength(pushkey) > MAX_PUSHKEY_BYTES) {
    throw MatrixError.invalidParam(`pushkey must be 1 to ${MAX_PUSHKEY_BYTES} bytes`);
  }
  if (kind === null) return { delete: true, appId, pushkey };
  const missing = ['app_display_name', 'device_display_name', 'lang', 'data'].filter(
    (key) => json[key] === undefined || json[key] === null,
  );
  if (missing.length > 0) {
    throw MatrixError.missingParam(`Missing parameters: ${missing.join(', ')}`);
  }
  // This server binds no e-mail addresses (account-3pid.ts) and sends no mail: an e-mail
  // pusher, whose pushkey must be one of the user's addresses, could never be served.
  if (kind === 'email') throw MatrixError.invalidParam("Pushers of kind 'email' are not supported");
  if (kind !== 'http') throw MatrixError.invalidParam(`Unknown pusher kind: ${kind}`);
  const data = json['data'];
  if (!isObject(data)) throw MatrixError.badJson('data must be an object');
  checkUrl(data['url']);
  if (data['format'] !== undefined && typeof data['format'] !== 'string') {
    throw MatrixError.invalidParam('data.format must be a string');
  }
  const append = json['append'];
  if (append !== undefined && typeof append !== 'boolean') {
    throw MatrixError.badJson('append must be a boolean');
  }
  return {
    delete: false,
    kind,
    appId,
    pushkey,
    appDisplayName: requiredString(json, 'app_display_name'),
    deviceDisplayName: requiredString(json, 'device_display_name'),
    profileTag: optionalString(json, 'profile_tag'),
    lang: requiredString(json, 'lang'),
    data,
    append: append === true,
  };
}

/** A required string: 400 `M_MISSING_PARAM` when absent, `M_BAD_JSON` when not a string. */
function requiredParam(json: Record<string, unknown>, key: string): string {
  const value = optionalString(json, key);
  if (value === undefined) throw MatrixError.missingParam(`Missing parameter: ${key}`);
  return value;
}

export function registerPushers(app: ClientApp, services: Services): void {
  const { pushers } = services;

  clientEndpoint(app, {
    method: 'GET',
    path: '/pushers',
    auth: 'user',
    handler: async ({ user }) => ({ pushers: await pushers.list(user.userId) }),
  });
  clientEndpoint(app, {
    method: 'POST',
    path: '/pushers/set',
    auth: 'user',
    rateLimit: true,
    // `data` is the client's own (custom keys are forwarded to the gateway): floats are kept.
    floats: true,
    parseBody: parseSetBody,
    handler: async ({ user, body }) => {
      if (body.delete) await pushers.delete(user.userId, body.appId, body.pushkey);
      else await pushers.set(user.userId, user.deviceId, body);
      return {};
    },
  });
}
