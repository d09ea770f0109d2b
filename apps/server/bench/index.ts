/**
 * `npm run bench -w apps/server`: the homeserver's benchmarks (issue 5's targets), printed as
 * figures; see the results table in the app's README.
 */
import { runSyncLoadBench } from './sync-load.ts';

await runSyncLoadBench();
