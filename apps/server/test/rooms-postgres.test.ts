/**
 * The room endpoints on PostgreSQL: the same suite as rooms-api.test.ts against a throwaway
 * PostgreSQL cluster (test/postgres.ts).
 */
import { afterAll, beforeAll } from 'vitest';

import { startPostgres, type TestPostgres } from './postgres.ts';
import { roomsApiSuite } from './rooms-suite.ts';

let postgres: TestPostgres | undefined;
let connectionString = '';

// Registered before the suite's hooks: the cluster starts first and (hooks unwind as a stack)
// stops after the server.
beforeAll(async () => {
  postgres = await startPostgres();
  connectionString = await postgres.createDatabase(`rooms_${process.pid}`);
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

roomsApiSuite(() => ({
  file: { database: { backend: 'postgres', connection_string: connectionString } },
}));
