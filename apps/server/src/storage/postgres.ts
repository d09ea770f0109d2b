/**
 * PostgreSQL backend (configured alternative to SQLite) through `pg`'s pool. Each transaction
 * takes one pooled client from BEGIN to COMMIT; statements outside transactions use any client.
 * BIGINT columns come back as JS numbers (Weft's integers all fit in 2^53).
 */
import pg from 'pg';
import { AfterCommitHooks, inSavepoint, reportAfterCommitError } from './after-commit.ts';
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
}

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

function translateError(error: unknown): unknown {
  if (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === '23505'
  ) {
    return new StorageError('unique-violation', (error as Error).message, { cause: error });
  }
  return error;
}

/** A transaction's executor: `executorFor` plus savepoints. */
function transactionExecutorFor(client: Queryable, hooks: AfterCommitHooks): TransactionExecutor {
  const executor = executorFor(client, hooks);
  return {
    ...executor,
    savepoint: (work) => inSavepoint((sql) => executor.execute(sql), hooks, work),
  };
}

/**
 * An executor over `client`. With `hooks` (a transaction's client) `afterCommit` collects
 * callbacks for the commit; without (the pool, autocommit) it runs them at once.
 */
function executorFor(client: Queryable, hooks?: AfterCommitHooks): SqlExecutor {
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
  };
}

/** Connects a pool and checks the connection works. */
export async function openPostgres(options: PostgresOptions): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
  });
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
        const client = await pool.connect();
        const hooks = new AfterCommitHooks();
        try {
          await client.query('BEGIN');
          const result = await work(transactionExecutorFor(client, hooks));
          await client.query('COMMIT');
          hooks.run(reportAfterCommitError);
          return result;
        } catch (error) {
          hooks.drop();
          await client.query('ROLLBACK').catch(() => {});
          throw error;
        } finally {
          client.release();
        }
      }),
    async executeScript(sql) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}
