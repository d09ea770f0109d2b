// GET /_matrix/client/v3/pushrules/, GET /_matrix/client/v3/pushrules/global/
// GET/PUT/DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId}
// GET/PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled, …/actions
// https://spec.matrix.org/v1.19/client-server-api/#get_matrixclientv3pushrules
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3pushrulesglobalkindruleid
// https://spec.matrix.org/v1.19/client-server-api/#delete_matrixclientv3pushrulesglobalkindruleid
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3pushrulesglobalkindruleidenabled
// https://spec.matrix.org/v1.19/client-server-api/#put_matrixclientv3pushrulesglobalkindruleidactions
import { MatrixError } from '@weft/transport';

import type { Services } from '../../services/index.ts';
import type { PushRuleKind } from '../../services/push-rules/defaults.ts';
import { isPushRuleKind, type NewPushRule } from '../../services/push-rules/service.ts';
import { isObject, parseRoomId, parseUserId } from './room-params.ts';
import { type ClientApp, clientEndpoint } from './routes.ts';

/** Spec "Historical Actions": `dont_notify` and `coalesce` MUST be ignored (stripped). */
function parseActions(value: unknown): unknown[] {
  if (value === undefined) throw MatrixError.missingParam('actions is required');
  if (!Array.isArray(value) || !value.every((a) => typeof a === 'string' || isObject(a))) {
    throw MatrixError.badJson('actions must be a list of strings and objects');
  }
  return value.filter((action) => action !== 'dont_notify' && action !== 'coalesce');
}

function parseKind(scope: string, kind: string): PushRuleKind {
  if (scope !== 'global') throw MatrixError.invalidParam('The only scope is "global"');
  if (!isPushRuleKind(kind)) throw MatrixError.invalidParam(`Unknown push rule kind ${kind}`);
  return kind;
}

/**
 * The longest glob pattern a rule may carry (a content rule's `pattern`, an `event_match`
 * condition's): the spec sets none, but every pattern is matched against every event in the
 * user's rooms, in the event's write transaction, in time proportional to its length.
 */
export const MAX_PATTERN_LENGTH = 512;

function checkPattern(pattern: string): void {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw MatrixError.invalidParam(`pattern must be at most ${MAX_PATTERN_LENGTH} characters`);
  }
}

/** Spec "Push Rule" bodies: which fields each kind takes, and what its rule ID must be. */
function parseRule(kind: PushRuleKind, ruleId: string, body: Record<string, unknown>): NewPushRule {
  const actions = parseActions(body['actions']);
  if (kind === 'room') parseRoomId(ruleId);
  if (kind === 'sender') parseUserId(ruleId, 'rule_id');
  if (kind === 'content') {
    const pattern = body['pattern'];
    if (pattern === undefined) throw MatrixError.missingParam('content rules need a pattern');
    if (typeof pattern !== 'string') throw MatrixError.badJson('pattern must be a string');
    checkPattern(pattern);
    return { actions, pattern };
  }
  if (kind === 'override' || kind === 'underride') {
    const conditions = body['conditions'] ?? [];
    if (
      !Array.isArray(conditions) ||
      !conditions.every((c) => isObject(c) && typeof c['kind'] === 'string')
    ) {
      throw MatrixError.badJson('conditions must be a list of objects with a kind');
    }
    for (const condition of conditions as Record<string, unknown>[]) {
      if (typeof condition['pattern'] === 'string') checkPattern(condition['pattern']);
    }
    return { actions, conditions: conditions as Record<string, unknown>[] };
  }
  return { actions };
}

export function registerPushRules(app: ClientApp, services: Services): void {
  const { pushRules } = services;

  for (const path of ['/pushrules/', '/pushrules'] as const) {
    clientEndpoint(app, {
      method: 'GET',
      path,
      auth: 'user',
      handler: async ({ user }) => ({ global: await pushRules.ruleset(user.userId) }),
    });
  }
  for (const path of ['/pushrules/global/', '/pushrules/global'] as const) {
    clientEndpoint(app, {
      method: 'GET',
      path,
      auth: 'user',
      handler: async ({ user }) => ({ ...(await pushRules.ruleset(user.userId)) }),
    });
  }

  clientEndpoint(app, {
    method: 'GET',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'user',
    handler: async ({ user, params }) => ({
      ...(await pushRules.rule(user.userId, parseKind(params.scope, params.kind), params.ruleId)),
    }),
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params, body, query }) => {
      const kind = parseKind(params.scope, params.kind);
      const rule = parseRule(kind, params.ruleId, body);
      const before = query.get('before');
      const after = query.get('after');
      await pushRules.put(user.userId, kind, params.ruleId, rule, {
        ...(before !== null ? { before } : {}),
        ...(after !== null ? { after } : {}),
      });
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'DELETE',
    path: '/pushrules/:scope/:kind/:ruleId',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params }) => {
      await pushRules.delete(user.userId, parseKind(params.scope, params.kind), params.ruleId);
      return {};
    },
  });

  clientEndpoint(app, {
    method: 'GET',
    path: '/pushrules/:scope/:kind/:ruleId/enabled',
    auth: 'user',
    handler: async ({ user, params }) => {
      const kind = parseKind(params.scope, params.kind);
      return { enabled: (await pushRules.rule(user.userId, kind, params.ruleId)).enabled };
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/pushrules/:scope/:kind/:ruleId/enabled',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params, body }) => {
      const kind = parseKind(params.scope, params.kind);
      const enabled = body['enabled'];
      if (typeof enabled !== 'boolean') throw MatrixError.badJson('enabled must be a boolean');
      await pushRules.setEnabled(user.userId, kind, params.ruleId, enabled);
      return {};
    },
  });
  clientEndpoint(app, {
    method: 'GET',
    path: '/pushrules/:scope/:kind/:ruleId/actions',
    auth: 'user',
    handler: async ({ user, params }) => {
      const kind = parseKind(params.scope, params.kind);
      return { actions: (await pushRules.rule(user.userId, kind, params.ruleId)).actions };
    },
  });
  clientEndpoint(app, {
    method: 'PUT',
    path: '/pushrules/:scope/:kind/:ruleId/actions',
    auth: 'user',
    rateLimit: true,
    handler: async ({ user, params, body }) => {
      const kind = parseKind(params.scope, params.kind);
      await pushRules.setActions(user.userId, kind, params.ruleId, parseActions(body['actions']));
      return {};
    },
  });
}
