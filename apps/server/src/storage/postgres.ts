/**
 * PostgreSQL backend (configured alternative to SQLite) through `pg`'s pool. Each transaction
 * takes one pooled client from BEGIN to COMMIT; statements outside transactions use any client.
 * BIGINT columns come back as JS numbers (Weft's integers all fit in 2^53).
 *
 * A lost connection (a PostgreSQL restart, `pg_terminate_backend`) must not take the server down:
 * `pg` emits `'error'` on a client whose socket dies, and an `'error'` event nobody listens to is
 * an uncaught exception. The pool listens for its idle clients, each transaction for its own, and
 * a broken client is released with its error so the pool destroys it instead of reusing it. The
 * failed statement or transaction rejects with a `connection-failed` StorageError; later ones
 * open fresh connections once PostgreSQL is back.
 */
import pg from 'pg';
import { CommitHooks, inSavepoint, reportAfterCommitError } from './commit-hooks.ts';
import {
  type Database,
  type SqlExecutor,
  type SqlRow,
  type SqlValue,
  StorageError,
  type TransactionExecutor,
} from './database.ts';
import { Mutex } from './mutex.ts';

// Type OIDs 20 (int8) and 1700 (numeric): parse to numbers instead of strings.
pg.types.setTypeParser(20, (value) => Number(value));

export interface PostgresOptions {
  /** A libpq connection string, e.g. `postgresql://weft@localhost:5432/weft`. */
  readonly connectionString: string;
  readonly maxConnections?: number;
  /**
   * How long to wait for a connection (a new one, or a free slot in a full pool) before failing
   * with a `connection-failed` StorageError. Default {@link DEFAULT_CONNECTION_TIMEOUT_MS}.
   */
  readonly connectionTimeoutMillis?: number;
}

/**
 * Without a limit, a connection attempt that never completes (a half-open network, a stalled
 * server) would hold the write lock, and so every write of the server, forever.
 */
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/** SQLSTATEs of a lost or refused connection: class 08, and the server shutting a session. */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03']);
/** Node socket errors of a connection that failed or broke. */
const SOCKET_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    return code.startsWith('08') || CONNECTION_SQLSTATES.has(code) || SOCKET_ERRORS.has(code);
  }
  // `pg` and `pg-pool`'s own errors carry no code.
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
    error.message,
  );
}

function translateError(error: unknown): unknown {
  if (StorageError.isInstance(error)) return error;
  const code =
    typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === '23505') {
    return new StorageError('unique-violation', (error as Error).message, { cause: error });
  }
  // 22021: a NUL (or invalid UTF-8) in text; 22P05: `\u0000` in JSON(B). SQLite stores either.
  if (code === '22021' || code === '22P05') {
    return new StorageError('invalid-text', 'Text may not contain a NUL character', {
      cause: error,
    });
  }
  if (isConnectionError(error)) {
    return new StorageError('connection-failed', 'lost the connection to PostgreSQL', {
      cause: error,
    });
  }
  return error;
}

/** One warning per connection error: `pg`'s message and code only (no connection string). */
function reportConnectionError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const code =
    typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  console.warn(
    `weft: a PostgreSQL connection failed: ${message}${typeof code === 'string' ? ` (${code})` : ''}`,
  );
}

/** A transaction's executor: `executorFor` plus savepoints. */
function transactionExecutorFor(client: Queryable, hooks: CommitHooks): TransactionExecutor {
  const executor = executorFor(client, hooks);
  return {
    ...executor,
    savepoint: (work) => inSavepoint((sql) => executor.execute(sql), hooks, work),
  };
}

/**
 * An executor over `client`. With `hooks` (a transaction's client) `afterCommit` and
 * `beforeCommit` collect their work for the commit; without (the pool, autocommit) they run it at
 * once.
 */
function executorFor(client: Queryable, hooks?: CommitHooks): SqlExecutor {
  const run = async (sql: string, params: readonly SqlValue[] = []) => {
    try {
      return await client.query(sql, [...params]);
    } catch (error) {
      throw translateError(error);
    }
  };
  return {
    query: async <Row extends SqlRow>(sql: string, params?: readonly SqlValue[]) =>
      (await run(sql, params)).rows as Row[],
    queryOne: async <Row extends SqlRow>(sql: string, params?: readonly SqlValue[]) =>
      (await run(sql, params)).rows[0] as Row | undefined,
    execute: async (sql, params) => (await run(sql, params)).rowCount ?? 0,
    afterCommit: (callback) => {
      if (hooks === undefined) callback();
      else hooks.add(callback);
    },
    beforeCommit: async (work) => {
      if (hooks === undefined) await work();
      else hooks.addBeforeCommit(work);
    },
  };
}

/** Connects a pool and checks the connection works. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? DEFAULT_CONNECTION_TIMEOUT_MS,
  });
  // An idle client's connection error (pg-pool re-emits it here, then drops the client).
  pool.on('error', reportConnectionError);
  try {
    await pool.query('SELECT 1');
  } catch (cause) {
    await pool.end();
    throw new StorageError('connection-failed', 'cannot connect to PostgreSQL', { cause });
  }
  const poolExecutor = executorFor(pool);
  const writeLock = new Mutex();
  return {
    dialect: 'postgres',
    ...poolExecutor,
    transaction: (work) =>
      writeLock.run(async () => {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (cause) {
          throw new StorageError('connection-failed', 'cannot connect to PostgreSQL', { cause });
        }
        // pg-pool stops listening for a client's errors while it is checked out.
        let broken: Error | undefined;
        const onError = (error: Error) => {
          broken ??= error;
          reportConnectionError(error);
        };
        client.on('error', onError);
        const hooks = new CommitHooks();
        try {
          await client.query('BEGIN');
          const result = await work(transactionExecutorFor(client, hooks));
          await hooks.runBeforeCommit();
          await client.query('COMMIT');
          hooks.run(reportAfterCommitError);
          return result;
        } catch (error) {
          hooks.drop();
          if (broken === undefined) {
            await client.query('ROLLBACK').catch((rollbackError: unknown) => {
              broken =
                rollbackError instanceof Error ? rollbackError : new Error('ROLLBACK failed');
            });
          }
          if (broken !== undefined && !StorageError.isInstance(error)) {
            throw new StorageError('connection-failed', 'lost the connection to PostgreSQL', {
              cause: error,
            });
          }
          throw translateError(error);
        } finally {
          client.off('error', onError);
          // With an error the pool destroys the client instead of handing it out again.
          client.release(broken);
        }
      }),
    async executeScript(sql) {
      try {
        await pool.query(sql);
      } catch (error) {
        throw translateError(error);
      }
    },
    close: () => pool.end(),
  };
}
