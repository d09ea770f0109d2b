/**
 * Makes `docs/web-ui.png`, the README's picture of the web UI, with the test tooling: a real Weft
 * server, `weft web`, bob on the SDK, and alice in headless Chromium. Run from apps/client:
 * `node --conditions=weft-source scripts/screenshot.ts`.
 */
import { join } from 'node:path';

import { startTestServer } from '../../server/test/harness.ts';
import { launchChromium, regions, startWeftWeb, submitLogin } from '../bench/web-harness.ts';
import { newClient, PASSPHRASE, readable, tempDir } from '../test/helpers.ts';

const OUT = join(import.meta.dirname, '../docs/web-ui.png');

const server = await startTestServer({ serverName: 'example.org' });
const dir = tempDir();
const bob = await newClient(server.url, dir, 'bob');
const carol = await newClient(server.url, dir, 'carol');
const web = await startWeftWeb(join(tempDir(), 'alice.db'), server.url, PASSPHRASE);
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 620 } });
  await page.goto(web.launchUrl);
  await submitLogin(page, server.url, 'alice', 'correct horse battery staple', 'Register');
  const { rooms, timeline } = regions(page);
  await page.getByRole('button', { name: 'New room' }).waitFor();
  const alice = '@alice:example.org';

  // An epoch room with history from before alice's time, then a conversation.
  const plans = await bob.createRoom({ name: 'Plans', policy: 'epoch', invite: [carol.userId] });
  await carol.syncOnce(0);
  await carol.join(plans);
  await bob.syncOnce(0);
  await bob.sendText(plans, 'draft budget (before alice joined)');
  await bob.invite(plans, alice);
  await bob.createRoom({ name: 'Release notes', policy: 'shared', invite: [alice] });
  await bob.createRoom({ name: 'Incident room', policy: 'forward-secret', invite: [alice] });
  const lobby = await carol.createRoom({ name: 'Lobby', policy: null, invite: [alice] });

  await rooms.getByRole('button', { name: /^Plans/ }).click();
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('form', { name: 'Composer' }).waitFor();
  await timeline.locator('li.undecryptable').waitFor();
  for (const c of [bob, carol]) {
    for (let i = 0; i < 30 && c.room(plans).members().length < 3; i += 1) await c.syncOnce(1_000);
  }
  await bob.sendText(plans, 'welcome, alice: the meeting is at noon');
  await timeline.getByText('the meeting is at noon').waitFor();
  await page.getByLabel('Message').fill('thanks, I will bring the numbers');
  await page.getByRole('button', { name: 'Send' }).click();
  await timeline.getByText('I will bring the numbers').waitFor();
  for (let i = 0; i < 30 && !readable(carol, plans).some((b) => b.includes('numbers')); i += 1)
    await carol.syncOnce(1_000);
  await carol.sendText(plans, 'see you there');
  await timeline.getByText('see you there').waitFor();

  // Something unread elsewhere: alice joins the lobby, goes back to Plans, carol writes.
  await rooms.getByRole('button', { name: /^Lobby/ }).click();
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('form', { name: 'Composer' }).waitFor();
  await regions(page).members.getByText(alice).waitFor();
  await rooms.getByRole('button', { name: /^Plans/ }).click();
  await timeline.getByText('see you there').waitFor();
  await carol.sendText(lobby, 'anyone up for lunch?');
  await carol.sendText(lobby, 'the usual place');
  await rooms.getByRole('button', { name: /^Lobby.*2 unread/ }).waitFor();
  await page.screenshot({ path: OUT });
  console.log(`wrote ${OUT}`);
} finally {
  await browser.close();
  await web.stop();
  await bob.close();
  await carol.close();
  await server.stop();
}
