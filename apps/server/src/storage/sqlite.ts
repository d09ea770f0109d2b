/**
 * SQLite backend (the default): a real file in the data directory, through Node's built-in
 * `node:sqlite` (no native build). WAL journal; `synchronous=NORMAL` keeps every committed
 * transaction through a process crash (SIGKILL) — only a power loss can take the last ones, and
 * `durability: 'full'` closes that too at about a quarter of the write rate (TOOLCHAIN.md).
 *
 * `node:sqlite` is synchronous, so one mutex orders every write: a transaction holds it from
 * BEGIN to COMMIT, and no other request's statement can slip into it while it awaits. Reads
 * outside a transaction (`SELECT`/`WITH`) go to a second, read-only connection instead and run at
 * once: in WAL mode it sees exactly the last committed transaction, never one in progress, so
 * `/sync` and other readers neither queue behind a writer's transaction nor make it wait.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { LruMap } from '../lru-map.ts';
import { CommitHooks, inSavepoint, reportAfterCommitError } from './commit-hooks.ts';
import {
  type Database,
  type SqlRow,
  type SqlValue,
  StorageError,
  type TransactionExecutor,
} from './database.ts';
import { Mutex } from './mutex.ts';
import { BACKSTOP_PAGES, WalCheckpoints } from './wal-checkpoints.ts';
import { WalPresync } from './wal-presync.ts';

export interface SqliteOptions {
  /** Path of the database file, or `:memory:`. */
  readonly path: string;
  /** `normal` (default) survives process crashes; `full` also survives power loss. */
  readonly durability?: 'normal' | 'full';
  /** Pages of WAL between checkpoints (wal-checkpoints.ts; tests make it small). */
  readonly checkpointPages?: number;
}

/** One warning per failed checkpoint: SQLite's message only (no path, no data). */
function reportCheckpointError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  console.warn(`weft: a WAL checkpoint failed (SQLite's automatic one remains): ${message}`);
}

/**
 * `$1` → `?1`: SQLite's numbered parameters take the same positional array. A `$1` inside a
 * quoted string literal is text, as PostgreSQL reads it, and stays (`''` is a quote inside one).
 */
export function toSqlite(sql: string): string {
  return sql.replace(/'(?:[^']|'')*'|\$(\d+)/g, (match, index: string | undefined) =>
    index === undefined ? match : `?${index}`,
  );
}

function bind(params: readonly SqlValue[]): SQLInputValue[] {
  return params.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value));
}

function translateError(error: unknown): unknown {
  if (error instanceof Error && /UNIQUE constraint failed/.test(error.message)) {
    return new StorageError('unique-violation', error.message, { cause: error });
  }
  return error;
}

/**
 * Prepared statements kept per connection. The server's fixed SQL is a few hundred texts, but
 * `IN (…)` lists and multi-row `VALUES` make one text per length (push actions: one per number of
 * notified members), so an unbounded cache grows with every room size seen; each statement
 * holds SQLite memory outside the JS heap until it is dropped and collected.
 */
export const STATEMENT_CACHE_SIZE = 500;

export class SqliteExecutor implements TransactionExecutor {
  readonly #db: DatabaseSync;
  /** Prepared statements by SQL text, bounded (lru-map.ts: a second-chance LRU). */
  readonly #statements = new LruMap<string, StatementSync>(STATEMENT_CACHE_SIZE);
  /** The open transaction's commit hooks (one connection: one transaction at a time). */
  readonly hooks = new CommitHooks();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  afterCommit(callback: () => void): void {
    if (this.#db.isTransaction) this.hooks.add(callback);
    else callback();
  }

  beforeCommit(work: () => Promise<void>): Promise<void> {
    if (!this.#db.isTransaction) return work();
    this.hooks.addBeforeCommit(work);
    return Promise.resolve();
  }

  savepoint<T>(work: () => Promise<T>): Promise<T> {
    return inSavepoint((sql) => this.execute(sql), this.hooks, work);
  }

  prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      // An evicted statement is finalized by node:sqlite once it is garbage-collected.
      statement = this.#db.prepare(toSqlite(sql));
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** How many prepared statements this connection keeps. */
  get cachedStatements(): number {
    return this.#statements.size;
  }

  async query<Row extends SqlRow>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    try {
      return this.prepare(sql).all(...bind(params)) as Row[];
    } catch (error) {
      throw translateError(error);
    }
  }

  async queryOne<Row extends SqlRow>(
    sql: string,
    params: readonly SqlValue[] = [],
  ): Promise<Row | undefined> {
    try {
      return this.prepare(sql).get(...bind(params)) as Row | undefined;
    } catch (error) {
      throw translateError(error);
    }
  }

  async execute(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    try {
      return Number(this.prepare(sql).run(...bind(params)).changes);
    } catch (error) {
      throw translateError(error);
    }
  }
}

/**
 * SQL `weft_lower(text)`: Unicode lower case (JavaScript's `toLowerCase`), where SQLite's own
 * `LOWER` and `LIKE` fold ASCII only — PostgreSQL's `LOWER` folds Unicode (user directory
 * search). Anything but text (NULL included) is returned as it is.
 */
function registerFunctions(db: DatabaseSync): void {
  db.function('weft_lower', { deterministic: true }, (value) =>
    typeof value === 'string' ? value.toLowerCase() : value,
  );
}

/** The page size of a new database file (bytes). */
export const PAGE_SIZE = 2048;

/** A statement that only reads (a `RETURNING` write starts with INSERT/UPDATE/DELETE). */
const READ_ONLY = /^\s*(SELECT|WITH)\b/i;

/** Opens (creating if needed) a SQLite database. */
export function openSqlite(options: SqliteOptions): Database {
  const db = new DatabaseSync(options.path);
  // Before the first table exists (a no-op on an existing file, which keeps its page size).
  // Each send changes a few rows scattered over several indexes, and a COMMIT writes every page
  // it changed whole to the WAL, which a checkpoint copies and fsyncs again: 2 KiB pages halve
  // those bytes where 4 KiB pages doubled them for nothing. Sync-load WAL: 81 MB with 4 KiB
  // pages, 53 MB with 2 KiB, 35 MB with 1 KiB (2,000 sends); 1 KiB pages would push a typical
  // event's JSON (1–2 KB) into overflow pages (decision record 2026-11-29 in ARCHITECTURE.md).
  db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec(`PRAGMA synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
  db.exec('PRAGMA foreign_keys = ON');
  db.exec('PRAGMA busy_timeout = 5000');
  // The WAL is copied back into the database file (a checkpoint, with its fsyncs) inside the
  // COMMIT that crosses this many pages, on the event loop: every server request waits for it.
  // SQLite's default of 1,000 pages (4 MiB) made every few dozen sends stall the server for
  // 20–30 ms; 10,000 pages checkpoints a tenth as often and copies each hot page (indexes, the
  // stream row) once per checkpoint instead of ten times — sync-load 3.7–4.2 instead of
  // 5.3–5.6 ms of server CPU per event, p99 155–166 instead of 228–258 ms (decision record
  // 2026-11-29 in ARCHITECTURE.md). Durability is unchanged: committed frames are in the WAL.
  // The log is flushed in the background between checkpoints (wal-presync.ts), so the
  // checkpoint's own WAL fsync, most of its stall, finds little left to write; and the checkpoint
  // runs after the COMMIT's answers and wake-ups rather than inside it (wal-checkpoints.ts), with
  // SQLite's automatic one kept as a backstop at four times the interval.
  db.exec(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`);
  registerFunctions(db);
  const executor = new SqliteExecutor(db);
  // An in-memory database is private to its connection: it reads through the writer.
  const readerDb =
    options.path === ':memory:' ? undefined : new DatabaseSync(options.path, { readOnly: true });
  readerDb?.exec('PRAGMA busy_timeout = 5000');
  if (readerDb !== undefined) registerFunctions(readerDb);
  const reader = readerDb === undefined ? undefined : new SqliteExecutor(readerDb);
  // With FULL every COMMIT syncs the WAL itself; an in-memory database has no file.
  const presync =
    options.path === ':memory:' || options.durability === 'full'
      ? undefined
      : new WalPresync(`${options.path}-wal`);
  const lock = new Mutex();
  let closed = false;
  const guard = <T>(work: () => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new StorageError('closed', 'database is closed'));
    return lock.run(work);
  };
  let checkpointStatement: StatementSync | undefined;
  const checkpoints =
    options.path === ':memory:'
      ? undefined
      : new WalCheckpoints(
          (starting) =>
            guard(async () => {
              starting();
              checkpointStatement ??= db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
              const row = checkpointStatement.get() as { log: number; checkpointed: number };
              return { log: Number(row.log), checkpointed: Number(row.checkpointed) };
            }),
          options.checkpointPages,
          reportCheckpointError,
        );
  const read = <T>(sql: string, work: (on: SqliteExecutor) => Promise<T>): Promise<T> => {
    if (reader === undefined || !READ_ONLY.test(sql)) return guard(() => work(executor));
    if (closed) return Promise.reject(new StorageError('closed', 'database is closed'));
    return work(reader);
  };

  return {
    dialect: 'sqlite',
    query: (sql, params) => read(sql, (on) => on.query(sql, params)),
    queryOne: (sql, params) => read(sql, (on) => on.queryOne(sql, params)),
    execute: (sql, params) => guard(() => executor.execute(sql, params)),
    // Outside a transaction every statement has committed by the time it returns.
    afterCommit: (callback) => callback(),
    beforeCommit: (work) => work(),
    transaction: (work) =>
      guard(async () => {
        db.exec('BEGIN IMMEDIATE');
        try {
          const result = await work(executor);
          await executor.hooks.runBeforeCommit();
          db.exec('COMMIT');
          presync?.committed();
          // Synchronously, still holding the lock: no other transaction has registered yet.
          executor.hooks.run(reportAfterCommitError);
          // After the hooks: their wake-ups are scheduled before a checkpoint this one makes due.
          checkpoints?.committed();
          return result;
        } catch (error) {
          executor.hooks.drop();
          if (db.isTransaction) db.exec('ROLLBACK');
          throw error;
        }
      }),
    executeScript: (sql) =>
      guard(async () => {
        db.exec(sql);
      }),
    close: async () => {
      checkpoints?.close();
      await presync?.close();
      await lock.run(() => {
        closed = true;
        readerDb?.close();
        db.close();
      });
    },
  };
}
