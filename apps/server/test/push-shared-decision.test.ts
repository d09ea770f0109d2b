/**
 * How an event's push decisions are split into the row its audience shares and the users' own
 * rows (services/push/shared-decision.ts, migration 0101).
 */
import { describe, expect, it } from 'vitest';

import { splitDecisions, stored } from '../src/services/push/shared-decision.ts';

const message = stored({ actions: ['notify'], notify: true, highlight: false, ruleId: undefined });
const mention = stored({
  actions: ['notify', { set_tweak: 'highlight' }],
  notify: true,
  highlight: true,
  ruleId: undefined,
});
const nothing = stored({ actions: [], notify: false, highlight: false, ruleId: undefined });

function split(entries: [string, typeof message][]) {
  const { shared, own } = splitDecisions(new Map(entries));
  return { shared, own: Object.fromEntries(own) };
}

describe('splitDecisions', () => {
  it('shares what most of the audience got; the others keep their own, muted ones included', () => {
    expect(
      split([
        ['@a:x', message],
        ['@b:x', message],
        ['@c:x', mention],
        ['@d:x', nothing],
      ]),
    ).toEqual({ shared: message, own: { '@c:x': mention, '@d:x': nothing } });
  });

  it('shares nothing when "nothing" is as common, and keeps only the notified users', () => {
    expect(
      split([
        ['@a:x', message],
        ['@b:x', nothing],
      ]),
    ).toEqual({ shared: undefined, own: { '@a:x': message } });
    expect(split([['@a:x', nothing]])).toEqual({ shared: undefined, own: {} });
  });

  it('tells decisions apart by their actions, not only their flags', () => {
    const loud = stored({
      actions: ['notify', { set_tweak: 'sound', value: 'default' }],
      notify: true,
      highlight: false,
      ruleId: undefined,
    });
    expect(
      split([
        ['@a:x', loud],
        ['@b:x', loud],
        ['@c:x', message],
      ]),
    ).toEqual({ shared: loud, own: { '@c:x': message } });
  });
});
