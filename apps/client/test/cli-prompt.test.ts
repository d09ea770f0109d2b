/**
 * `weft login` at a terminal: Ctrl-C at the password prompt cancels (exit 130) and releases the
 * store's lock. Node has no pseudo-terminal API, so Python's `pty` module drives one (python3 is
 * provisioned for the interop tests, `scripts/provision.sh`).
 */

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PASSPHRASE, tempDir } from './helpers.ts';

const BIN = join(import.meta.dirname, '../bin/weft.js');

/** Runs argv in a pseudo-terminal, types Ctrl-C after `password:`; prints the output and exit code. */
const DRIVER = `
import os, pty, sys, time, select, json
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b''
def pump(until, seconds):
    global out
    deadline = time.time() + seconds
    while time.time() < deadline and (until is None or until not in out):
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            try:
                data = os.read(fd, 1024)
            except OSError:
                return
            if not data:
                return
            out += data
pump(b'password:', 60)
time.sleep(0.3)
os.write(fd, b'\\x03')
pump(None, 30)
_, status = os.waitpid(pid, 0)
print(json.dumps({'out': out.decode('utf8', 'replace'), 'code': os.waitstatus_to_exitcode(status)}))
`;

describe('weft login at a terminal', () => {
  it('Ctrl-C at the password prompt cancels: exit 130, store lock released', () => {
    const store = join(tempDir(), 'prompt.db');
    const run = spawnSync(
      'python3',
      [
        '-c',
        DRIVER,
        process.execPath,
        BIN,
        '--homeserver',
        'http://127.0.0.1:1',
        '--store',
        store,
        'login',
        'alice',
      ],
      {
        env: { ...process.env, WEFT_PASSPHRASE: PASSPHRASE, WEFT_PASSWORD: '' },
        encoding: 'utf8',
        timeout: 100_000,
      },
    );
    const result = JSON.parse(run.stdout) as { out: string; code: number };
    expect(result.out).toContain('password:');
    expect(result.out).toContain('weft: cancelled');
    expect(result.code).toBe(130);
    expect(existsSync(`${store}.lock`)).toBe(false);
  }, 120_000);
});
