/**
 * A probe for the server process (`--import`, as sql-time.ts): the first SIGUSR2 starts V8's
 * sampling heap profiler with collected objects included (so garbage counts, which is what the
 * collector's time follows), the second writes the profile to `$WEFT_PROBE_FILE` (default
 * /tmp/weft.heapprofile; Chrome DevTools' Memory tab opens it). Send the signals around the sync
 * load's measured run, e.g. once its warm-up line is printed.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  const session = new Session();
  session.connect();
  let sampling = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: 4096,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        return;
      }
      sampling = false;
      const { profile } = await session.post('HeapProfiler.stopSampling');
      writeFileSync(
        process.env['WEFT_PROBE_FILE'] ?? '/tmp/weft.heapprofile',
        JSON.stringify(profile),
      );
    })();
  });
}
