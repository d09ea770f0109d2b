/**
 * Typing wake-ups are keyed by room: a `/sync` long-poll waits on its user's joined rooms, and a
 * typing change elsewhere does not wake it (each wake-up is a rebuild that would find nothing).
 */
import { describe, expect, it } from 'vitest';

import type { ServerContext } from '../src/services/core/context.ts';
import { TypingService } from '../src/services/typing/service.ts';

/** The service reads only the clock from its context. */
function typingService(): TypingService {
  return new TypingService({ now: () => Date.now() } as ServerContext);
}

describe('TypingService.listen', () => {
  it('wakes a listener on a change in one of its rooms only, once', () => {
    const typing = typingService();
    let wakes = 0;
    const stop = typing.listen(typing.serial, ['!mine:x', '!also:x'], () => {
      wakes += 1;
    });
    expect(stop).toBeDefined();
    typing.setTyping('!elsewhere:x', '@a:x', true, 1_000);
    expect(wakes).toBe(0);
    typing.setTyping('!also:x', '@a:x', true, 1_000);
    expect(wakes).toBe(1);
    // Woken once: the listener is gone from its other rooms too after it stops.
    stop?.();
    typing.setTyping('!mine:x', '@a:x', true, 1_000);
    expect(wakes).toBe(1);
    typing.clear();
  });

  it('does not register when one of its rooms changed after the serial it has seen', () => {
    const typing = typingService();
    const seen = typing.serial;
    typing.setTyping('!mine:x', '@a:x', true, 1_000);
    expect(typing.listen(seen, ['!mine:x'], () => {})).toBeUndefined();
    // A change in another room since then is not this listener's: it waits.
    const stop = typing.listen(seen, ['!quiet:x'], () => {});
    expect(stop).toBeDefined();
    stop?.();
    typing.clear();
  });
});
