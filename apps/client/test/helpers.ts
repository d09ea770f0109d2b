/** Test helpers: clients on a real in-process Weft server, each with its own SQLite store. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { WeftClient } from '../src/index.ts';

export const PASSPHRASE = 'a passphrase the user controls';

/** A fresh directory for store files. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'weft-client-'));
}

/** Registers `name` on the server with a new store in `dir`. */
export async function newClient(url: string, dir: string, name: string): Promise<WeftClient> {
  const client = WeftClient.open({
    homeserver: url,
    storePath: join(dir, `${name}.db`),
    passphrase: PASSPHRASE,
  });
  await client.register(name, `password of ${name}`);
  return client;
}

/** Syncs every client once, in order (no long-polling). */
export async function syncAll(...clients: WeftClient[]): Promise<void> {
  for (const c of clients) await c.syncOnce(0);
}

/** The bodies a client can read in a room, in timeline order. */
export function readable(client: WeftClient, roomId: string): string[] {
  return client
    .room(roomId)
    .timeline.filter((e) => e.type === 'm.room.message' && e.decryptionError === undefined)
    .map((e) => String(e.content['body']));
}

/** The timeline entries a client holds but cannot decrypt. */
export function unreadable(client: WeftClient, roomId: string) {
  return client.room(roomId).timeline.filter((e) => e.decryptionError !== undefined);
}
