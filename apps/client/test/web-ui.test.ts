/**
 * The web UI in a real browser: `weft web` as its own process, Debian's Chromium headless through
 * playwright-core, a real Weft server, and a second user (bob) driven by the SDK. Alice logs in
 * through the form, joins bob's encrypted room, sends a message bob decrypts, and reads bob's
 * decrypted reply; she creates a room with a policy, sees bob in its member list and an unread
 * marker when he writes; the page says when the homeserver is down, and stops once it is back. A
 * failing check here means a person would see the failure.
 */
import { join } from 'node:path';

import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestServer, type TestServer } from '../../server/test/harness.ts';
import {
  launchChromium,
  regions,
  startWeftWeb,
  submitLogin,
  type WeftWeb,
} from '../bench/web-harness.ts';
import type { WeftClient } from '../src/index.ts';
import { newClient, PASSPHRASE, readable, tempDir } from './helpers.ts';

let server: TestServer;
let web: WeftWeb;
let storePath: string;
let browser: Browser;
let bob: WeftClient;

beforeAll(async () => {
  // First, so a machine without Chromium fails at once, saying how to install it.
  browser = await launchChromium();
  server = await startTestServer();
  storePath = join(tempDir(), 'alice-web.db');
  web = await startWeftWeb(storePath, server.url, PASSPHRASE);
});
afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await bob?.close();
  await server?.stop();
});

/** Syncs `client` (long-polling one second at a time) until `done()` holds, at most 30 times. */
async function syncUntil(client: WeftClient, done: () => boolean): Promise<void> {
  for (let i = 0; i < 30 && !done(); i += 1) await client.syncOnce(1_000);
}

/** Clicks a room in the list (its button's name starts with the room name) and waits for it. */
async function openRoom(page: Page, name: string): Promise<void> {
  await regions(page)
    .rooms.getByRole('button', { name: new RegExp(`^${name}`) })
    .click();
  await page.getByRole('heading', { name, level: 2, exact: true }).waitFor();
}

describe('web UI', () => {
  it('logs in through the form and chats end-to-end encrypted with an SDK user', async () => {
    const dir = tempDir();
    // Alice's account exists (registered by another device); the browser logs in as a new one.
    const aliceSetup = await newClient(server.url, dir, 'alice-web');
    await aliceSetup.close();
    bob = await newClient(server.url, dir, 'bob-web');
    const alice = '@alice-web:test.local';

    const roomId = await bob.createRoom({ name: 'Plans', policy: 'epoch' });
    await bob.syncOnce(0);
    // Sent before alice is invited: an `epoch` room gives her no key for it.
    await bob.sendText(roomId, 'before your time');
    await bob.invite(roomId, alice);

    const page = await browser.newPage();
    await page.goto(web.launchUrl);
    // The launch token was traded for a cookie and is gone from the address bar.
    expect(new URL(page.url()).search).toBe('');
    await submitLogin(page, server.url, 'alice-web', 'password of alice-web');
    const { rooms, timeline, members } = regions(page);
    await page.getByText(alice, { exact: true }).waitFor();

    // The invite is listed with its policy badge; joining opens the composer.
    const plans = rooms.getByRole('button', { name: /Plans/ });
    await plans.waitFor();
    expect(await plans.textContent()).toContain('epoch');
    expect(await plans.textContent()).toContain('invited');
    await openRoom(page, 'Plans');
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    await page.getByRole('form', { name: 'Composer' }).waitFor();
    // Once the join has synced, the member list holds the whole room, not the invite's excerpt.
    await members.getByText('@bob-web:test.local').waitFor();
    expect(await members.textContent()).toContain(alice);

    // The message from before her invite is shown with the reason it cannot be read.
    const missing = timeline.locator('li.undecryptable');
    await missing.waitFor();
    expect(await missing.textContent()).toMatch(/can't decrypt: .*session/i);
    // Opening the room loaded its history; asking for more reaches the room's start.
    const older = page.getByRole('button', { name: 'Load older messages' });
    await older.click();
    await older.waitFor({ state: 'hidden' });
    expect(await timeline.locator('li.undecryptable').count()).toBe(1);

    // Alice sends; the echo settles as sent; bob decrypts it.
    await page.getByLabel('Message').fill('hello from the browser');
    await page.getByRole('button', { name: 'Send' }).click();
    const mine = timeline.locator('li.message', { hasText: 'hello from the browser' });
    await mine.waitFor();
    await timeline.getByText('(sending…)').waitFor({ state: 'detached' });
    await syncUntil(bob, () => readable(bob, roomId).includes('hello from the browser'));
    expect(readable(bob, roomId)).toContain('hello from the browser');

    // Bob's reply, with markup in it, arrives decrypted and shown as text.
    const reply = '<img src=x onerror="document.title=1"> reply from <b>bob</b>';
    await bob.sendText(roomId, reply);
    const shown = timeline.locator('li.message', { hasText: 'reply from' });
    await shown.waitFor();
    expect(await shown.locator('.body').textContent()).toBe(reply);
    expect(await timeline.locator('img, b').count()).toBe(0);
    expect(await page.title()).toBe('Weft');
    // Every message in the room was sent encrypted (bob's event, as the server stores it).
    const bobsEvent = bob.room(roomId).timeline.find((e) => e.content['body'] === reply);
    expect(bobsEvent?.encrypted).toBe(true);

    // A new room with a chosen policy: bob joins, then writes while alice looks elsewhere.
    await page.getByRole('button', { name: 'New room' }).click();
    const form = page.getByRole('form', { name: 'New room' });
    await form.getByLabel('Name').fill('Notes');
    await form.getByLabel('Policy').selectOption('forward-secret');
    await form.getByLabel('Invite').fill('@bob-web:test.local');
    await form.getByRole('button', { name: 'Create' }).click();
    const notes = rooms.getByRole('button', { name: /Notes/ });
    await page.getByRole('heading', { name: 'Notes', level: 2, exact: true }).waitFor();
    expect(await notes.textContent()).toContain('forward-secret');
    await members.getByText('@bob-web:test.local').waitFor();
    expect(await members.textContent()).toContain('(invited)');

    let notesId = '';
    await syncUntil(bob, () => {
      notesId = bob.rooms().find((r) => r.name === 'Notes')?.roomId ?? '';
      return notesId !== '';
    });
    await bob.join(notesId);
    await members.getByText('(invited)').waitFor({ state: 'detached' });
    await openRoom(page, 'Plans');
    await syncUntil(bob, () => bob.room(notesId).membership === 'join');
    await bob.sendText(notesId, 'ping');
    const unread = notes.getByLabel('1 unread');
    await unread.waitFor();
    await notes.click();
    await timeline.locator('li.message', { hasText: 'ping' }).waitFor();
    await unread.waitFor({ state: 'detached' });
    await page.close();
  });

  it('restarts logged in from its store; refuses a wrong passphrase and another homeserver', async () => {
    await web.stop();
    const wrong = await startWeftWeb(storePath, server.url, 'not the passphrase').then(
      () => 'started',
      (error: unknown) => String(error),
    );
    expect(wrong).toMatch(/wrong-passphrase/);
    // The store's session belongs to its homeserver: its token never goes to another one.
    const elsewhere = await startWeftWeb(storePath, 'http://127.0.0.1:9', PASSPHRASE).then(
      () => 'started',
      (error: unknown) => String(error),
    );
    expect(elsewhere).toMatch(/homeserver-mismatch/);
    // Without --homeserver the store's own homeserver is used.
    web = await startWeftWeb(storePath, undefined, PASSPHRASE);
    const page = await browser.newPage();
    await page.goto(web.launchUrl);
    const { rooms } = regions(page);
    await rooms.getByRole('button', { name: /^Plans/ }).waitFor();
    await rooms.getByRole('button', { name: /^Notes/ }).waitFor();
    expect(await page.getByRole('form', { name: 'Log in' }).isVisible()).toBe(false);
    await openRoom(page, 'Plans');
    await regions(page).timeline.getByText('hello from the browser').waitFor();
    await page.close();
  });

  it('says when the homeserver cannot be reached, and stops saying it once it is back', async () => {
    const page = await browser.newPage();
    await page.goto(web.launchUrl);
    await openRoom(page, 'Plans');
    const status = page.getByRole('status');
    expect(await status.textContent()).toBe('');

    // The homeserver goes away: the backend's sync fails and the page says so. It comes back
    // at the same address (the store's session names it), also for the tests after this one.
    const { dataDir, port } = server;
    await server.stop();
    const unreachable = status.getByText('Homeserver unreachable');
    try {
      await unreachable.waitFor();
    } finally {
      server = await startTestServer({ dataDir, port });
    }

    // Bob's message ends the backend's long poll: it sees a sync succeed without waiting 30 s.
    const plans = bob.rooms().find((room) => room.name === 'Plans')?.roomId ?? '';
    await bob.sendText(plans, 'back online');
    await regions(page).timeline.getByText('back online').waitFor();
    await unreachable.waitFor({ state: 'detached' });
    expect(await status.textContent()).toBe('');
    await page.close();
  });

  it('answers the login with every room, its name and its policy', async () => {
    const owner = await newClient(server.url, tempDir(), 'carol-web');
    await owner.createRoom({ name: 'One', policy: 'shared' });
    await owner.createRoom({ name: 'Two', policy: 'forward-secret' });
    await owner.createRoom({ name: 'Three', policy: null });
    await owner.close();
    const other = await startWeftWeb(join(tempDir(), 'carol.db'), server.url, PASSPHRASE);
    try {
      const granted = await fetch(other.launchUrl, { redirect: 'manual' });
      const cookie = (granted.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const res = await fetch(`${other.origin}/api/login`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json' },
        body: JSON.stringify({
          homeserver: server.url,
          user: 'carol-web',
          password: 'password of carol-web',
        }),
      });
      expect(res.status).toBe(200);
      const { rooms } = (await res.json()) as { rooms: Array<{ name: string; policy: string }> };
      expect(rooms.map((r) => [r.name, r.policy])).toEqual([
        ['One', 'shared'],
        ['Three', 'unencrypted'],
        ['Two', 'forward-secret'],
      ]);
    } finally {
      await other.stop();
    }
  });

  it('refuses API calls without the launch cookie, from other hosts and other origins', async () => {
    // No cookie: the page's own files load, the API does not.
    expect((await fetch(`${web.origin}/`)).status).toBe(200);
    const bare = await fetch(`${web.origin}/api/rooms`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({ errcode: 'M_FORBIDDEN' });
    // A wrong token is refused and sets no cookie.
    const wrong = await fetch(`${web.origin}/?token=guess`, { redirect: 'manual' });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // The right token sets an HttpOnly, SameSite=Strict cookie.
    const good = await fetch(web.launchUrl, { redirect: 'manual' });
    expect(good.status).toBe(303);
    const setCookie = good.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const cookie = setCookie.split(';')[0] ?? '';
    // Named for the port: another `weft web` on this host keeps its own cookie.
    expect(cookie).toMatch(new RegExp(`^weft_web_${new URL(web.origin).port}=`));
    const headers = { cookie, 'content-type': 'application/json' };
    expect((await fetch(`${web.origin}/api/session`, { headers })).status).toBe(200);
    // Another origin (CSRF) and a form-encoded body are refused before anything runs.
    const csrf = await fetch(`${web.origin}/api/logout`, {
      method: 'POST',
      headers: { ...headers, origin: 'http://evil.example' },
      body: '{}',
    });
    expect(csrf.status).toBe(403);
    const form = await fetch(`${web.origin}/api/logout`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=b',
    });
    expect(form.status).toBe(403);
    // A DNS-rebinding page reaches this port under its own host name.
    const { request } = await import('node:http');
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const url = new URL(`${web.origin}/api/session`);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          headers: { host: 'evil.example', cookie },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
    // Bad input gets a typed error, not a 5xx.
    const bad = await fetch(`${web.origin}/api/rooms`, {
      method: 'POST',
      headers,
      body: '{"policy":1}',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errcode: 'M_BAD_JSON' });
    const notJson = await fetch(`${web.origin}/api/rooms`, { method: 'POST', headers, body: '{' });
    expect(notJson.status).toBe(400);
  });
});
