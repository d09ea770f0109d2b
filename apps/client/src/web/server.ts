/**
 * `weft web`: a local HTTP server for the web UI (the gomuks-web model). It serves the page and a
 * small JSON API with server-sent events, backed by one `WebSession` in this Node process, which
 * talks to whatever homeserver the user logs in to. End-to-end encryption stays in this process:
 * keys never reach the browser. Loopback by default; see `access.ts` for who may call the API.
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseAnyJson } from '@weft/canonical-json';
import { WeftClient } from '../sdk/client.ts';
import { AccessGuard, newLaunchToken, sameSecret, sessionCookie } from './access.ts';
import { type Asset, loadAssets } from './assets.ts';
import { errorResponse, WebError } from './errors.ts';
import { type LoginRequest, WebSession, type WebUpdate } from './session.ts';

export interface WebServerOptions {
  /** `host:port` to listen on; default `127.0.0.1:0` (a free loopback port). */
  readonly listen?: string;
  /** The account's encrypted store (as the CLI's `--store`), opened at start. */
  readonly storePath: string;
  /** Passphrase of the store. */
  readonly passphrase: string;
  /** The homeserver the login form offers (default `http://127.0.0.1:8008`). */
  readonly homeserver?: string;
}

export interface WebServer {
  /** Base URL, e.g. `http://127.0.0.1:8090`. */
  readonly url: string;
  /** The URL to open once: it carries the launch token. */
  readonly launchUrl: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
const POLICIES = new Set(['shared', 'epoch', 'forward-secret', 'none']);

const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json', JSON.stringify(value));
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new WebError(413, 'M_TOO_LARGE', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = parseAnyJson(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new WebError(400, 'M_NOT_JSON', 'request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new WebError(400, 'M_BAD_JSON', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}

function text(body: Record<string, unknown>, key: string, max = 4096): string {
  const value = body[key];
  if (typeof value !== 'string' || value.length > max)
    throw new WebError(400, 'M_BAD_JSON', `${key} must be a string of at most ${max} characters`);
  return value;
}

function loginRequest(body: Record<string, unknown>): LoginRequest {
  const homeserver = text(body, 'homeserver', 2048).trim();
  let url: URL;
  try {
    url = new URL(homeserver);
  } catch {
    throw new WebError(400, 'M_INVALID_PARAM', 'homeserver must be a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new WebError(400, 'M_INVALID_PARAM', 'homeserver must be an http(s) URL');
  const user = text(body, 'user', 255).trim();
  const password = text(body, 'password', 1024);
  if (user === '' || password === '')
    throw new WebError(400, 'M_MISSING_PARAM', 'user and password are required');
  return { homeserver, user, password, register: body['register'] === true };
}

function createRequest(body: Record<string, unknown>) {
  const name = text(body, 'name', 255).trim();
  const policy = text(body, 'policy', 32);
  if (!POLICIES.has(policy))
    throw new WebError(
      400,
      'M_INVALID_PARAM',
      'policy must be shared, epoch, forward-secret or none',
    );
  const invite = body['invite'] ?? [];
  if (!Array.isArray(invite) || invite.some((u) => typeof u !== 'string' || !/^@.+:.+$/.test(u)))
    throw new WebError(400, 'M_INVALID_PARAM', 'invite must be a list of user IDs (@user:server)');
  return {
    name,
    policy: policy === 'none' ? null : (policy as 'shared' | 'epoch' | 'forward-secret'),
    invite: invite as string[],
  };
}

/** The hosts (`Host` header values) a server listening on `host:port` answers to. */
function hostsFor(host: string, port: number): string[] {
  if (host === '127.0.0.1' || host === 'localhost')
    return [`127.0.0.1:${port}`, `localhost:${port}`];
  if (host === '::1' || host === '[::1]') return [`[::1]:${port}`, `localhost:${port}`];
  return [`${host.includes(':') ? `[${host}]` : host}:${port}`];
}

function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (match?.[1] === undefined || !(port >= 0 && port <= 65535))
    throw new RangeError(`--listen must be host:port, not ${listen}`);
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

const normalise = (url: string) => url.replace(/\/+$/, '');

/**
 * Starts the web UI server. The store is opened (and its passphrase checked) here, before any
 * page asks: the key derivation is then off the login path, and a store that already holds a
 * session shows its rooms at once.
 * @throws ClientError `wrong-passphrase` when the passphrase does not open the store.
 */
export async function startWebServer(options: WebServerOptions): Promise<WebServer> {
  const { host, port } = parseListen(options.listen ?? '127.0.0.1:0');
  const assets: ReadonlyMap<string, Asset> = loadAssets();
  const token = newLaunchToken();
  // Set once listening (the port may be chosen by the system); until then every request fails.
  let bound = 0;
  let guard = new AccessGuard(token, bound, []);
  const open = (url: string | undefined) =>
    WeftClient.open({
      homeserver: url,
      storePath: options.storePath,
      passphrase: options.passphrase,
    });
  // A store holding a session talks to that session's homeserver only (another one named
  // explicitly fails with `homeserver-mismatch`: the token is never sent elsewhere).
  let client = open(options.homeserver);
  let homeserver = client.homeserver;
  let session = client.loggedIn ? WebSession.resume(client, homeserver) : undefined;
  let starting = false;
  const streams = new Set<ServerResponse>();

  function need(): WebSession {
    if (session === undefined) throw new WebError(401, 'M_UNAUTHORIZED', 'log in first');
    return session;
  }

  function openStream(res: ServerResponse, current: WebSession): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
    });
    const write = (update: WebUpdate) => {
      res.write(`event: ${update.type}\ndata: ${JSON.stringify(update)}\n\n`);
    };
    write({ type: 'rooms', rooms: current.rooms() });
    write({
      type: 'status',
      connected: current.connected,
      ...(current.loggedOut ? { loggedOut: true } : {}),
    });
    const unsubscribe = current.subscribe(write);
    // A comment now and then keeps idle connections (and proxies) from timing out.
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 25_000);
    keepAlive.unref();
    streams.add(res);
    res.on('close', () => {
      clearInterval(keepAlive);
      unsubscribe();
      streams.delete(res);
    });
  }

  async function api(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (method === 'GET' && path === '/api/session') {
      sendJson(
        res,
        200,
        session === undefined || session.loggedOut
          ? { loggedIn: false, homeserver }
          : {
              loggedIn: true,
              userId: session.client.userId,
              deviceId: session.client.deviceId,
              homeserver: session.homeserver,
            },
      );
      return;
    }
    if (method === 'POST' && path === '/api/login') {
      const request = loginRequest(await readJson(req));
      if ((session !== undefined && !session.loggedOut) || starting)
        throw new WebError(409, 'M_UNKNOWN', 'this store already holds a session');
      starting = true;
      try {
        if (session !== undefined) {
          // Logged out by the homeserver: the old session ends (its store closes) and the store
          // is opened again for the new login.
          const ended = session;
          session = undefined;
          await ended.close();
          client = open(undefined);
          homeserver = client.homeserver;
        }
        // The SDK binds a store to a homeserver when it opens it.
        if (normalise(request.homeserver) !== homeserver) {
          await client.close();
          homeserver = normalise(request.homeserver);
          client = open(homeserver);
        }
        session = await WebSession.login(client, homeserver, request);
      } finally {
        starting = false;
      }
      // The room list rides along, so the page shows it without another request.
      sendJson(res, 200, {
        userId: session.client.userId,
        deviceId: session.client.deviceId,
        rooms: session.rooms(),
      });
      return;
    }
    if (method === 'GET' && path === '/api/events') {
      openStream(res, need());
      return;
    }
    if (method === 'GET' && path === '/api/rooms') {
      sendJson(res, 200, { rooms: need().rooms() });
      return;
    }
    if (method === 'POST' && path === '/api/rooms') {
      const roomId = await need().createRoom(createRequest(await readJson(req)));
      sendJson(res, 200, { roomId });
      return;
    }
    const match = /^\/api\/rooms\/([^/]+)(?:\/(join|send|read|older))?$/.exec(path);
    if (match?.[1] !== undefined) {
      let roomId: string;
      try {
        roomId = decodeURIComponent(match[1]);
      } catch {
        throw new WebError(400, 'M_INVALID_PARAM', 'malformed room ID');
      }
      const action = match[2];
      if (method === 'GET' && action === undefined) {
        sendJson(res, 200, await need().room(roomId));
        return;
      }
      if (method === 'POST' && action === 'join') {
        await need().join(roomId);
        sendJson(res, 200, {});
        return;
      }
      if (method === 'POST' && action === 'send') {
        const body = text(await readJson(req), 'body', 32_768);
        if (body.trim() === '') throw new WebError(400, 'M_INVALID_PARAM', 'message is empty');
        sendJson(res, 200, { event: (await need().send(roomId, body)) ?? null });
        return;
      }
      if (method === 'POST' && action === 'older') {
        sendJson(res, 200, { loaded: await need().loadOlder(roomId) });
        return;
      }
      if (method === 'POST' && action === 'read') {
        await need().markRead(roomId);
        sendJson(res, 200, {});
        return;
      }
    }
    throw new WebError(404, 'M_UNRECOGNIZED', 'unknown API path');
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    const path = url.pathname;
    if (path.startsWith('/api/')) {
      const refusal = guard.check(req, req.method !== 'GET');
      if (refusal !== undefined) {
        const status = refusal === 'no-session' ? 401 : 403;
        sendJson(res, status, { errcode: 'M_FORBIDDEN', error: `refused: ${refusal}` });
        return;
      }
      try {
        await api(req, res, path);
      } catch (error) {
        const { status, body } = errorResponse(error);
        if (!res.headersSent) sendJson(res, status, body);
        else res.end();
      }
      return;
    }
    if (req.method !== 'GET') {
      sendJson(res, 405, { errcode: 'M_UNRECOGNIZED', error: 'method not allowed' });
      return;
    }
    if (!guard.hostAllowed(req)) {
      send(res, 403, 'text/plain; charset=utf-8', 'unknown host');
      return;
    }
    const given = url.searchParams.get('token');
    if (path === '/' && given !== null) {
      if (!sameSecret(given, token)) {
        send(res, 403, 'text/plain; charset=utf-8', 'wrong token: open the URL weft web printed');
        return;
      }
      // Trade the token in the URL for a cookie, and drop it from the address bar and history.
      res.writeHead(303, {
        ...SECURITY_HEADERS,
        'Set-Cookie': sessionCookie(bound, token),
        Location: '/',
      });
      res.end();
      return;
    }
    const asset = assets.get(path);
    if (asset === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found');
      return;
    }
    send(res, 200, asset.type, asset.body);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { errcode: 'M_UNKNOWN', error: 'internal error' });
      else res.end();
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
  } catch (error) {
    // E.g. the port is taken: close the store again before reporting it.
    await (session?.close() ?? client.close());
    throw error;
  }
  bound = (server.address() as AddressInfo).port;
  guard = new AccessGuard(token, bound, hostsFor(host, bound));
  const base = `http://${hostsFor(host, bound)[0]}`;
  return {
    url: base,
    launchUrl: `${base}/?token=${token}`,
    async close() {
      for (const stream of streams) stream.end();
      await (session?.close() ?? client.close());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
