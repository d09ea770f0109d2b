/** The typing notification tests (in-memory state; run on SQLite only). */
import { typingSuite } from './typing-notifications-suite.ts';

typingSuite(() => ({}));
