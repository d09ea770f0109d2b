/** Ignoring users (ignored-users-suite.ts) on SQLite. */
import { ignoredUsersSuite } from './ignored-users-suite.ts';

ignoredUsersSuite();
