/**
 * What the services read into memory at start (the users with pushers, the ignored user lists)
 * is part of the server's start: when it cannot be read, the start fails rather than the server
 * running with an empty set (ignore lists silently empty) or none (a database lookup per
 * recipient of every notifying event). A real SQLite data directory whose table is made
 * unreadable between two starts.
 */
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

import { describe, expect, it } from 'vitest';

import { startTestServer } from './harness.ts';

/** A data directory of a server that ran once, with `table` renamed away. */
async function dataDirWithout(table: string): Promise<string> {
  const server = await startTestServer();
  await server.stop();
  const db = new DatabaseSync(join(server.dataDir, 'weft.db'));
  try {
    db.exec(`ALTER TABLE ${table} RENAME TO ${table}_gone`);
  } finally {
    db.close();
  }
  return server.dataDir;
}

describe('start-up loads', () => {
  for (const table of ['pushers', 'account_data']) {
    it(`fails the start when the ${table} table cannot be read`, async () => {
      const dataDir = await dataDirWithout(table);
      await expect(startTestServer({ dataDir })).rejects.toThrow(/no such table/);
    });
  }
});
