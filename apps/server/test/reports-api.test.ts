/**
 * Reporting content on SQLite: the tests of reports-suite.ts (event, room and user reports
 * stored; the documented 404s; bad input).
 */
import { reportsSuite } from './reports-suite.ts';

reportsSuite();
