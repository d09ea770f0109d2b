/**
 * Pushers on SQLite: the tests of pushers-suite.ts (set, list, replace and delete; `append`; bad
 * input; logout; restart; delivery to a local push gateway with retries and rejected pushkeys).
 */
import { pushersSuite } from './pushers-suite.ts';

pushersSuite();
