/**
 * The pacing of long-poll answers on its own (services/sync/answer-pacing.ts): a device answered
 * within the interval is held, and the hold ends once one of its rooms holds its timeline limit
 * of new events — counted from the recent-events list — once the first new event has waited the
 * event wait, or when the interval is over.
 */
import { describe, expect, it } from 'vitest';

import { AnswerPacing } from '../src/services/sync/answer-pacing.ts';
import { RecentRoomEvents } from '../src/services/sync/recent-events.ts';

/** Whether `promise` has settled once pending callbacks have run. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise((ok) => setImmediate(ok));
  return done;
}

/** An interval whose event wait does not end a hold before it. */
const settings = (ms: number) => ({ answerIntervalMs: ms, eventWaitMs: ms });

describe('AnswerPacing', () => {
  const watch = { rooms: ['!a', '!b'], since: 100, timelineLimit: 3 };

  it('holds only a device answered within the interval, and never without an interval', () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing(settings(10_000), recent);
    expect(pacing.mayHold('dev')).toBe(false);
    expect(pacing.pause('dev', 10_000, watch, 100)).toBeUndefined();
    pacing.answered('dev');
    expect(pacing.mayHold('dev')).toBe(true);
    expect(pacing.mayHold('other')).toBe(false);

    const off = new AnswerPacing(settings(0), recent);
    off.answered('dev');
    expect(off.mayHold('dev')).toBe(false);
    expect(off.pause('dev', 10_000, watch, 100)).toBeUndefined();
  });

  it('ends the hold once a room holds the limit of events after the token, not before', async () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing(settings(10_000), recent);
    pacing.answered('dev');
    const commit = (roomId: string, position: number) => {
      recent.add(roomId, position, `$${position}`);
      pacing.timelineEventCommitted(roomId);
    };
    // An event at the token's own position is not new; two rooms with two each fill neither.
    commit('!a', 100);
    const held = pacing.pause('dev', 10_000, watch, 100);
    expect(held).toBeDefined();
    commit('!a', 101);
    commit('!b', 102);
    commit('!a', 103);
    commit('!b', 104);
    commit('!other', 105);
    expect(await settled(held as Promise<void>)).toBe(false);
    commit('!b', 106);
    expect(await settled(held as Promise<void>)).toBe(true);
  });

  it('does not hold when a room is already full, or cannot be counted', () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing(settings(10_000), recent);
    pacing.answered('dev');
    for (const position of [101, 102, 103]) recent.add('!a', position, `$${position}`);
    expect(pacing.pause('dev', 10_000, watch, 103)).toBeUndefined();
    // Past the list's 32 events per room, a range reaching below them cannot be counted.
    for (let position = 200; position < 240; position++) recent.add('!b', position, `$${position}`);
    expect(pacing.pause('dev', 10_000, { ...watch, rooms: ['!b'], since: 150 }, 239)).toBe(
      undefined,
    );
  });

  it('ends the hold at the end of the interval or the request’s own deadline', async () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing(settings(10_000), recent);
    pacing.answered('dev');
    const start = performance.now();
    await pacing.pause('dev', 30, watch, 100);
    expect(performance.now() - start).toBeGreaterThanOrEqual(25);
    // The interval's end; a limit of 0 watches no room (every event is left out anyway).
    const short = new AnswerPacing(settings(30), recent);
    short.answered('dev');
    const again = performance.now();
    await short.pause('dev', 10_000, { ...watch, timelineLimit: 0 }, 100);
    const waited = performance.now() - again;
    expect(waited).toBeGreaterThanOrEqual(25);
    expect(waited).toBeLessThan(10_000);
  });

  it('ends the hold once the first new event has waited the event wait, inside the interval', async () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing({ answerIntervalMs: 10_000, eventWaitMs: 400 }, recent);
    const commit = (roomId: string, position: number) => {
      recent.add(roomId, position, `$${position}`);
      pacing.timelineEventCommitted(roomId);
    };
    pacing.answered('dev');
    commit('!b', 101);
    const start = performance.now();
    const held = pacing.pause('dev', 10_000, watch, 101);
    expect(held).toBeDefined();
    // A later event does not move the bound: it is the first new event's (400 ms from the
    // first, where one counted from the second would end ≈ 700 ms from it).
    await new Promise((ok) => setTimeout(ok, 300));
    commit('!a', 102);
    await held;
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(350);
    expect(waited).toBeLessThan(650);
    // Once the first new event has waited that long, there is no hold at all (a timer may fire
    // a fraction of a millisecond early on `performance.now()`'s clock).
    await new Promise((ok) => setTimeout(ok, 5));
    pacing.answered('dev');
    expect(pacing.pause('dev', 10_000, watch, 102)).toBeUndefined();
  });

  it('shortens a hold that began without a new event once one commits', async () => {
    const recent = new RecentRoomEvents();
    const pacing = new AnswerPacing({ answerIntervalMs: 10_000, eventWaitMs: 40 }, recent);
    pacing.answered('dev');
    // Woken by something other than a timeline event (a receipt, typing): held for the interval.
    const held = pacing.pause('dev', 10_000, watch, 100) as Promise<void>;
    expect(held).toBeDefined();
    await new Promise((ok) => setTimeout(ok, 60));
    expect(await settled(held)).toBe(false);
    const start = performance.now();
    recent.add('!a', 101, '$101');
    pacing.timelineEventCommitted('!a');
    await held;
    const waited = performance.now() - start;
    expect(waited).toBeGreaterThanOrEqual(30);
    expect(waited).toBeLessThan(5_000);
  });
});
