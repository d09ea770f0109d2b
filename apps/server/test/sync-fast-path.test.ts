/**
 * The `/sync` fast path (api/client/sync-fast-path.ts): which requests it takes and which it
 * leaves to the app, and that its answers are the app's — same status, errcode, headers and
 * body shape — for the requests it takes.
 *
 * "Which it takes" is seen on a second listener (an HTTP thread of its own) that has only the
 * fast path (anything it leaves gets a 599 there), beside the real server for the same services.
 */
import { connect } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { syncFastPath } from '../src/api/client/sync-fast-path.ts';
import { type HttpThread, startHttpThread } from '../src/http-thread.ts';
import { silentLog } from '../src/log.ts';
import { type RegisteredUser, registerUsers, startTestServer, type TestServer } from './harness.ts';

/** The status the fast-path-only listener answers a request the fast path left. */
const LEFT = 599;

describe('the /sync fast path', () => {
  let server: TestServer;
  let alice: RegisteredUser;
  let fastOnly: HttpThread;
  let fastUrl: string;

  beforeAll(async () => {
    server = await startTestServer();
    [alice] = await registerUsers(server, ['alice']);
    const fast = syncFastPath(server.services, silentLog);
    fastOnly = await startHttpThread(
      {
        host: '127.0.0.1',
        port: 0,
        maxBodyBytes: 1024,
        maxUploadBytes: 1024,
        uploadPath: '^$',
        tooLarge: { status: 413, headers: {}, body: '' },
      },
      (request) => {
        if (!fast(request)) request.respond({ status: LEFT, headers: {}, body: '' });
      },
      {
        exited: (error) => {
          throw error;
        },
        failed: (error) => {
          throw error;
        },
      },
    );
    fastUrl = `http://127.0.0.1:${fastOnly.port}`;
  });

  afterAll(async () => {
    await fastOnly.close();
    await server.stop();
  });

  const get = (base: string, path: string, headers: Record<string, string> = {}) =>
    fetch(base + path, { headers });
  const bearer = () => ({ Authorization: `Bearer ${alice.accessToken}` });

  it('answers a known token’s sync as the app does, headers included', async () => {
    // The app's answer (it also puts the token in the cache the fast path reads).
    const viaApp = await get(server.url, '/_matrix/client/v3/sync?timeout=0', bearer());
    const viaFast = await get(fastUrl, '/_matrix/client/v3/sync?timeout=0', bearer());
    expect(viaFast.status).toBe(200);
    expect(viaApp.status).toBe(200);
    const headersOf = (response: Response) =>
      [...response.headers.entries()]
        .filter(([name]) => !['date', 'content-length', 'keep-alive', 'connection'].includes(name))
        .sort();
    expect(headersOf(viaFast)).toEqual(headersOf(viaApp));
    expect(viaFast.headers.get('access-control-allow-origin')).toBe('*');
    expect(viaFast.headers.get('content-type')).toBe('application/json');
    const fastBody = (await viaFast.json()) as Record<string, unknown>;
    const appBody = (await viaApp.json()) as Record<string, unknown>;
    expect(Object.keys(fastBody).sort()).toEqual(Object.keys(appBody).sort());
    expect(typeof fastBody['next_batch']).toBe('string');
    // The legacy r0 path (matrix-nio) too.
    const r0 = await get(fastUrl, '/_matrix/client/r0/sync?timeout=0', bearer());
    expect(r0.status).toBe(200);
  });

  it('leaves to the app what it does not handle, and the app answers it', async () => {
    await get(server.url, '/_matrix/client/v3/sync?timeout=0', bearer());
    const cases: [string, Record<string, string>][] = [
      // No token, a token in the query, an unknown token, another header form.
      ['/_matrix/client/v3/sync', {}],
      [`/_matrix/client/v3/sync?access_token=${alice.accessToken}`, {}],
      ['/_matrix/client/v3/sync', { Authorization: 'Bearer wft_nosuchtoken' }],
      ['/_matrix/client/v3/sync', { Authorization: `bearer  ${alice.accessToken}` }],
      // A query the reader refuses: the app answers with its error.
      ['/_matrix/client/v3/sync?since=garbage', bearer()],
      ['/_matrix/client/v3/sync?timeout=-1', bearer()],
      // Other paths.
      ['/_matrix/client/v3/sync/', bearer()],
      ['/_matrix/client/v3/account/whoami', bearer()],
    ];
    for (const [path, headers] of cases) {
      expect((await get(fastUrl, path, headers)).status, path).toBe(LEFT);
    }
    const expected: [number, string | undefined][] = [
      [401, 'M_MISSING_TOKEN'],
      [200, undefined],
      [401, 'M_UNKNOWN_TOKEN'],
      [200, undefined],
      [400, 'M_INVALID_PARAM'],
      [400, 'M_INVALID_PARAM'],
      [404, 'M_UNRECOGNIZED'],
      [200, undefined],
    ];
    for (const [i, [path, headers]] of cases.entries()) {
      const response = await get(
        server.url,
        `${path}${path.includes('?') ? '&' : '?'}timeout=0`,
        headers,
      );
      const body = (await response.json()) as Record<string, unknown>;
      expect([response.status, body['errcode']], path).toEqual(expected[i]);
    }
  });

  it('leaves a request with two Authorization headers to the app, which refuses it', async () => {
    await get(server.url, '/_matrix/client/v3/sync?timeout=0', bearer());
    // fetch joins repeated headers: the request is written by hand.
    const twice = (base: string) =>
      new Promise<number>((resolve, reject) => {
        const { hostname, port } = new URL(base);
        const socket = connect(Number(port), hostname, () => {
          // Written, not ended: as Node's HTTP server does for any answer not yet written, the
          // HTTP thread aborts a request whose client half-closes (`httpAllowHalfOpen` off).
          socket.write(
            'GET /_matrix/client/v3/sync?timeout=0 HTTP/1.1\r\n' +
              `Host: ${hostname}\r\n` +
              `Authorization: Bearer ${alice.accessToken}\r\n` +
              'Authorization: Bearer wft_other\r\n' +
              'Connection: close\r\n\r\n',
          );
        });
        let head = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => {
          head += chunk;
        });
        socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1])));
        socket.on('error', reject);
      });
    expect(await twice(fastUrl)).toBe(LEFT);
    expect(await twice(server.url)).toBe(401);
  });

  it('answers an error of a sync it took as the app does (an unknown filter ID)', async () => {
    const path = '/_matrix/client/v3/sync?timeout=0&filter=nosuchfilter';
    const viaFast = await get(fastUrl, path, bearer());
    const viaApp = await get(server.url, path, bearer());
    expect(viaFast.status).toBe(400);
    expect(viaApp.status).toBe(400);
    expect(await viaFast.json()).toEqual(await viaApp.json());
    expect(viaFast.headers.get('access-control-allow-origin')).toBe('*');
    expect(viaFast.headers.get('content-type')).toBe('application/json');
  });
});
