/**
 * A client trickling a request body cannot hold the server's shutdown open: after SIGTERM the
 * server cuts connections still open at its shutdown deadline (SHUTDOWN_TIMEOUT_MS), and a second
 * signal cuts them at once. Either way the database closes cleanly ("stopped", exit code 0).
 */
import type { Socket } from 'node:net';

import { describe, expect, it } from 'vitest';

import { openRawConnection } from './raw-connection.ts';
import { type SpawnedServer, spawnServer } from './spawn.ts';

/** Sends a register request's head, waits for `100 Continue`, then sends one byte of 100. */
async function trickle(server: SpawnedServer): Promise<Socket> {
  const connection = await openRawConnection(
    server.port,
    'POST /_matrix/client/v3/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      'Content-Length: 100\r\nExpect: 100-continue\r\n\r\n',
  );
  await connection.until(/^HTTP\/1\.1 100 /);
  connection.socket.write('{');
  return connection.socket;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('shutdown with a client trickling a body', () => {
  it('a second SIGTERM cuts the connection and the server stops cleanly', async () => {
    const server = await spawnServer();
    const socket = await trickle(server);
    const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGTERM');
    await until(() => server.output().includes('"msg":"shutting down"'));
    server.process.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    socket.destroy();
  });

  it('one SIGTERM: the connection is cut at the shutdown deadline', async () => {
    const server = await spawnServer();
    const socket = await trickle(server);
    const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGTERM');
    // Node's own request timeout (300 s) is past this test's timeout: only the deadline ends it.
    expect(await exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');
    socket.destroy();
  });
});
