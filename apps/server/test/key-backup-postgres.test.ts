/** The server-side key backup tests (key-backup-suite.ts) on PostgreSQL (test/postgres.ts). */
import { keyBackupSuite } from './key-backup-suite.ts';
import { postgresDatabases } from './postgres.ts';

// Before the suite: the cluster starts first and stops after the server.
const on = postgresDatabases(['keybackup']);

keyBackupSuite(on('keybackup'));
