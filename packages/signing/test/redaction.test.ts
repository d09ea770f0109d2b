// Redaction rules as data: rooms/fragments/v9-redactions.md (v10), v11-redactions.md (v11, v12).
import { describe, expect, it } from 'vitest';

import {
  KEEP_ALL_CONTENT,
  REDACTION_V10,
  REDACTION_V11,
  REDACTION_V12,
  type RedactionRules,
  redactEvent,
  SigningError,
} from '../src/index.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return SigningError.isInstance(error) ? error.code : `not a SigningError: ${String(error)}`;
  }
  return undefined;
}

describe('redaction rules', () => {
  it('are deeply frozen', () => {
    for (const rules of [REDACTION_V10, REDACTION_V11, REDACTION_V12]) {
      expect(Object.isFrozen(rules)).toBe(true);
      expect(Object.isFrozen(rules.topLevelKeys)).toBe(true);
      expect(Object.isFrozen(rules.contentKeys)).toBe(true);
      for (const kept of Object.values(rules.contentKeys)) expect(Object.isFrozen(kept)).toBe(true);
    }
  });

  it('v11 differs from v10 by exactly the changes rooms/v11.md names', () => {
    expect(
      REDACTION_V10.topLevelKeys.filter((k) => !REDACTION_V11.topLevelKeys.includes(k)),
    ).toEqual(['prev_state', 'origin', 'membership']);
    expect(
      REDACTION_V11.topLevelKeys.filter((k) => !REDACTION_V10.topLevelKeys.includes(k)),
    ).toEqual([]);
    expect(REDACTION_V11.contentKeys['m.room.create']).toBe(KEEP_ALL_CONTENT);
    expect(REDACTION_V11.contentKeys['m.room.redaction']).toEqual(['redacts']);
    expect(REDACTION_V11.contentKeys['m.room.power_levels']).toEqual([
      ...(REDACTION_V10.contentKeys['m.room.power_levels'] as string[]),
      'invite',
    ]);
    expect(REDACTION_V11.nestedContentKeys).toEqual({
      'm.room.member': { third_party_invite: ['signed'] },
    });
    const unchanged = ['m.room.member', 'm.room.join_rules', 'm.room.history_visibility'];
    for (const type of unchanged) {
      expect(REDACTION_V11.contentKeys[type]).toEqual(REDACTION_V10.contentKeys[type]);
    }
  });

  it('v12 keeps the v11 rules', () => {
    expect({ ...REDACTION_V12, roomVersion: '11' }).toEqual(REDACTION_V11);
  });
});

describe('redactEvent', () => {
  const event = Object.freeze({
    type: 'm.room.member',
    content: Object.freeze({
      membership: 'join',
      displayname: 'x',
      third_party_invite: Object.freeze({ display_name: 'y' }),
    }),
    origin: 'o',
    unsigned: Object.freeze({ age: 1 }),
    junk: 1,
  });

  it('never mutates the input', () => {
    const before = JSON.stringify(event);
    redactEvent(event, '11');
    expect(JSON.stringify(event)).toBe(before);
  });

  it('keeps third_party_invite as {} when it has no signed key (as Synapse does)', () => {
    expect(redactEvent(event, '11')).toEqual({
      type: 'm.room.member',
      content: { membership: 'join', third_party_invite: {} },
    });
    expect(redactEvent(event, '10')).toEqual({
      type: 'm.room.member',
      content: { membership: 'join' },
      origin: 'o',
    });
    const nonObject = { ...event, content: { membership: 'join', third_party_invite: 'x' } };
    expect(redactEvent(nonObject, '11')).toEqual({
      type: 'm.room.member',
      content: { membership: 'join' },
    });
  });

  it('treats unknown and non-string types as keeping no content', () => {
    expect(redactEvent({ type: 'x.custom', content: { a: 1 } }, '12')).toEqual({
      type: 'x.custom',
      content: {},
    });
    expect(redactEvent({ type: 5, content: { a: 1 } }, '12')).toEqual({ type: 5, content: {} });
    expect(redactEvent({ type: 'x' }, '12')).toEqual({ type: 'x' });
  });

  it('does not treat inherited keys as event types or content keys', () => {
    expect(redactEvent({ type: 'constructor', content: { a: 1 } }, '10')).toEqual({
      type: 'constructor',
      content: {},
    });
    expect(redactEvent({ type: 'toString', content: {} }, '11')).toEqual({
      type: 'toString',
      content: {},
    });
  });

  it('accepts a rules object directly', () => {
    const custom: RedactionRules = {
      roomVersion: 'custom',
      topLevelKeys: ['type', 'content'],
      contentKeys: { x: ['keep'] },
      nestedContentKeys: {},
    };
    expect(redactEvent({ type: 'x', content: { keep: 1, drop: 2 }, sender: 's' }, custom)).toEqual({
      type: 'x',
      content: { keep: 1 },
    });
  });

  it('rejects unknown room versions and non-object content', () => {
    expect(codeOf(() => redactEvent(event, '9'))).toBe('unsupported-room-version');
    expect(codeOf(() => redactEvent(event, '__proto__'))).toBe('unsupported-room-version');
    expect(codeOf(() => redactEvent({ type: 'x', content: [] }, '10'))).toBe('bad-event');
    expect(() => redactEvent([] as unknown as Record<string, unknown>, '10')).toThrow(TypeError);
    expect(() => redactEvent(event, 10 as unknown as string)).toThrow(TypeError);
  });
});
