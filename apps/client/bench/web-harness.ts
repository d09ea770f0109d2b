/**
 * Drives the web UI as a person does, for the test (`test/web-ui.test.ts`), the benchmark
 * (`bench/web-first-screen.ts`) and the README screenshot (`scripts/screenshot.ts`): `weft web`
 * runs as its own process (the real command, through `bin/weft.js`), and Debian's Chromium runs
 * headless through playwright-core (no downloaded browser).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { type Browser, chromium, type Page } from 'playwright-core';

const BIN = join(import.meta.dirname, '../bin/weft.js');

/** Debian's Chromium (`apt-get install chromium`); `WEFT_CHROMIUM` may point elsewhere. */
export const CHROMIUM = process.env['WEFT_CHROMIUM'] ?? '/usr/bin/chromium';

/** Launches headless Chromium, or fails saying how to install it (never skips). */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium ` +
        '(apt-get install -y chromium, or WEFT_PEERS=1 scripts/provision.sh)',
    );
  }
  // --no-sandbox: the test machines run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

export interface WeftWeb {
  /** The URL `weft web` printed (it carries the launch token). */
  readonly launchUrl: string;
  /** Its origin, e.g. `http://127.0.0.1:40123`. */
  readonly origin: string;
  readonly process: ChildProcess;
  /** Sends SIGTERM and waits for the process to exit; returns its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `weft --store <file> --homeserver <url> web --listen 127.0.0.1:0`; reads its URL. */
export async function startWeftWeb(
  storePath: string,
  homeserver: string | undefined,
  passphrase: string,
): Promise<WeftWeb> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      '--store',
      storePath,
      ...(homeserver === undefined ? [] : ['--homeserver', homeserver]),
      'web',
      '--listen',
      '127.0.0.1:0',
    ],
    {
      env: { ...process.env, WEFT_PASSPHRASE: passphrase },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const launchUrl = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /weft web: open (\S+)/.exec(output);
      if (match?.[1] !== undefined) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then((code) => reject(new Error(`weft web exited (${code}):\n${output}`)));
  });
  return {
    launchUrl,
    origin: new URL(launchUrl).origin,
    process: child,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Fills in and submits the login form; resolves when the room list is on screen. */
export async function submitLogin(
  page: Page,
  homeserver: string,
  user: string,
  password: string,
  action: 'Log in' | 'Register' = 'Log in',
): Promise<void> {
  await page.getByLabel('Homeserver').fill(homeserver);
  await page.getByLabel('User').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: action, exact: true }).click();
}

/** The room list, the timeline and the member list as locators. */
export function regions(page: Page) {
  return {
    rooms: page.getByRole('list', { name: 'Rooms' }),
    timeline: page.getByRole('list', { name: 'Timeline' }),
    members: page.getByRole('list', { name: 'Members' }),
  };
}
