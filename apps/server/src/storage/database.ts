/**
 * The one storage interface of the server: a small SQL executor that both backends implement
 * (SQLite through `node:sqlite`, PostgreSQL through `pg`).
 *
 * Services write their own SQL next to their logic (conduwuit's `data.rs` beside `mod.rs`) in the
 * subset both databases speak: `$1, $2 …` placeholders, `TEXT`, `BIGINT`, `INTEGER`, `BYTEA`
 * spelled as the `{{bytes}}` macro in migrations, `ON CONFLICT … DO …` upserts, `RETURNING`.
 * Integers come back as JS numbers (all Weft integers are within 2^53).
 */

/** A value bound to a placeholder. */
export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

/** A row as returned by a query: column name → value. */
export type SqlRow = Record<string, unknown>;

/** Runs statements; inside a transaction it is bound to that transaction. */
export interface SqlExecutor {
  /** Every row of a query. */
  query<Row extends SqlRow = SqlRow>(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** The first row of a query, or `undefined`. */
  queryOne<Row extends SqlRow = SqlRow>(
    sql: string,
    params?: readonly SqlValue[],
  ): Promise<Row | undefined>;
  /** A statement without result rows; returns the number of rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /**
   * Runs `callback` once what this executor wrote is committed: inside a transaction, right
   * after its COMMIT (in registration order; dropped if it rolls back); outside one, every
   * statement commits on its own, so at once. For work that must not see, or announce, a write
   * before it is durable and visible (waking `/sync`, starting federation delivery).
   */
  afterCommit(callback: () => void): void;
  /**
   * Runs `work` (statements through this same executor) at the end of the open transaction:
   * once the transaction's own work has finished and its savepoints are released, right before
   * COMMIT, in registration order; dropped with a savepoint that rolls back, and if it throws the
   * whole transaction rolls back. Outside a transaction, at once. For writes that cost less out
   * of every savepoint: SQLite's FTS5 index, once written in a transaction, flushes its pending
   * terms into a new index segment at each later SAVEPOINT and RELEASE (`fts5SavepointMethod`),
   * so a batch of sends, each in its own savepoint, wrote one segment per event.
   */
  beforeCommit(work: () => Promise<void>): Promise<void>;
}

/** The executor of an open transaction. */
export interface TransactionExecutor extends SqlExecutor {
  /**
   * Runs `work` (statements through this same executor) inside a SAVEPOINT: if it throws, its
   * writes and the `beforeCommit` and `afterCommit` work it registered are undone, the error is
   * rethrown and the transaction goes on. Savepoints nest.
   */
  savepoint<T>(work: () => Promise<T>): Promise<T>;
}

export type Dialect = 'sqlite' | 'postgres';

/** A database connection (SQLite) or pool (PostgreSQL). */
export interface Database extends SqlExecutor {
  readonly dialect: Dialect;
  /**
   * Runs `work` in one transaction: committed when it resolves (durably: the server answers a
   * client only after this returns), rolled back when it throws. Transactions never interleave
   * with each other (one write lock orders them on both backends). Statements outside a
   * transaction are each atomic on their own but take no part in that order: on SQLite a write
   * waits for the lock, on PostgreSQL it goes straight to the pool and may run while a
   * transaction is open. So a read followed by a dependent write outside a transaction is never
   * atomic: put both in one transaction, or make the write carry its own condition.
   */
  transaction<T>(work: (tx: TransactionExecutor) => Promise<T>): Promise<T>;
  /** Runs a script of several statements (migrations). */
  executeScript(sql: string): Promise<void>;
  close(): Promise<void>;
}

/** Thrown for storage failures that are not a bug in the caller's SQL (e.g. a unique clash). */
export class StorageError extends Error {
  static readonly #marker = Symbol.for('weft.server.storage-error');
  /**
   * `invalid-text`: a string the database cannot store (PostgreSQL refuses NUL in text; the
   * server answers 400 `M_INVALID_PARAM`). `connection-failed`: the database could not be
   * reached or the connection broke (the request fails; later ones reconnect).
   */
  readonly code:
    | 'unique-violation'
    | 'closed'
    | 'migration-failed'
    | 'connection-failed'
    | 'invalid-text';

  constructor(code: StorageError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
    Object.defineProperty(this, StorageError.#marker, { value: true });
  }

  static isInstance(error: unknown): error is StorageError {
    return typeof error === 'object' && error !== null && StorageError.#marker in error;
  }
}
