/**
 * What the notifier tells a woken `/sync` about the range since its token: whether anything but
 * room changes may concern the user (a broadcast or a change keyed to the user), and which of
 * the user's rooms had changes announced.
 */
import { describe, expect, it } from 'vitest';

import { Notifier } from '../src/services/core/notifier.ts';

describe('Notifier range questions', () => {
  it('calls a user quiet until a broadcast or a change for that user', () => {
    const notifier = new Notifier();
    notifier.notify(1, { rooms: ['!one:x'] });
    expect(notifier.quietForUser(0, '@a:x')).toBe(true);

    // An invite of @a: keyed to the user.
    notifier.notify(2, { rooms: ['!two:x'], users: ['@a:x'] });
    expect(notifier.quietForUser(1, '@a:x')).toBe(false);
    expect(notifier.quietForUser(2, '@a:x')).toBe(true);
    expect(notifier.quietForUser(1, '@b:x')).toBe(true);

    // A receipt, to-device message or presence change: a broadcast concerns everyone.
    notifier.notify(3);
    expect(notifier.quietForUser(2, '@b:x')).toBe(false);
    expect(notifier.quietForUser(3, '@b:x')).toBe(true);
  });

  it('lists the rooms with a change announced after a position', () => {
    const notifier = new Notifier();
    notifier.notify(1, { rooms: ['!one:x'] });
    notifier.notify(2, { rooms: ['!two:x'] });
    notifier.notify(3, { rooms: ['!one:x'] });
    const rooms = ['!one:x', '!two:x', '!three:x'];
    expect([...notifier.roomsAnnouncedSince(0, rooms)].sort()).toEqual(['!one:x', '!two:x']);
    expect([...notifier.roomsAnnouncedSince(2, rooms)]).toEqual(['!one:x']);
    expect([...notifier.roomsAnnouncedSince(3, rooms)]).toEqual([]);
    // A broadcast names no room.
    notifier.notify(4);
    expect([...notifier.roomsAnnouncedSince(3, rooms)]).toEqual([]);
  });
});
