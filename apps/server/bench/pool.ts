/**
 * Bounded concurrency for the benchmarks' setup (registering users, creating rooms): enough
 * requests in flight to keep the server busy, few enough that the client does not swamp it.
 */

/** Runs `work(0 … count−1)` with at most `limit` in flight; the results in index order. */
export async function pool<T>(
  count: number,
  limit: number,
  work: (i: number) => Promise<T>,
): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await work(i);
      }
    }),
  );
  return results;
}
