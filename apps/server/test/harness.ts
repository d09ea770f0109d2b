/**
 * Test harness: a real server on a loopback port with a fresh data directory (a real SQLite file
 * unless `database` says otherwise), and a tiny JSON client for it. Every server test uses this,
 * so tests exercise real HTTP, real storage and real signing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildConfig, type ServerConfig } from '../src/config.ts';
import { silentLog } from '../src/log.ts';
import { type RunningServer, startServer } from '../src/server.ts';

export interface TestServerOptions {
  /** Overrides merged into the YAML-shaped config file (e.g. `{ database: {...} }`). */
  readonly file?: Record<string, unknown>;
  readonly serverName?: string;
  /** Reuse an existing data directory (restart tests). */
  readonly dataDir?: string;
  /** Listen on this port rather than a free one (a restart keeps the URL clients saved). */
  readonly port?: number;
}

export interface TestServer extends RunningServer {
  readonly config: ServerConfig;
  readonly dataDir: string;
  /** A client for this server. */
  readonly client: TestClient;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'weft-server-'));
  const config = buildConfig(
    { rate_limit: { per_second: 10_000, burst: 10_000 }, ...options.file },
    {
      dataDir,
      listen: `127.0.0.1:${options.port ?? 0}`,
      serverName: options.serverName ?? 'test.local',
    },
  );
  const server = await startServer(config, { log: silentLog });
  return { ...server, config, dataDir, client: new TestClient(server.url) };
}

/** A user registered through {@link TestClient.registerUser}. */
export type RegisteredUser = Awaited<ReturnType<TestClient['registerUser']>>;

/** Registers each of `localparts` on `server`, one after another; returns them in that order. */
export async function registerUsers<const Localparts extends readonly string[]>(
  server: TestServer,
  localparts: Localparts,
): Promise<{ -readonly [K in keyof Localparts]: RegisteredUser }> {
  const users: RegisteredUser[] = [];
  for (const localpart of localparts) users.push(await server.client.registerUser(localpart));
  return users as { -readonly [K in keyof Localparts]: RegisteredUser };
}

export interface JsonResponse<T = Record<string, unknown>> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

/** A minimal JSON-over-HTTP client: no retries, no magic, so tests see exactly what was sent. */
export class TestClient {
  readonly baseUrl: string;

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: {
      body?: unknown;
      token?: string;
      rawBody?: string | Uint8Array;
      headers?: Record<string, string>;
    } = {},
  ): Promise<JsonResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers['Authorization'] = `Bearer ${options.token}`;
    let body: string | Uint8Array | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const response = await fetch(this.baseUrl + path, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      // Non-JSON bodies (media) are returned as text.
    }
    return { status: response.status, body: parsed as T, headers: response.headers };
  }

  /** Registers a user through the UIA `m.login.dummy` dance, as a real client does. */
  async registerUser(
    username: string,
    password = 'correct horse battery staple',
  ): Promise<{ userId: string; accessToken: string; deviceId: string }> {
    const first = await this.request('POST', '/_matrix/client/v3/register', {
      body: { username, password },
    });
    if (first.status !== 401) throw new Error(`register: expected 401 UIA, got ${first.status}`);
    const session = first.body['session'];
    const done = await this.request('POST', '/_matrix/client/v3/register', {
      body: { username, password, auth: { type: 'm.login.dummy', session } },
    });
    if (done.status !== 200) {
      throw new Error(`register failed: ${done.status} ${JSON.stringify(done.body)}`);
    }
    return {
      userId: String(done.body['user_id']),
      accessToken: String(done.body['access_token']),
      deviceId: String(done.body['device_id']),
    };
  }
}
