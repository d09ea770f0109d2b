/** Opens the configured database and brings its schema up to date. */
import { join } from 'node:path';

import type { Database } from './database.ts';
import { migrate } from './migrate.ts';
import { openSqlite } from './sqlite.ts';

export type DatabaseConfig =
  | { readonly backend: 'sqlite'; readonly path?: string; readonly durability?: 'normal' | 'full' }
  | { readonly backend: 'postgres'; readonly connectionString: string };

/** Opens the database (SQLite file `weft.db` in the data directory by default) and migrates it. */
export async function openDatabase(config: DatabaseConfig, dataDir: string): Promise<Database> {
  const db =
    config.backend === 'postgres'
      ? // Loaded only when configured: `pg` and the modules it pulls in (net, tls, dns, …) cost a
        // SQLite server ≈ 4 MiB of resident memory for nothing (apps/server README, memory).
        await (await import('./postgres.ts')).openPostgres({
          connectionString: config.connectionString,
        })
      : openSqlite({
          path: config.path ?? join(dataDir, 'weft.db'),
          ...(config.durability ? { durability: config.durability } : {}),
        });
  try {
    await migrate(db);
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

export type {
  Database,
  Dialect,
  SqlExecutor,
  SqlRow,
  SqlValue,
  TransactionExecutor,
} from './database.ts';
export { StorageError } from './database.ts';
export type { Migration } from './migrate.ts';
