/**
 * Push rules over real HTTP (spec client-server-api "Push Rules: API", server-default rules from
 * "Predefined Rules") and the `m.push_rules` account data event a change produces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

type Rule = {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: unknown[];
  conditions?: Record<string, unknown>[];
  pattern?: string;
};
type Ruleset = Record<'override' | 'content' | 'room' | 'sender' | 'underride', Rule[]>;

describe('push rules', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.stop());

  it("serves the spec's server-default rules in order, filled in for the user", async () => {
    const alice = await server.client.registerUser('alice');
    const response = await server.client.request<{ global: Ruleset }>('GET', `${V3}/pushrules/`, {
      token: alice.accessToken,
    });
    expect(response.status).toBe(200);
    const { global } = response.body;
    expect(global.override.map((r) => r.rule_id)).toEqual([
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.is_room_mention',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ]);
    expect(global.override[0]).toEqual({
      rule_id: '.m.rule.master',
      default: true,
      enabled: false,
      conditions: [],
      actions: [],
    });
    expect(
      global.override.find((r) => r.rule_id === '.m.rule.invite_for_me')?.conditions,
    ).toContainEqual({
      kind: 'event_match',
      key: 'state_key',
      pattern: alice.userId,
    });
    expect(
      global.override.find((r) => r.rule_id === '.m.rule.is_user_mention')?.conditions,
    ).toEqual([
      {
        kind: 'event_property_contains',
        key: 'content.m\\.mentions.user_ids',
        value: alice.userId,
      },
    ]);
    // Spec v1.17 removed the legacy body-mention rules (.m.rule.contains_display_name,
    // .m.rule.roomnotif, .m.rule.contains_user_name): no default content rule is left.
    expect(global.content).toEqual([]);
    expect(global.room).toEqual([]);
    expect(global.sender).toEqual([]);
    expect(global.underride.map((r) => r.rule_id)).toEqual([
      '.m.rule.call',
      '.m.rule.encrypted_room_one_to_one',
      '.m.rule.room_one_to_one',
      '.m.rule.message',
      '.m.rule.encrypted',
    ]);
    const scoped = await server.client.request('GET', `${V3}/pushrules/global/`, {
      token: alice.accessToken,
    });
    expect(scoped.body).toEqual(global);
    const one = await server.client.request(
      'GET',
      `${V3}/pushrules/global/underride/.m.rule.message`,
      {
        token: alice.accessToken,
      },
    );
    expect(one.body).toEqual(global.underride[3]);
  });

  it('adds, orders, changes and deletes user-defined rules', async () => {
    const bob = await server.client.registerUser('bob');
    const token = bob.accessToken;
    const rules = async () =>
      (await server.client.request<{ global: Ruleset }>('GET', `${V3}/pushrules/`, { token })).body
        .global;
    const put = (kind: string, id: string, body: unknown, query = '') =>
      server.client.request('PUT', `${V3}/pushrules/global/${kind}/${enc(id)}${query}`, {
        token,
        body,
      });

    expect((await put('content', 'cake', { pattern: 'cake', actions: ['notify'] })).status).toBe(
      200,
    );
    expect((await put('content', 'pie', { pattern: 'pie', actions: ['notify'] })).status).toBe(200);
    await put('content', 'tart', { pattern: 'tart', actions: [] }, '?after=pie');
    await put('content', 'bun', { pattern: 'bun', actions: [] }, '?before=tart');
    // A new rule without before/after is the most important user-defined rule of its kind;
    // server-default rules stay after every user-defined one.
    expect((await rules()).content.map((r) => r.rule_id)).toEqual(['pie', 'bun', 'tart', 'cake']);
    const override = await put('override', 'beer', {
      conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'beer' }],
      actions: ['notify', 'dont_notify', { set_tweak: 'sound', value: 'beeroclock.wav' }],
    });
    expect(override.status).toBe(200);
    const ruleset = await rules();
    expect(ruleset.override.map((r) => r.rule_id).slice(0, 3)).toEqual([
      '.m.rule.master',
      'beer',
      '.m.rule.suppress_notices',
    ]);
    // Historical actions are stripped.
    expect(ruleset.override[1]?.actions).toEqual([
      'notify',
      { set_tweak: 'sound', value: 'beeroclock.wav' },
    ]);

    await put('room', '!quiet:test.local', { actions: [] });
    await put('sender', '@spam:test.local', { actions: [] });
    expect((await rules()).room).toEqual([
      { rule_id: '!quiet:test.local', default: false, enabled: true, actions: [] },
    ]);

    expect(
      (
        await server.client.request('PUT', `${V3}/pushrules/global/content/cake/enabled`, {
          token,
          body: { enabled: false },
        })
      ).status,
    ).toBe(200);
    expect(
      (await server.client.request('GET', `${V3}/pushrules/global/content/cake/enabled`, { token }))
        .body,
    ).toEqual({ enabled: false });
    await server.client.request('PUT', `${V3}/pushrules/global/content/cake/actions`, {
      token,
      body: { actions: [] },
    });
    expect(
      (await server.client.request('GET', `${V3}/pushrules/global/content/cake/actions`, { token }))
        .body,
    ).toEqual({ actions: [] });
    // Replacing a rule keeps its place and its enabled flag.
    await put('content', 'cake', { pattern: 'cakes', actions: ['notify'] });
    const cake = (await rules()).content.find((r) => r.rule_id === 'cake');
    expect(cake).toEqual({
      rule_id: 'cake',
      default: false,
      enabled: false,
      pattern: 'cakes',
      actions: ['notify'],
    });

    // Server-default rules: enabled and actions change, deletion is refused.
    await server.client.request('PUT', `${V3}/pushrules/global/override/.m.rule.master/enabled`, {
      token,
      body: { enabled: true },
    });
    await server.client.request('PUT', `${V3}/pushrules/global/underride/.m.rule.message/actions`, {
      token,
      body: { actions: [] },
    });
    const changed = await rules();
    expect(changed.override[0]?.enabled).toBe(true);
    expect(changed.underride.find((r) => r.rule_id === '.m.rule.message')).toMatchObject({
      default: true,
      actions: [],
    });
    // Users share the server-default rule objects: bob's change must not reach anyone else.
    const erin = await server.client.registerUser('erin');
    const erins = (
      await server.client.request<{ global: Ruleset }>('GET', `${V3}/pushrules/`, {
        token: erin.accessToken,
      })
    ).body.global;
    expect(erins.override[0]?.enabled).toBe(false);
    expect(erins.underride.find((r) => r.rule_id === '.m.rule.message')?.actions).toEqual([
      'notify',
    ]);
    const deleteDefault = await server.client.request(
      'DELETE',
      `${V3}/pushrules/global/override/.m.rule.master`,
      { token },
    );
    expect(deleteDefault.status).toBe(400);

    expect(
      (await server.client.request('DELETE', `${V3}/pushrules/global/content/pie`, { token }))
        .status,
    ).toBe(200);
    expect((await rules()).content.map((r) => r.rule_id)).not.toContain('pie');
    const gone = await server.client.request('GET', `${V3}/pushrules/global/content/pie`, {
      token,
    });
    expect(gone.status).toBe(404);
    expect(gone.body['errcode']).toBe('M_NOT_FOUND');
  });

  it('refuses malformed rules with the spec errcodes', async () => {
    const carol = await server.client.registerUser('carol');
    const token = carol.accessToken;
    const put = (path: string, body: unknown) =>
      server.client.request('PUT', `${V3}/pushrules/${path}`, { token, body });
    const cases: [string, unknown, number, string][] = [
      ['global/content/x', { actions: ['notify'] }, 400, 'M_MISSING_PARAM'],
      ['global/content/x', { pattern: 'x' }, 400, 'M_MISSING_PARAM'],
      ['global/content/x', { pattern: 'x', actions: 'notify' }, 400, 'M_BAD_JSON'],
      ['global/override/x', { actions: [], conditions: [{ key: 'type' }] }, 400, 'M_BAD_JSON'],
      ['global/override/.mine', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['global/nonsense/x', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['device/override/x', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['global/room/not-a-room', { actions: [] }, 400, 'M_INVALID_PARAM'],
      // pushrules.yaml: 400 M_UNKNOWN "before/after rule not found", for a server-default too.
      ['global/content/x?before=missing', { pattern: 'x', actions: [] }, 400, 'M_UNKNOWN'],
      ['global/content/x?after=missing', { pattern: 'x', actions: [] }, 400, 'M_UNKNOWN'],
      ['global/override/x?after=.m.rule.master', { actions: [] }, 400, 'M_UNKNOWN'],
      ['global/underride/x?before=.m.rule.message', { actions: [] }, 400, 'M_UNKNOWN'],
      // 'Slashes ("/") and backslashes ("\\") are also not allowed.'
      ['global/content/a%2Fb', { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
      ['global/content/a%5Cb', { pattern: 'x', actions: [] }, 400, 'M_INVALID_PARAM'],
      ['global/override/%2F', { actions: [] }, 400, 'M_INVALID_PARAM'],
      ['global/content/missing/enabled', { enabled: true }, 404, 'M_NOT_FOUND'],
      // Patterns are bounded (each is matched against every event in the user's rooms).
      ['global/content/long', { pattern: 'a'.repeat(513), actions: [] }, 400, 'M_INVALID_PARAM'],
      [
        'global/override/long',
        {
          actions: [],
          conditions: [{ kind: 'event_match', key: 'type', pattern: '*'.repeat(513) }],
        },
        400,
        'M_INVALID_PARAM',
      ],
      ['global/override/.m.rule.tombstone/enabled', { enabled: 'no' }, 400, 'M_BAD_JSON'],
    ];
    for (const [path, body, status, errcode] of cases) {
      const response = await put(path, body);
      expect([path, response.status, response.body['errcode']]).toEqual([path, status, errcode]);
    }
  });

  it("sends the new ruleset to the user's clients as m.push_rules account data", async () => {
    const dave = await server.client.registerUser('dave');
    const token = dave.accessToken;
    const first = await server.client.request<{ next_batch: string }>('GET', `${V3}/sync`, {
      token,
    });
    await server.client.request(
      'PUT',
      `${V3}/pushrules/global/sender/${enc('@noisy:test.local')}`,
      {
        token,
        body: { actions: [] },
      },
    );
    const next = await server.client.request<{
      account_data: { events: { type: string; content: { global: Ruleset } }[] };
    }>('GET', `${V3}/sync?since=${enc(first.body.next_batch)}&timeout=0`, { token });
    const event = next.body.account_data.events.find((e) => e.type === 'm.push_rules');
    expect(event?.content.global.sender).toEqual([
      { rule_id: '@noisy:test.local', default: false, enabled: true, actions: [] },
    ]);
  });
});
