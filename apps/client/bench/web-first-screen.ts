/**
 * Time to first screen of the web UI (issue 7 target: room list on screen < 1 s after login for
 * 100 rooms). A user in 100 encrypted rooms logs in through the form in headless Chromium; the
 * page itself records the time from the form's submit event to the frame after the room list
 * holds 100 rooms. That span covers `/login`, the device-key upload, the `weft web` backend's
 * first `/sync` of 100 rooms up to the point where every room's state is applied (the login
 * answer carries the room list then; timelines, decryption and storing finish behind it) and
 * rendering.
 *
 * Peer in the same run: the SDK alone doing login + a whole first sync (no UI). Each run is a fresh device and store. The homeserver and the `weft web`
 * backend run in this process, so the CPU time printed is theirs (the browser's is not counted).
 *
 * `node --conditions=weft-source apps/client/bench/web-first-screen.ts` (ROOMS, RUNS env vars).
 */
import { join } from 'node:path';

import { startTestServer } from '../../server/test/harness.ts';
import { WeftClient } from '../src/index.ts';
import { startWebServer } from '../src/web/server.ts';
import { newClient, PASSPHRASE, tempDir } from '../test/helpers.ts';
import { launchChromium, submitLogin } from './web-harness.ts';

const ROOMS = Number(process.env['ROOMS'] ?? 100);
const RUNS = Number(process.env['RUNS'] ?? 5);
const USER = 'hundred-rooms';
const PASSWORD = `password of ${USER}`;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? NaN;
const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

const server = await startTestServer();
const owner = await newClient(server.url, tempDir(), USER);
for (let i = 0; i < ROOMS; i += 1) {
  await owner.createRoom({ name: `Room ${String(i).padStart(3, '0')}`, policy: 'epoch' });
}
await owner.close();

const browser = await launchChromium();
const webMs: number[] = [];
const webCpu: number[] = [];
const sdkMs: number[] = [];
const sdkCpu: number[] = [];
for (let run = 0; run < RUNS; run += 1) {
  // The web UI: form submit → 100 rooms listed, timed by the page.
  const web = await startWebServer({
    storePath: join(tempDir(), 'web.db'),
    homeserver: server.url,
    passphrase: PASSPHRASE,
  });
  const page = await browser.newPage();
  await page.goto(web.launchUrl);
  // Runs in the page (a string: this file is typechecked without the DOM library).
  await page.evaluate(`{
    document.getElementById('login').addEventListener('submit', () => {
      window.weftSubmit = performance.now();
    });
    const list = document.getElementById('rooms');
    new MutationObserver((_, observer) => {
      if (list.children.length < ${ROOMS}) return;
      observer.disconnect();
      requestAnimationFrame(() => { window.weftListed = performance.now(); });
    }).observe(list, { childList: true });
  }`);
  const cpuStart = process.cpuUsage();
  await submitLogin(page, server.url, USER, PASSWORD);
  await page.waitForFunction(
    () => (globalThis as { weftListed?: number }).weftListed !== undefined,
    undefined,
    { timeout: 120_000 },
  );
  webCpu.push(cpuMs(cpuStart));
  webMs.push(Number(await page.evaluate('window.weftListed - window.weftSubmit')));
  // Where the time went: the page's own record of its API requests.
  const phases = JSON.parse(
    String(
      await page.evaluate(`JSON.stringify(performance.getEntriesByType('resource')
        .filter((e) => e.name.includes('/api/'))
        .map((e) => [new URL(e.name).pathname, Math.round(e.startTime - window.weftSubmit), Math.round(e.duration)]))`),
    ),
  ) as Array<[string, number, number]>;
  console.log(
    `  run ${run + 1}: ${webMs.at(-1)?.toFixed(0)} ms; requests [path, start after submit, duration] ${JSON.stringify(phases)}`,
  );
  await page.close();
  await web.close();

  // The SDK alone: login and the first sync on an opened store (as `weft web` opens it at start).
  const client = WeftClient.open({
    homeserver: server.url,
    storePath: join(tempDir(), 'sdk.db'),
    passphrase: PASSPHRASE,
  });
  const sdkCpuStart = process.cpuUsage();
  const start = performance.now();
  await client.login(USER, PASSWORD);
  await client.syncOnce(0);
  sdkMs.push(performance.now() - start);
  sdkCpu.push(cpuMs(sdkCpuStart));
  if (client.rooms().length !== ROOMS) throw new Error(`SDK saw ${client.rooms().length} rooms`);
  await client.close();
}
await browser.close();
await server.stop();

const web = median(webMs);
const sdk = median(sdkMs);
console.log(`\nweb UI time to first screen, ${ROOMS} rooms, ${RUNS} runs (median; min–max)`);
console.log(
  `  web UI  submit → ${ROOMS} rooms on screen: ${web.toFixed(0)} ms ` +
    `(${Math.min(...webMs).toFixed(0)}–${Math.max(...webMs).toFixed(0)}); ` +
    `server + backend CPU ${median(webCpu).toFixed(0)} ms`,
);
console.log(
  `  SDK     login + first sync (no UI):     ${sdk.toFixed(0)} ms ` +
    `(${Math.min(...sdkMs).toFixed(0)}–${Math.max(...sdkMs).toFixed(0)}); ` +
    `CPU ${median(sdkCpu).toFixed(0)} ms`,
);
console.log(
  `  web UI / SDK: ${(web / sdk).toFixed(2)}×; target < 1000 ms: ${web < 1000 ? 'met' : 'NOT met'}`,
);
