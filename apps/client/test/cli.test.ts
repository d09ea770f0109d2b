/** The `weft` command (bin/weft.js) as a user runs it, against a real Weft server. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import { runCli } from '../src/cli/main.ts';
import { PASSPHRASE, tempDir } from './helpers.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../bin/weft.js');

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.stop();
});

const parse = (text: string) =>
  text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Runs the CLI in this process (fast), capturing its --json output lines. */
async function weft(
  store: string,
  args: string[],
  passphrase = PASSPHRASE,
  stdin: AsyncIterable<string> & { isTTY?: boolean } = Readable.from([]),
) {
  const printed: string[] = [];
  const spy = vi
    .spyOn(console, 'log')
    .mockImplementation((text: unknown) => void printed.push(String(text)));
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    const code = await runCli(
      ['--homeserver', server.url, '--store', store, '--json', ...args],
      {
        WEFT_PASSPHRASE: passphrase,
      },
      stdin,
    );
    return { code, lines: parse(printed.join('\n')) };
  } finally {
    spy.mockRestore();
    quiet.mockRestore();
  }
}

/** Runs bin/weft.js as a separate process, as a user does. */
async function weftProcess(
  store: string,
  args: string[],
  passphrase = PASSPHRASE,
  extraEnv: Record<string, string> = {},
) {
  try {
    const { stdout } = await run(
      process.execPath,
      [BIN, '--homeserver', server.url, '--store', store, '--json', ...args],
      {
        env: { ...process.env, WEFT_PASSPHRASE: passphrase, ...extraEnv },
      },
    );
    return {
      code: 0,
      lines: stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
  } catch (error) {
    const e = error as { code?: number; stdout?: string };
    return {
      code: e.code ?? -1,
      lines: (e.stdout ?? '')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
  }
}

describe('weft CLI', () => {
  it('registers (bin/weft.js as a process), creates a forward-secret room, sends, and reads history with --json', async () => {
    const dir = tempDir();
    const alice = join(dir, 'alice.db');
    const bob = join(dir, 'bob.db');
    const [aliceId] = (
      await weftProcess(alice, ['register', 'cli-alice'], PASSPHRASE, { WEFT_PASSWORD: 'pw-alice' })
    ).lines;
    const [bobId] = (
      await weft(bob, ['register', 'cli-bob'], PASSPHRASE, Readable.from(['pw-bob\n']))
    ).lines;
    expect(aliceId?.['user_id']).toBe('@cli-alice:test.local');
    const created = await weft(alice, [
      'create',
      '--policy',
      'forward-secret',
      '--name',
      'CLI',
      '--invite',
      String(bobId?.['user_id']),
    ]);
    const roomId = String(created.lines[0]?.['room_id']);
    expect(roomId).toMatch(/^!/);
    expect((await weft(bob, ['join', roomId])).code).toBe(0);
    expect((await weft(alice, ['send', roomId, 'hello from the command line'])).code).toBe(0);
    const rooms = await weft(bob, ['rooms']);
    expect(rooms.lines).toContainEqual({
      room_id: roomId,
      membership: 'join',
      policy: 'forward-secret',
      name: 'CLI',
    });
    const history = await weft(bob, ['history', roomId]);
    expect(history.lines.map((l) => (l['content'] as Record<string, unknown>)['body'])).toContain(
      'hello from the command line',
    );
    expect((await weft(bob, ['policy', roomId])).lines[0]?.['mode']).toBe('forward-secret');
    const wrong = await weft(bob, ['rooms'], 'wrong passphrase');
    expect(wrong.code).toBe(1);
    expect(String(wrong.lines[0]?.['error'])).toMatch(/^wrong-passphrase/);
  });

  it('reads the password from stdin when it is not a terminal, and refuses it as an argument', async () => {
    const dir = tempDir();
    const store = join(dir, 'pw.db');
    const refused = await weft(store, ['register', 'cli-pw', 'secret-in-argv']);
    expect(refused.code).toBe(1);
    expect(String(refused.lines[0]?.['error'])).toMatch(/not an argument/);
    const piped = await weft(
      store,
      ['register', 'cli-pw'],
      PASSPHRASE,
      Readable.from(['s3cret\n']),
    );
    expect(piped.code).toBe(0);
    expect(piped.lines[0]?.['user_id']).toMatch(/^@cli-pw:/);
    // The password read from stdin is the account's: a login with it as a new device works.
    const other = join(dir, 'pw2.db');
    const login = await weft(
      other,
      ['login', 'cli-pw'],
      PASSPHRASE,
      Readable.from(['s3cret\nrest']),
    );
    expect(login.code).toBe(0);
    const bad = await weft(
      join(dir, 'pw3.db'),
      ['login', 'cli-pw'],
      PASSPHRASE,
      Readable.from(['nope\n']),
    );
    expect(bad.code).toBe(1);
  });

  it('keeps a saved session on its own homeserver: another --homeserver is an error', async () => {
    const dir = tempDir();
    const store = join(dir, 'hs.db');
    expect(
      (await weft(store, ['register', 'cli-hs'], PASSPHRASE, Readable.from(['pw\n']))).code,
    ).toBe(0);
    const requests: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
      requests.push(input instanceof Request ? input.url : String(input));
      return realFetch(input, init);
    }) as typeof fetch;
    const printed: string[] = [];
    const log = vi
      .spyOn(console, 'log')
      .mockImplementation((t: unknown) => void printed.push(String(t)));
    try {
      const code = await runCli(
        ['--homeserver', 'http://127.0.0.1:9', '--store', store, '--json', 'rooms'],
        { WEFT_PASSPHRASE: PASSPHRASE },
      );
      expect(code).toBe(1);
      expect(String(parse(printed.join('\n'))[0]?.['error'])).toMatch(/^homeserver-mismatch/);
      expect(requests).toEqual([]);
      // Without --homeserver the session's own homeserver is used.
      printed.length = 0;
      expect(
        await runCli(['--store', store, '--json', 'rooms'], { WEFT_PASSPHRASE: PASSPHRASE }),
      ).toBe(0);
      expect(requests.every((u) => u.startsWith(server.url))).toBe(true);
      expect(requests.length).toBeGreaterThan(0);
    } finally {
      log.mockRestore();
      globalThis.fetch = realFetch;
    }
  });
});
