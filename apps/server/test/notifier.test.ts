/**
 * The notifier's keyed wake-ups: a change wakes only the `/sync` long-polls it concerns (its
 * room's members, its target user), a broadcast wakes everyone, and a change announced between
 * a sync reading its position and starting to wait is not missed.
 */
import { describe, expect, it } from 'vitest';

import { Notifier } from '../src/services/core/notifier.ts';

/** Starts waiting and reports whether the wait has ended (after pending callbacks ran). */
function track(promise: Promise<void>): () => Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  return async () => {
    await new Promise((resolve) => setImmediate(resolve));
    return done;
  };
}

const LONG = 60_000;

describe('Notifier', () => {
  it('wakes only the waiters of the announced room or user', async () => {
    const notifier = new Notifier();
    const stop = new AbortController();
    const alice = track(
      notifier.waitFor(0, LONG, stop.signal, { userId: '@a:x', rooms: ['!one:x', '!two:x'] }),
    );
    const bob = track(
      notifier.waitFor(0, LONG, stop.signal, { userId: '@b:x', rooms: ['!two:x'] }),
    );
    const carol = track(notifier.waitFor(0, LONG, stop.signal, { userId: '@c:x', rooms: [] }));

    notifier.notify(1, { rooms: ['!one:x'] });
    expect([await alice(), await bob(), await carol()]).toEqual([true, false, false]);

    // An invite: the room's members and the invited user.
    notifier.notify(2, { rooms: ['!two:x'], users: ['@c:x'] });
    expect([await bob(), await carol()]).toEqual([true, true]);
    stop.abort();
  });

  it('wakes every waiter on a broadcast, and any waiter without interest on anything', async () => {
    const notifier = new Notifier();
    const stop = new AbortController();
    const keyed = track(notifier.waitFor(0, LONG, stop.signal, { userId: '@a:x', rooms: [] }));
    const any = track(notifier.waitFor(0, LONG, stop.signal));
    notifier.notify(1, { rooms: ['!elsewhere:x'] });
    expect([await keyed(), await any()]).toEqual([false, true]);
    notifier.notify(2);
    expect(await keyed()).toBe(true);
    stop.abort();
  });

  it('returns at once when a concerning position was announced after `since`', async () => {
    const notifier = new Notifier();
    notifier.notify(5, { users: ['@a:x'] });
    notifier.notify(6, { rooms: ['!other:x'] });
    const stop = new AbortController();
    // The sync read position 4 just before the change at 5 and only now starts waiting.
    const late = track(notifier.waitFor(4, LONG, stop.signal, { userId: '@a:x', rooms: [] }));
    // A sync that already saw 5 waits: position 6 was not for it.
    const current = track(notifier.waitFor(5, LONG, stop.signal, { userId: '@a:x', rooms: [] }));
    expect([await late(), await current()]).toEqual([true, false]);
    expect(notifier.position).toBe(6);
    stop.abort();
    expect(await current()).toBe(true);
  });

  it('releases woken waiters after the announcing turn, so later changes of it come along', async () => {
    const notifier = new Notifier();
    const stop = new AbortController();
    let wokeAt: number | undefined;
    const waiting = notifier
      .waitFor(0, LONG, stop.signal, { userId: '@a:x', rooms: ['!r:x'] })
      .then(() => {
        wokeAt = notifier.position;
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
    stop.abort();
  });

  it('ignores announcements at or below a waiter’s position, and ends on timeout', async () => {
    const notifier = new Notifier();
    const stop = new AbortController();
    const waiting = track(
      notifier.waitFor(3, 20, stop.signal, { userId: '@a:x', rooms: ['!r:x'] }),
    );
    notifier.notify(3, { rooms: ['!r:x'] });
    expect(await waiting()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(await waiting()).toBe(true);
  });
});
