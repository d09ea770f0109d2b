/**
 * A real PostgreSQL cluster (test/postgres.ts) losing the server's connections: backends killed
 * with `pg_terminate_backend` while idle and in the middle of a transaction must not crash the
 * process (an `'error'` event nobody listens to is an uncaught exception, which fails this file);
 * the failed transaction rejects with a `connection-failed` StorageError and later requests work.
 * And a connection attempt that cannot complete fails after the connection timeout instead of
 * holding the write lock, so every write, forever.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, StorageError } from '../src/storage/index.ts';
import { openPostgres } from '../src/storage/postgres.ts';
import { startTestServer, type TestServer } from './harness.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

let postgres: TestPostgres;

beforeAll(async () => {
  postgres = await startPostgres();
}, 60_000);
afterAll(async () => {
  await postgres?.stop();
});

/** Terminates every backend connected to `database` but the caller's; returns how many. */
async function terminateBackends(database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  try {
    const result = await admin.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity ' +
        'WHERE datname = $1 AND pid <> pg_backend_pid()',
      [database],
    );
    return result.rowCount ?? 0;
  } finally {
    await admin.end();
  }
}

/** Waits until `database` has a backend running a statement that contains `text`. */
async function waitForStatement(database: string, text: string): Promise<void> {
  const admin = new pg.Client({ connectionString: postgres.url('postgres') });
  await admin.connect();
  try {
    for (let i = 0; i < 200; i += 1) {
      const found = await admin.query(
        "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND query LIKE $2",
        [database, `%${text}%`],
      );
      if ((found.rowCount ?? 0) > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`no backend ran ${text}`);
  } finally {
    await admin.end();
  }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 200));

describe('PostgreSQL connection loss', () => {
  const database = `connloss_${process.pid}`;
  let server: TestServer;

  beforeAll(async () => {
    const url = await postgres.createDatabase(database);
    server = await startTestServer({
      file: { database: { backend: 'postgres', connection_string: url } },
    });
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
  });

  it('survives idle connections being terminated and serves later requests', async () => {
    const alice = await server.client.registerUser('alice', 'pg-password');
    expect(await terminateBackends(database)).toBeGreaterThan(0);
    await tick();
    const whoami = await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: alice.accessToken,
    });
    expect(whoami.status).toBe(200);
    const bob = await server.client.registerUser('bob', 'pg-password');
    expect(bob.userId).toBe('@bob:test.local');
  });

  it('fails a transaction whose connection is terminated with a StorageError, then recovers', async () => {
    const db = server.services.ctx.db;
    const pending = db.transaction(async (tx) => {
      await tx.execute('CREATE TEMPORARY TABLE conn_loss_probe (n INTEGER)');
      await tx.query('SELECT pg_sleep(30) AS slept_for_conn_loss');
      return 'committed';
    });
    // Handled at once: the transaction may fail while the backends are still being terminated.
    const outcome = pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    await waitForStatement(database, 'slept_for_conn_loss');
    expect(await terminateBackends(database)).toBeGreaterThan(0);
    const error = await outcome;
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as StorageError).code).toBe('connection-failed');
    await tick();

    // The write lock is free and the pool hands out working connections again.
    expect(await db.transaction(async (tx) => tx.queryOne('SELECT 1 AS one'))).toEqual({
      one: 1,
    });
    const carol = await server.client.registerUser('carol', 'pg-password');
    const whoami = await server.client.request('GET', '/_matrix/client/v3/account/whoami', {
      token: carol.accessToken,
    });
    expect(whoami.status).toBe(200);
  }, 30_000);

  it('survives a connection dying while a transaction does other work', async () => {
    const db = server.services.ctx.db;
    let resume: () => void = () => {};
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let started: () => void = () => {};
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const pending = db.transaction(async (tx) => {
      await tx.query('SELECT 1 AS idle_in_transaction_probe');
      started();
      await paused;
      await tx.query('SELECT 2');
    });
    const outcome = pending.then(
      () => undefined,
      (e: unknown) => e,
    );
    await running;
    expect(await terminateBackends(database)).toBeGreaterThan(0);
    await tick();
    resume();
    const error = await outcome;
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as StorageError).code).toBe('connection-failed');
    expect(await db.transaction(async (tx) => tx.queryOne('SELECT 3 AS three'))).toEqual({
      three: 3,
    });
  });
});

describe('PostgreSQL connection timeout', () => {
  let db: Database;

  beforeAll(async () => {
    const url = await postgres.createDatabase(`conntimeout_${process.pid}`);
    db = await openPostgres({
      connectionString: url,
      maxConnections: 1,
      connectionTimeoutMillis: 300,
    });
  });
  afterAll(async () => {
    await db?.close();
  });

  it('fails a transaction that cannot get a connection instead of holding the write lock', async () => {
    // The pool's only connection is busy for 3 s.
    const busy = db.query('SELECT pg_sleep(3)');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Without the timeout it would wait for the busy connection and then succeed.
    const error = await db
      .transaction(async (tx) => tx.execute('SELECT 1'))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(StorageError.isInstance(error)).toBe(true);
    expect((error as StorageError).code).toBe('connection-failed');
    // A statement outside a transaction fails the same way.
    const outside = await db.query('SELECT 1').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((outside as StorageError).code).toBe('connection-failed');
    await busy;
    expect(await db.transaction(async (tx) => tx.queryOne('SELECT 1 AS one'))).toEqual({ one: 1 });
  });
});
