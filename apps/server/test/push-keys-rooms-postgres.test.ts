/**
 * The push-notification, cross-signing, knocking, room-upgrade and history-visibility suites on
 * PostgreSQL: the same tests as on SQLite, each suite against its own database of a throwaway
 * cluster (test/postgres.ts).
 */
import { afterAll, beforeAll, describe } from 'vitest';

import type { TestServerOptions } from './harness.ts';
import { historyVisibilitySuite } from './history-visibility-suite.ts';
import { crossSigningSuite } from './keys-cross-signing-suite.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';
import { pushNotificationsSuite } from './push-notifications-suite.ts';
import { knockSuite } from './rooms-knock-suite.ts';
import { upgradeSuite } from './rooms-upgrade-suite.ts';

let postgres: TestPostgres | undefined;
const urls = new Map<string, string>();
const databases = ['push', 'crosssigning', 'knock', 'upgrade', 'visibility'] as const;

// Registered before the suites' hooks: the cluster starts first and stops after the servers.
beforeAll(async () => {
  postgres = await startPostgres();
  for (const name of databases) {
    urls.set(name, await postgres.createDatabase(`${name}_${process.pid}`));
  }
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

function on(database: (typeof databases)[number]): () => TestServerOptions {
  return () => ({
    file: { database: { backend: 'postgres', connection_string: urls.get(database) ?? '' } },
  });
}

describe('on PostgreSQL', () => {
  pushNotificationsSuite(on('push'));
  crossSigningSuite(on('crosssigning'));
  knockSuite(on('knock'));
  upgradeSuite(on('upgrade'));
  historyVisibilitySuite(on('visibility'));
});
