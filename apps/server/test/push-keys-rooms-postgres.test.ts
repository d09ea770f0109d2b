/**
 * The push-notification (also after state resolution changed a membership), cross-signing,
 * knocking, room-upgrade and history-visibility suites on PostgreSQL: the same tests as on
 * SQLite, each suite against its own database of a throwaway cluster (test/postgres.ts).
 */
import { describe } from 'vitest';

import { historyVisibilitySuite } from './history-visibility-suite.ts';
import { crossSigningSuite } from './keys-cross-signing-suite.ts';
import { postgresDatabases } from './postgres.ts';
import { pushNotificationsSuite } from './push-notifications-suite.ts';
import { resolvedMembershipSuite } from './push-resolved-membership-suite.ts';
import { knockSuite } from './rooms-knock-suite.ts';
import { upgradeSuite } from './rooms-upgrade-suite.ts';

// Before the suites: the cluster starts first and stops after the servers.
const on = postgresDatabases([
  'push',
  'resolved',
  'crosssigning',
  'knock',
  'upgrade',
  'visibility',
]);

describe('on PostgreSQL', () => {
  pushNotificationsSuite(on('push'));
  resolvedMembershipSuite(on('resolved'));
  crossSigningSuite(on('crosssigning'));
  knockSuite(on('knock'));
  upgradeSuite(on('upgrade'));
  historyVisibilitySuite(on('visibility'));
});
