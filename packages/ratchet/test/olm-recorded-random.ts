/**
 * Test helper: replays the random buffers libolm was handed, in order, as a `RandomSource`.
 * Each request must ask for exactly the next recorded buffer's length (zero-length recordings,
 * which libolm makes for encryptions that need no new ratchet key, are skipped), so the test
 * also proves Weft consumes randomness in libolm's order.
 */
import assert from 'node:assert/strict';

import type { RandomSource } from '../src/index.ts';

export interface RecordedRandom {
  readonly random: RandomSource;
  /** Recorded buffers not yet consumed. */
  remaining(): number;
}

export function recordedRandom(buffers: readonly Uint8Array[]): RecordedRandom {
  const queue = buffers.filter((buffer) => buffer.length > 0);
  let next = 0;
  return {
    random: (length) => {
      const buffer = queue[next];
      assert.ok(buffer !== undefined, `random stream exhausted (asked for ${length} bytes)`);
      assert.equal(length, buffer.length, `random request #${next} has libolm's length`);
      next += 1;
      return Uint8Array.from(buffer);
    },
    remaining: () => queue.length - next,
  };
}
