/**
 * Schema migrations. Each file `migrations/NNNN-<name>.ts` exports `migration: Migration`; they are
 * applied in file-name order, each in its own transaction, and recorded in `schema_migrations`, so
 * an upgraded server brings an old data directory forward on start. The built server has them as
 * `dist/migrations/NNNN-<name>.js`; they are recorded under their `.ts` name either way, so one
 * data directory serves both. A migration never changes
 * once released: fix forward with a new one.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { type Database, type Dialect, StorageError, type TransactionExecutor } from './database.ts';

export interface Migration {
  /** Statements for the given dialect. Macros: `{{serial}}` (auto-increment primary key column
   * type), `{{bytes}}` (binary column type), `{{without_rowid}}` (after a table's closing
   * parenthesis: SQLite stores the table in its primary key's order; nothing on PostgreSQL). */
  readonly statements: readonly string[];
  /**
   * Statements run after `statements` on one backend only, for what the two spell differently
   * (full-text search: an FTS5 virtual table on SQLite, a `tsvector` column on PostgreSQL).
   */
  readonly dialectStatements?: Readonly<Record<Dialect, readonly string[]>>;
  /**
   * Runs after the statements, in the same transaction: for data a migration must compute in
   * TypeScript (stored JSON read the way the server reads it, the same on both backends).
   */
  readonly fill?: (tx: TransactionExecutor, dialect: Dialect) => Promise<void>;
}

const MACROS: Readonly<Record<Dialect, Readonly<Record<string, string>>>> = {
  sqlite: {
    serial: 'INTEGER PRIMARY KEY AUTOINCREMENT',
    bytes: 'BLOB',
    without_rowid: 'WITHOUT ROWID',
  },
  postgres: { serial: 'BIGSERIAL PRIMARY KEY', bytes: 'BYTEA', without_rowid: '' },
};

export function expandMacros(sql: string, dialect: Dialect): string {
  return sql.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = MACROS[dialect][name];
    if (value === undefined) throw new Error(`unknown migration macro ${whole}`);
    return value;
  });
}

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');
const MIGRATION_FILE = /^(\d{4}-[\w-]+)\.(?:ts|js)$/;

/** Recorded migration name (`NNNN-<name>.ts`) → its file in `migrationsDir`. */
function migrationFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const file of readdirSync(migrationsDir)) {
    const match = MIGRATION_FILE.exec(file);
    if (match !== null) files.set(`${match[1]}.ts`, file);
  }
  return files;
}

/** The migrations' recorded names, in the order they apply. */
export function migrationNames(): string[] {
  return [...migrationFiles().keys()].sort();
}

/** Applies every migration not yet applied; returns the names it applied. */
export async function migrate(db: Database): Promise<string[]> {
  await db.executeScript(
    'CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ts BIGINT NOT NULL)',
  );
  const done = new Set(
    (await db.query<{ name: string }>('SELECT name FROM schema_migrations')).map((r) => r.name),
  );
  const applied: string[] = [];
  const files = migrationFiles();
  for (const name of migrationNames()) {
    if (done.has(name)) continue;
    const file = files.get(name) ?? name;
    const module = (await import(pathToFileURL(join(migrationsDir, file)).href)) as {
      migration?: Migration;
    };
    if (module.migration === undefined) {
      throw new StorageError('migration-failed', `${name} exports no migration`);
    }
    const { statements, dialectStatements, fill } = module.migration;
    try {
      await db.transaction(async (tx) => {
        for (const statement of [...statements, ...(dialectStatements?.[db.dialect] ?? [])]) {
          await tx.execute(expandMacros(statement, db.dialect));
        }
        if (fill !== undefined) await fill(tx, db.dialect);
        await tx.execute('INSERT INTO schema_migrations (name, applied_ts) VALUES ($1, $2)', [
          name,
          Date.now(),
        ]);
      });
    } catch (cause) {
      throw new StorageError('migration-failed', `migration ${name} failed`, { cause });
    }
    applied.push(name);
  }
  return applied;
}
