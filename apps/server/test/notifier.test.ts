/**
 * The notifier's keyed wake-ups: a change wakes only the `/sync` long-polls it concerns (its
 * room's members, its target user), a broadcast wakes everyone, and a change announced between
 * a sync reading its position and starting to wait is not missed.
 */
import { describe, expect, it } from 'vitest';

import { Notifier, type WaitInterest } from '../src/services/core/notifier.ts';

/**
 * Listens as a long-poll does and reports how often it was woken (after pending callbacks ran);
 * `undefined` from `listen` (announced already) counts as one wake-up.
 */
function track(notifier: Notifier, since: number, interest: WaitInterest) {
  let wakes = 0;
  const stop = notifier.listen(since, interest, () => {
    wakes += 1;
  });
  if (stop === undefined) wakes = 1;
  const woken = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return wakes > 0;
  };
  return Object.assign(woken, { stop: stop ?? (() => {}), wakes: () => wakes });
}

describe('Notifier', () => {
  it('wakes only the waiters of the announced room or user', async () => {
    const notifier = new Notifier();
    const alice = track(notifier, 0, { userId: '@a:x', rooms: ['!one:x', '!two:x'] });
    const bob = track(notifier, 0, { userId: '@b:x', rooms: ['!two:x'] });
    const carol = track(notifier, 0, { userId: '@c:x', rooms: [] });

    notifier.notify(1, { rooms: ['!one:x'] });
    expect([await alice(), await bob(), await carol()]).toEqual([true, false, false]);

    // An invite: the room's members and the invited user.
    notifier.notify(2, { rooms: ['!two:x'], users: ['@c:x'] });
    expect([await bob(), await carol()]).toEqual([true, true]);
  });

  it('wakes every waiter on a broadcast', async () => {
    const notifier = new Notifier();
    const keyed = track(notifier, 0, { userId: '@a:x', rooms: [] });
    notifier.notify(1, { rooms: ['!elsewhere:x'] });
    expect(await keyed()).toBe(false);
    notifier.notify(2);
    expect(await keyed()).toBe(true);
  });

  it('returns at once when a concerning position was announced after `since`', async () => {
    const notifier = new Notifier();
    notifier.notify(5, { users: ['@a:x'] });
    notifier.notify(6, { rooms: ['!other:x'] });
    // The sync read position 4 just before the change at 5 and only now starts waiting.
    const late = track(notifier, 4, { userId: '@a:x', rooms: [] });
    // A sync that already saw 5 waits: position 6 was not for it.
    const current = track(notifier, 5, { userId: '@a:x', rooms: [] });
    expect([await late(), await current()]).toEqual([true, false]);
    expect(notifier.position).toBe(6);
    notifier.wakeAll();
    expect(await current()).toBe(true);
  });

  it('releases woken waiters after the announcing turn, so later changes of it come along', async () => {
    const notifier = new Notifier();
    let wokeAt: number | undefined;
    const waiting = new Promise<void>((resolve) => {
      notifier.listen(0, { userId: '@a:x', rooms: ['!r:x'] }, () => {
        wokeAt = notifier.position;
        resolve();
      });
    });
    notifier.notify(1, { rooms: ['!r:x'] });
    // Not inside notify (the writer's after-commit hook) nor in its microtasks…
    await Promise.resolve();
    await Promise.resolve();
    expect(wokeAt).toBeUndefined();
    // …so a second commit in the same turn is already announced when the sync wakes.
    notifier.notify(2, { rooms: ['!r:x'] });
    await waiting;
    expect(wokeAt).toBe(2);
  });

  it('ignores announcements at or below a waiter’s position', async () => {
    const notifier = new Notifier();
    const waiting = track(notifier, 3, { userId: '@a:x', rooms: ['!r:x'] });
    notifier.notify(3, { rooms: ['!r:x'] });
    notifier.notify(2, { users: ['@a:x'] });
    expect(await waiting()).toBe(false);
    notifier.notify(4, { rooms: ['!r:x'] });
    expect(await waiting()).toBe(true);
  });

  it('wakes a stopped waiter no more, even when it was already due', async () => {
    const notifier = new Notifier();
    const stopped = track(notifier, 0, { userId: '@a:x', rooms: ['!r:x'] });
    const kept = track(notifier, 0, { userId: '@b:x', rooms: ['!r:x'] });
    // Due on the next turn, then stopped before it comes (its sync ended another way).
    notifier.notify(1, { rooms: ['!r:x'] });
    stopped.stop();
    expect([await stopped(), await kept()]).toEqual([false, true]);
    kept.stop();
    notifier.notify(2, { rooms: ['!r:x'] });
    notifier.notify(3);
    notifier.wakeAll();
    await kept();
    expect([stopped.wakes(), kept.wakes()]).toEqual([0, 1]);
  });
});
