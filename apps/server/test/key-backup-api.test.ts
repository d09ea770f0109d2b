/**
 * Server-side key backups on SQLite: the tests of key-backup-suite.ts (versions, keys at all
 * three levels, the replacement rule, wrong and unknown versions, isolation, bad input, restart).
 */
import { keyBackupSuite } from './key-backup-suite.ts';

keyBackupSuite();
