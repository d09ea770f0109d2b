/**
 * What the web UI shows for a room's timeline: unread counts from `m.read` receipts and the
 * line for each kind of event (readable, undecryptable with its reason, membership notice, local
 * echo), built from real `RoomModel`s as the SDK fills them.
 */
import { describe, expect, it } from 'vitest';

import { RoomModel, type TimelineEvent } from '../src/index.ts';
import { eventView, memberList, timelineView, unreadCount } from '../src/web/views.ts';

const ME = '@me:example.org';
const BOB = '@bob:example.org';

function message(eventId: string, sender: string, body: string): TimelineEvent {
  return {
    eventId,
    sender,
    type: 'm.room.message',
    content: { msgtype: 'm.text', body },
    encrypted: true,
    status: 'sent',
  };
}

function room(...timeline: TimelineEvent[]): RoomModel {
  const model = new RoomModel('!r:example.org');
  model.timeline = timeline;
  return model;
}

describe('unread counts', () => {
  it('counts messages from others after my latest read receipt', () => {
    const r = room(
      message('$1', BOB, 'one'),
      message('$2', ME, 'mine'),
      message('$3', BOB, 'two'),
      message('$4', BOB, 'three'),
    );
    expect(unreadCount(r, ME)).toBe(3);
    r.receipts.set(ME, '$3');
    expect(unreadCount(r, ME)).toBe(1);
    r.receipts.set(ME, '$4');
    expect(unreadCount(r, ME)).toBe(0);
  });

  it('counts undecryptable messages but not state events or pending echoes', () => {
    const undecryptable: TimelineEvent = {
      eventId: '$u',
      sender: BOB,
      type: 'm.room.encrypted',
      content: {},
      encrypted: true,
      status: 'sent',
      decryptionError: { code: 'missing-key', reason: 'no room key for session S' },
    };
    const join: TimelineEvent = {
      eventId: '$j',
      sender: BOB,
      type: 'm.room.member',
      content: { membership: 'join' },
      encrypted: false,
      status: 'sent',
      raw: { state_key: BOB },
    };
    const pending: TimelineEvent = { ...message('$p', BOB, 'later'), status: 'pending' };
    expect(unreadCount(room(undecryptable, join, pending), ME)).toBe(1);
  });
});

describe('timeline lines', () => {
  it('shows text, the reason an event cannot be read, and membership notices', () => {
    const lines = timelineView(
      room(
        message('$1', BOB, '<b>not markup</b>'),
        {
          eventId: '$2',
          sender: BOB,
          type: 'm.room.encrypted',
          content: {},
          encrypted: true,
          status: 'sent',
          decryptionError: { code: 'missing-key', reason: 'no room key for session S' },
        },
        {
          eventId: '$3',
          sender: BOB,
          type: 'm.room.member',
          content: { membership: 'invite' },
          encrypted: false,
          status: 'sent',
          raw: { state_key: ME },
        },
        // Other state (power levels) is not a line.
        {
          eventId: '$4',
          sender: BOB,
          type: 'm.room.power_levels',
          content: {},
          encrypted: false,
          status: 'sent',
        },
      ),
    );
    expect(lines.map((l) => [l.key, l.kind, l.text])).toEqual([
      ['$1', 'message', '<b>not markup</b>'],
      ['$2', 'undecryptable', 'no room key for session S'],
      ['$3', 'notice', `${ME}: invite`],
    ]);
  });

  it('keys a local echo by its transaction ID before and after the server accepts it', () => {
    const echo: TimelineEvent = {
      txnId: 'weft.1',
      sender: ME,
      type: 'm.room.message',
      content: { body: 'hi' },
      encrypted: true,
      status: 'pending',
    };
    expect(eventView(echo)).toMatchObject({ key: 'weft.1', eventId: null, status: 'pending' });
    echo.eventId = '$sent';
    echo.status = 'sent';
    expect(eventView(echo)).toMatchObject({ key: 'weft.1', eventId: '$sent', status: 'sent' });
  });

  it('lists joined and invited members, not those who left', () => {
    const r = new RoomModel('!r:example.org');
    for (const [user, membership] of [
      [BOB, 'join'],
      [ME, 'invite'],
      ['@gone:example.org', 'leave'],
    ] as const) {
      r.applyState({ type: 'm.room.member', state_key: user, content: { membership } });
    }
    expect(memberList(r)).toEqual([
      { userId: BOB, membership: 'join' },
      { userId: ME, membership: 'invite' },
    ]);
  });
});
