/**
 * A room's life played by real WeftClients on federated Weft servers, then a decrypt attempt by
 * every client on every message. Used by `npm run demo` (demo.ts) and by the federated
 * end-to-end tests, which check the result against @weft/epoch's oracle.
 *
 * The first user creates the room and does every invite and kick. Each step waits (by syncing)
 * until every client it concerns has seen its effect, because federation delivers events and
 * to-device keys asynchronously; a wait that does not end within `WAIT_MS` is an error.
 */
import { join } from 'node:path';

import type { PolicyMode } from '@weft/epoch';

import { type RawEvent, WeftClient } from '../src/index.ts';

/** One step of the scenario (the room's creator is the first user and is joined from the start). */
export type ScenarioStep =
  | { readonly kind: 'join'; readonly user: string }
  | { readonly kind: 'say'; readonly user: string; readonly text: string }
  | { readonly kind: 'kick'; readonly user: string };

/** A user of the scenario: a name and the server it registers on. */
export interface ScenarioUser {
  readonly name: string;
  readonly server: string;
}

/** A client in the scenario. */
export interface Actor extends ScenarioUser {
  client: WeftClient;
  readonly storePath: string;
  readonly homeserver: string;
}

/** A message sent during the scenario. */
export interface SentMessage {
  /** Index of its `say` step. */
  readonly step: number;
  readonly sender: string;
  readonly text: string;
  readonly eventId: string;
}

/** One client's decrypt attempt on one message. */
export interface Attempt {
  readonly reader: string;
  /** `key`, `archive` (own sealed plaintext, forward-secret rooms), or undefined when unreadable. */
  readonly via: 'key' | 'archive' | undefined;
  readonly body?: string;
  readonly code?: string;
  readonly reason?: string;
}

/** How long one wait for federation may take before the scenario fails. */
export const WAIT_MS = 60_000;

/** Syncs `client` (short long-polls) until `done()` holds. */
export async function syncUntil(
  client: WeftClient,
  done: () => boolean,
  what: string,
): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await client.syncOnce(250);
  }
}

function membershipOf(client: WeftClient, roomId: string, userId: string): string | undefined {
  const room = client.rooms().find((r) => r.roomId === roomId);
  return room?.members().find((m) => m.userId === userId)?.membership;
}

function knowsRoom(client: WeftClient, roomId: string): boolean {
  return client.rooms().some((r) => r.roomId === roomId);
}

/**
 * Registers every user on its server, each with its own store in `dir`; the account is the
 * user's name plus `suffix` (so several scenarios can share servers).
 */
export async function registerActors(
  users: readonly ScenarioUser[],
  urls: Readonly<Record<string, string>>,
  dir: string,
  passphrase: string,
  suffix = '',
): Promise<Actor[]> {
  const actors: Actor[] = [];
  for (const user of users) {
    const homeserver = urls[user.server];
    if (homeserver === undefined) throw new Error(`no server ${user.server}`);
    const storePath = join(dir, `${user.name}.db`);
    const client = WeftClient.open({ homeserver, storePath, passphrase });
    await client.register(`${user.name}${suffix}`, `password of ${user.name}`);
    actors.push({ ...user, client, storePath, homeserver });
  }
  return actors;
}

/** Plays `steps` in a new room of `mode` created by `actors[0]`. */
export async function playScenario(
  actors: readonly Actor[],
  mode: PolicyMode,
  steps: readonly ScenarioStep[],
): Promise<{ roomId: string; messages: SentMessage[] }> {
  const [creator] = actors;
  if (creator === undefined) throw new Error('no users');
  const actor = (name: string): Actor => {
    const found = actors.find((a) => a.name === name);
    if (found === undefined) throw new Error(`no user ${name}`);
    return found;
  };
  const roomId = await creator.client.createRoom({ name: `${mode} room`, policy: mode });
  const joined = new Set<Actor>([creator]);
  const messages: SentMessage[] = [];
  for (const [index, step] of steps.entries()) {
    const who = actor(step.user);
    const userId = who.client.userId;
    if (step.kind === 'join') {
      await creator.client.invite(roomId, userId);
      await syncUntil(
        who.client,
        () => knowsRoom(who.client, roomId),
        `${who.name} sees the invite`,
      );
      await who.client.join(roomId);
      joined.add(who);
      // Everyone in the room must know the new member before anyone encrypts for it.
      for (const a of joined) {
        await syncUntil(
          a.client,
          () => joined.size === countJoined(a.client, roomId, joined),
          `${a.name} sees every member joined`,
        );
      }
    } else if (step.kind === 'kick') {
      await creator.client.kick(roomId, userId);
      joined.delete(who);
      for (const a of [...joined, who]) {
        await syncUntil(
          a.client,
          () => membershipOf(a.client, roomId, userId) === 'leave',
          `${a.name} sees ${who.name} kicked`,
        );
      }
    } else {
      const echo = await who.client.sendText(roomId, step.text);
      const eventId = echo.eventId;
      if (eventId === undefined) throw new Error(`${who.name} could not send`);
      messages.push({ step: index, sender: who.name, text: step.text, eventId });
      // Every member at the time of sending is a recipient in every policy: wait until each has
      // the event and its key (to-device keys cross federation separately from the event).
      for (const a of joined) {
        if (a === who) continue;
        await syncUntil(
          a.client,
          () =>
            a.client
              .room(roomId)
              .timeline.some((e) => e.eventId === eventId && e.decryptionError === undefined),
          `${a.name} decrypts "${step.text}"`,
        );
      }
    }
  }
  return { roomId, messages };
}

function countJoined(client: WeftClient, roomId: string, expected: ReadonlySet<Actor>): number {
  let count = 0;
  for (const a of expected)
    if (membershipOf(client, roomId, a.client.userId) === 'join') count += 1;
  return count;
}

/** The raw (encrypted) event of each message, as some client received it through sync. */
export function rawEvents(
  actors: readonly Actor[],
  roomId: string,
  messages: readonly SentMessage[],
): Map<string, RawEvent> {
  const raws = new Map<string, RawEvent>();
  for (const a of actors) {
    const room = a.client.rooms().find((r) => r.roomId === roomId);
    for (const e of room?.timeline ?? [])
      if (e.eventId !== undefined && e.raw !== undefined) raws.set(e.eventId, e.raw);
  }
  for (const m of messages)
    if (!raws.has(m.eventId)) throw new Error(`no client received "${m.text}" through sync`);
  return raws;
}

/** Every client tries to decrypt every message: one row per message, one attempt per client. */
export async function decryptAttempts(
  actors: readonly Actor[],
  roomId: string,
  messages: readonly SentMessage[],
  raws: ReadonlyMap<string, RawEvent>,
): Promise<Attempt[][]> {
  const rows: Attempt[][] = [];
  for (const m of messages) {
    const raw = raws.get(m.eventId);
    if (raw === undefined) throw new Error(`no raw event for "${m.text}"`);
    const row: Attempt[] = [];
    for (const a of actors) {
      const event = await a.client.decryptEvent(roomId, raw);
      const failure = event.decryptionError;
      row.push(
        failure === undefined
          ? { reader: a.name, via: event.decryptedWith, body: String(event.content['body']) }
          : { reader: a.name, via: undefined, code: failure.code, reason: failure.reason },
      );
    }
    rows.push(row);
  }
  return rows;
}

/** Closes every client and opens it again from its store with the passphrase. */
export async function restartActors(actors: Actor[], passphrase: string): Promise<void> {
  for (const a of actors) {
    await a.client.close();
    a.client = WeftClient.open({ homeserver: a.homeserver, storePath: a.storePath, passphrase });
    if (!a.client.loggedIn) throw new Error(`${a.name} lost its session on restart`);
  }
}
