/**
 * `readLimitedChunks`: a chunk stream read whole up to a cap. Under (or at) the cap it returns
 * the bytes in order; past it, it throws the caller's error at the chunk that crosses the cap,
 * reads nothing after it, and cancels a `ReadableStream` it was reading.
 */
import { readLimitedChunks } from '@weft/transport';
import { describe, expect, it } from 'vitest';

class OverCap extends Error {}

async function* chunksOf(...sizes: number[]): AsyncGenerator<Uint8Array> {
  let value = 0;
  for (const size of sizes) {
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i += 1) chunk[i] = value++ & 0xff;
    yield chunk;
  }
}

describe('readLimitedChunks', () => {
  it('returns the bytes of a stream under the cap, in order', async () => {
    const bytes = await readLimitedChunks(chunksOf(3, 4, 5), 100, () => new OverCap());
    expect(bytes).toEqual(Uint8Array.from({ length: 12 }, (_, i) => i));
  });

  it('accepts a stream of exactly the cap, and an empty one', async () => {
    expect((await readLimitedChunks(chunksOf(6, 4), 10, () => new OverCap())).byteLength).toBe(10);
    expect((await readLimitedChunks(chunksOf(), 10, () => new OverCap())).byteLength).toBe(0);
  });

  it('refuses a stream over the cap with the typed error, reading no further', async () => {
    let pulled = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const chunk of chunksOf(4, 4, 4, 4)) {
        pulled += 1;
        yield chunk;
      }
    }
    await expect(readLimitedChunks(counted(), 10, () => new OverCap())).rejects.toBeInstanceOf(
      OverCap,
    );
    expect(pulled).toBe(3);
  });

  it('cancels a ReadableStream it refuses', async () => {
    let cancelled = false;
    let left = 5;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new Uint8Array(8));
        left -= 1;
        if (left === 0) controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(readLimitedChunks(stream, 20, () => new OverCap())).rejects.toBeInstanceOf(
      OverCap,
    );
    expect(cancelled).toBe(true);
  });
});
