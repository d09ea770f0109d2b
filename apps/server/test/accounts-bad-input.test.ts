/**
 * Bad input to the account, device, profile, account-data, filter, push-rule, presence and media
 * endpoints: malformed JSON, non-object bodies, wrong field types, bodies over the limit and
 * missing or unknown tokens all get a 4xx with a spec errcode — never a 5xx.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';

describe('bad input to the account and user-data endpoints', () => {
  let server: TestServer;
  let token: string;
  let endpoints: [string, string][];
  beforeAll(async () => {
    server = await startTestServer({ file: { media: { max_upload_bytes: 64 } } });
    const alice = await server.client.registerUser('alice');
    token = alice.accessToken;
    const me = encodeURIComponent(alice.userId);
    endpoints = [
      ['POST', `${V3}/register`],
      ['POST', `${V3}/login`],
      ['POST', `${V3}/account/password`],
      ['PUT', `${V3}/devices/${alice.deviceId}`],
      ['DELETE', `${V3}/devices/${alice.deviceId}`],
      ['POST', `${V3}/delete_devices`],
      ['PUT', `${V3}/profile/${me}/displayname`],
      ['PUT', `${V3}/profile/${me}/avatar_url`],
      ['PUT', `${V3}/user/${me}/account_data/x`],
      ['PUT', `${V3}/user/${me}/rooms/${encodeURIComponent('!r:test.local')}/account_data/x`],
      ['POST', `${V3}/user/${me}/filter`],
      ['PUT', `${V3}/pushrules/global/override/x`],
      ['PUT', `${V3}/pushrules/global/content/x`],
      ['PUT', `${V3}/pushrules/global/override/.m.rule.master/enabled`],
      ['PUT', `${V3}/pushrules/global/override/.m.rule.master/actions`],
      ['PUT', `${V3}/presence/${me}/status`],
    ];
  });
  afterAll(() => server.stop());

  const wrongTypes: unknown[] = [
    { username: 5, password: [], auth: 'x', device_id: {}, initial_device_display_name: 1 },
    { type: 'm.login.password', identifier: 'alice', password: 1 },
    { type: 'm.login.password', identifier: { type: 'm.id.user', user: 7 }, password: 'x' },
    { new_password: 5, logout_devices: 'yes', auth: [] },
    { display_name: [], devices: [1, 2], auth: { type: 'm.login.password', user: 5 } },
    { displayname: {}, avatar_url: 3 },
    { room: 'x', presence: 5, account_data: [], event_fields: 'x' },
    { actions: 'notify', conditions: 'x', pattern: 5, enabled: 'true' },
    { presence: 1, status_msg: [] },
    { auth: { type: 'm.login.password', identifier: null, password: null } },
  ];
  const rawBodies = [
    '',
    '{',
    'null',
    '[]',
    '"x"',
    '{"a":1.5}',
    '{"a":1,"a":2}',
    `{"a":${'['.repeat(200)}`,
  ];

  it('answers malformed and mistyped bodies with 4xx and an errcode', async () => {
    const seen = new Set<number>();
    for (const [method, path] of endpoints) {
      const requests = [
        ...rawBodies.map((rawBody) => ({ rawBody })),
        ...wrongTypes.map((body) => ({ body })),
      ];
      for (const request of requests) {
        const response = await server.client.request(method, path, { token, ...request });
        seen.add(response.status);
        if (response.status >= 500) {
          throw new Error(`${method} ${path} ${JSON.stringify(request)} → ${response.status}`);
        }
        if (response.status >= 400) {
          expect(
            typeof (response.body as Record<string, unknown>)['errcode'] === 'string' ||
              Array.isArray((response.body as Record<string, unknown>)['flows']),
          ).toBe(true);
        }
      }
    }
    expect(seen.has(400)).toBe(true);
  });

  it('answers missing and unknown tokens with 401, huge bodies with 413', async () => {
    for (const [method, path] of endpoints) {
      if (path.endsWith('/register') || path.endsWith('/login')) continue;
      const missing = await server.client.request(method, path, { body: {} });
      expect([path, missing.status, missing.body['errcode']]).toEqual([
        path,
        401,
        'M_MISSING_TOKEN',
      ]);
      const unknown = await server.client.request(method, path, { body: {}, token: 'wft_nope' });
      expect([path, unknown.status, unknown.body['errcode']]).toEqual([
        path,
        401,
        'M_UNKNOWN_TOKEN',
      ]);
    }
    const huge = await server.client.request('PUT', endpoints[8]?.[1] ?? '', {
      token,
      rawBody: `{"a":"${'x'.repeat(5 * 1024 * 1024)}"}`,
    });
    expect(huge.status).toBe(413);
    expect(huge.body['errcode']).toBe('M_TOO_LARGE');
    const media = await server.client.request('POST', '/_matrix/media/v3/upload', {
      token,
      rawBody: new Uint8Array(65),
    });
    expect(media.status).toBe(413);
  });

  it('answers malformed path parameters with 4xx', async () => {
    for (const path of [
      `${V3}/profile/%00`,
      `${V3}/profile/${encodeURIComponent('@a:b')}/unknown_key`,
      `${V3}/pushrules/global/override/${'x'.repeat(300)}`,
      `${V3}/presence/nobody/status`,
      '/_matrix/client/v1/media/download/test.local/%2e%2e',
      '/_matrix/media/r0/download/..%2f..%2fetc/passwd',
    ]) {
      const response = await server.client.request('GET', path, { token });
      expect(response.status, path).toBeGreaterThanOrEqual(400);
      expect(response.status, path).toBeLessThan(500);
    }
  });
});
