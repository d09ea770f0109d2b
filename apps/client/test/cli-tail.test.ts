/**
 * `weft tail <room>` as a user runs it: bin/weft.js in its own process, live on a real Weft
 * server. Messages sent by another client while it runs are printed (readable lines, or one JSON
 * value per line with --json), decrypted; Ctrl-C (SIGINT) stops it with exit code 0.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { newClient, PASSPHRASE, syncAll, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '../bin/weft.js');

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

/** A running `weft tail` and the lines it has printed so far. */
class Tail {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  readonly #child: ChildProcessWithoutNullStreams;
  #waiters: Array<() => void> = [];

  constructor(store: string, roomId: string, json: boolean) {
    this.#child = spawn(
      process.execPath,
      [
        BIN,
        '--homeserver',
        server.url,
        '--store',
        store,
        ...(json ? ['--json'] : []),
        'tail',
        roomId,
      ],
      { env: { ...process.env, WEFT_PASSPHRASE: PASSPHRASE } },
    );
    this.#child.stderr.resume(); // progress lines
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      this.lines.push(line);
      for (const wake of this.#waiters) wake();
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    void this.exited.then(() => {
      for (const wake of this.#waiters) wake();
    });
  }

  /** Waits until a printed line satisfies `match`; fails if the process ends first. */
  async waitFor(match: (line: string) => boolean): Promise<string> {
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    for (;;) {
      const found = this.lines.find(match);
      if (found !== undefined) return found;
      if (exited) throw new Error(`weft tail exited; it printed: ${this.lines.join('\n')}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
      this.#waiters = [];
    }
  }

  /** Ctrl-C. */
  interrupt(): void {
    this.#child.kill('SIGINT');
  }
}

describe('weft tail', () => {
  it('prints messages sent by another client while it runs, readable and as --json, and stops on Ctrl-C', async () => {
    const dir = tempDir();
    const alice = await newClient(server.url, dir, 'tail-alice');
    const bob = await newClient(server.url, dir, 'tail-bob');
    const roomId = await alice.createRoom({ name: 'Tail', policy: 'epoch', invite: [bob.userId] });
    await syncAll(bob);
    await bob.join(roomId);
    await syncAll(alice);
    // Bob's store now belongs to the CLI process.
    await bob.close();

    const tail = new Tail(join(dir, 'tail-bob.db'), roomId, false);
    await alice.sendText(roomId, 'first live message');
    expect(await tail.waitFor((l) => l.includes('first live message'))).toBe(
      `${alice.userId}: first live message`,
    );
    await alice.sendText(roomId, 'second live message');
    await tail.waitFor((l) => l.includes('second live message'));
    tail.interrupt();
    expect(await tail.exited).toBe(0);
    // Messages print in order, each once, and nothing is printed undecryptable.
    const live = tail.lines.filter((l) => l.includes('live message'));
    expect(live).toEqual([
      `${alice.userId}: first live message`,
      `${alice.userId}: second live message`,
    ]);
    expect(tail.lines.some((l) => l.includes('undecryptable'))).toBe(false);

    // Again with --json, from the same store (the session and keys were kept).
    const json = new Tail(join(dir, 'tail-bob.db'), roomId, true);
    await alice.sendText(roomId, 'third live message');
    const third = JSON.parse(await json.waitFor((l) => l.includes('third live message')));
    expect(third).toMatchObject({
      sender: alice.userId,
      type: 'm.room.message',
      content: { msgtype: 'm.text', body: 'third live message' },
      encrypted: true,
    });
    expect(third.event_id).toMatch(/^\$/);
    expect(third.decryption_error).toBeUndefined();
    // Every line is one JSON value.
    for (const l of json.lines) expect(() => JSON.parse(l)).not.toThrow();
    json.interrupt();
    expect(await json.exited).toBe(0);
    await alice.close();
  }, 180_000);
});
