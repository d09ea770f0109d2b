/**
 * The sync loop and sending across network failures: the client talks to the server through a
 * TCP proxy that the test takes down and brings back on the same port.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { WeftClient } from '../src/index.ts';
import { newClient, PASSPHRASE, readable, syncAll, tempDir } from './helpers.ts';

/** A TCP proxy to `target` that can be stopped (dropping every connection) and restarted. */
class TcpProxy {
  readonly #target: URL;
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;

  constructor(target: string) {
    this.#target = new URL(target);
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(Number(this.#target.port), this.#target.hostname);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    const address = server.address();
    if (address !== null && typeof address === 'object') this.port = address.port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('network failures', () => {
  it('the sync loop survives an outage and the local echo goes failed → retried → sent', async () => {
    const proxy = new TcpProxy(server.url);
    await proxy.up();
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'alice-n');
    // Bob's store is created through the proxy (a session stays on its homeserver), then
    // re-opened with fast retries.
    const first = await newClient(proxy.url, dir, 'bob-n');
    await first.close();
    const bob = WeftClient.open({
      homeserver: proxy.url,
      storePath: join(dir, 'bob-n.db'),
      passphrase: PASSPHRASE,
      retry: { maxAttempts: 2, baseDelayMs: 10, maxDelayMs: 20 },
    });
    const roomId = await alice.createRoom({ policy: 'epoch', invite: [bob.userId] });
    await bob.syncOnce(0);
    await bob.join(roomId);
    await syncAll(alice, bob);

    bob.startSync(500);
    await proxy.down();
    await alice.sendText(roomId, 'sent during the outage');
    await new Promise((r) => setTimeout(r, 600));
    expect(readable(bob, roomId)).toEqual([]);

    const statuses: string[] = [];
    bob.onTimeline((_room, event) => {
      if (event.txnId !== undefined) statuses.push(event.status);
    });
    await expect(bob.sendText(roomId, 'from bob')).rejects.toMatchObject({ code: 'send-failed' });
    const failed = bob.room(roomId).timeline.find((e) => e.status === 'failed');
    expect(failed?.content['body']).toBe('from bob');

    await proxy.up();
    await until(() => readable(bob, roomId).includes('sent during the outage'));
    if (failed?.txnId === undefined) throw new Error('no failed echo');
    const sent = await bob.retrySend(roomId, failed.txnId);
    expect(sent.status).toBe('sent');
    expect(statuses).toEqual(['pending', 'failed', 'pending', 'sent']);
    await alice.syncOnce(0);
    expect(readable(alice, roomId)).toContain('from bob');
    await bob.close();
    await proxy.down();
  });
});
