/** The to device messaging tests on SQLite (and on PostgreSQL in sync-postgres.test.ts). */
import { toDeviceSuite } from './to-device-messaging-suite.ts';

toDeviceSuite(() => ({}));
