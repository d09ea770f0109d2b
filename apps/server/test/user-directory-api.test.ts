/**
 * The user directory on SQLite: the tests of user-directory-suite.ts (who is found and who not,
 * by ID and display name, limit and limited, deactivated users, bad input).
 */
import { userDirectorySuite } from './user-directory-suite.ts';

userDirectorySuite();
