/**
 * `npm run demo`: two federated Weft homeservers on loopback (real TLS between them, with a
 * throwaway CA), three users — alice and bob on a.test, carol on b.test — in an `epoch` room.
 * They chat, alice kicks bob, the chat goes on, and every client then tries to decrypt every
 * message; the table shows who can read what and why not. Everything runs in this process and
 * is removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startFederation } from '../../server/test/federation-harness.ts';
import {
  type Actor,
  type Attempt,
  decryptAttempts,
  playScenario,
  rawEvents,
  registerActors,
  type ScenarioStep,
  type ScenarioUser,
  type SentMessage,
} from './demo-scenario.ts';

/** The demo's users, in table column order; the first creates the room. */
export const DEMO_USERS: readonly ScenarioUser[] = [
  { name: 'alice', server: 'a.test' },
  { name: 'bob', server: 'a.test' },
  { name: 'carol', server: 'b.test' },
];

/** The demo's room life (an `epoch` room). */
export const DEMO_STEPS: readonly ScenarioStep[] = [
  { kind: 'join', user: 'bob' },
  { kind: 'join', user: 'carol' },
  { kind: 'say', user: 'alice', text: 'Welcome! This room is end-to-end encrypted (epoch).' },
  { kind: 'say', user: 'carol', text: 'Hello from the other server.' },
  { kind: 'say', user: 'bob', text: 'Hi both, bob here.' },
  { kind: 'kick', user: 'bob' },
  { kind: 'say', user: 'alice', text: 'Bob has left; we are on a new key now.' },
  { kind: 'say', user: 'carol', text: 'So bob cannot read this.' },
];

const PASSPHRASE = 'demo passphrase';

/** The readable table: one row per message, one column per user. */
export function formatTable(
  users: readonly ScenarioUser[],
  messages: readonly SentMessage[],
  rows: readonly Attempt[][],
): string {
  const cell = (a: Attempt): string =>
    a.via === 'key' ? 'yes' : a.via === 'archive' ? 'yes (own copy)' : `no: ${a.code}`;
  const header = ['#', 'sender', 'message', ...users.map((u) => u.name)];
  const body = messages.map((m, i) => [
    String(i + 1),
    m.sender,
    m.text,
    ...(rows[i] ?? []).map(cell),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    `| ${r.map((v, c) => v.padEnd(widths[c] ?? 0)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const reasons = rows.flatMap((row, i) =>
    row
      .filter((a) => a.via === undefined)
      .map((a) => `  ${a.reader}, message ${i + 1}: ${a.reason}`),
  );
  return [line(header), rule, ...body.map(line), '', 'Why not:', ...reasons].join('\n');
}

async function main(): Promise<void> {
  const servers = [...new Set(DEMO_USERS.map((u) => u.server))];
  console.log(`Starting ${servers.join(' and ')} (federation over TLS, loopback only)…`);
  const federation = await startFederation(servers);
  const clientsDir = mkdtempSync(join(tmpdir(), 'weft-demo-'));
  let actors: Actor[] = [];
  try {
    const urls = Object.fromEntries(servers.map((s) => [s, federation.server(s).url]));
    actors = await registerActors(DEMO_USERS, urls, clientsDir, PASSPHRASE);
    for (const a of actors) console.log(`  ${a.client.userId} (device ${a.client.deviceId})`);
    console.log('Playing the room: alice invites bob and carol, they chat, alice kicks bob…');
    const { roomId, messages } = await playScenario(actors, 'epoch', DEMO_STEPS);
    console.log(`Room ${roomId} (policy epoch). Every client now tries every message:\n`);
    const rows = await decryptAttempts(
      actors,
      roomId,
      messages,
      rawEvents(actors, roomId, messages),
    );
    console.log(formatTable(DEMO_USERS, messages, rows));
  } finally {
    for (const a of actors) await a.client.close();
    await federation.close();
    rmSync(clientsDir, { recursive: true, force: true });
    rmSync(federation.ca.dir, { recursive: true, force: true });
    for (const m of federation.members.values())
      rmSync(m.dataDir, { recursive: true, force: true });
  }
  console.log('\nServers stopped; temporary files removed.');
}

if (import.meta.main) await main();
