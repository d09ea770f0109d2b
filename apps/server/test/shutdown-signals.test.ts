/**
 * Graceful shutdown survives a repeated signal: Ctrl-C in a terminal reaches both the
 * `weft-server` wrapper and the server, and the wrapper forwards it, so the server gets SIGINT
 * twice. The second one must not cut the shutdown short (exit code 0, "stopped" logged), and a
 * write acknowledged just before the signals is there after a restart.
 */
import { describe, expect, it } from 'vitest';

import { spawnServer } from './spawn.ts';

describe('shutdown on signals', () => {
  it('a second SIGINT during shutdown does not skip the graceful stop', async () => {
    const server = await spawnServer();
    const register = async (username: string) => {
      const first = await fetch(`${server.url}/_matrix/client/v3/register`, {
        method: 'POST',
        body: JSON.stringify({ username, password: 'pw-12345' }),
      });
      const { session } = (await first.json()) as { session: string };
      const done = await fetch(`${server.url}/_matrix/client/v3/register`, {
        method: 'POST',
        body: JSON.stringify({
          username,
          password: 'pw-12345',
          auth: { type: 'm.login.dummy', session },
        }),
      });
      return done.status;
    };
    expect(await register('before_signal')).toBe(200);

    const exited = new Promise<number | null>((resolve) => server.process.once('exit', resolve));
    server.process.kill('SIGINT');
    server.process.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(server.output()).toContain('"msg":"stopped"');

    const again = await spawnServer({ dataDir: server.dataDir });
    try {
      const available = await fetch(
        `${again.url}/_matrix/client/v3/register/available?username=before_signal`,
      );
      expect(((await available.json()) as { errcode?: string }).errcode).toBe('M_USER_IN_USE');
    } finally {
      await again.stop();
    }
  });
});
