/**
 * matrix-nio (Debian's python3-matrix-nio, run by /usr/bin/python3) against a weft-server
 * process: issue 5's client story in test/python/nio_story.py — register two users, create a
 * room, invite, join, exchange 100 messages both see through sync in order, paginate backwards
 * with room_messages, typing, receipts and read markers, a displayname change, a leave. nio
 * speaks the legacy r0 paths with the access_token query parameter and rejects responses that
 * fail its own schemas, so this also proves the r0 aliases and query-token auth.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { requirePythonModule, runPython } from '@weft/interop';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type SpawnedServer, spawnServer } from './spawn.ts';

const MESSAGES = 100;
const SCRIPT = readFileSync(resolve(import.meta.dirname, 'python/nio_story.py'), 'utf8');

interface StoryResult {
  alice_user_id: string;
  bob_user_id: string;
  alice_device_id: string;
  room_id: string;
  bob_saw_invite?: boolean;
  sent_event_ids: string[];
  alice_sync_bodies: string[];
  bob_sync_bodies: string[];
  back_bodies: string[];
  back_pages: number;
  typing_users: string[];
  receipts: { event_id: string; user_id: string; receipt_type: string }[];
  profile_displayname: string | null;
  alice_member_content: Record<string, unknown>;
  bob_membership_at_alice: string;
  joined_after_leave: string[];
}

let server: SpawnedServer;
let story: StoryResult;

beforeAll(async () => {
  requirePythonModule('nio', 'python3-matrix-nio');
  server = await spawnServer({ serverName: 'nio.test' });
  story = runPython<StoryResult>(SCRIPT, {
    url: server.url,
    server_name: 'nio.test',
    messages: MESSAGES,
  });
});

afterAll(async () => {
  await server?.stop();
});

const expected = Array.from({ length: MESSAGES }, (_, i) => `message ${i}`);

describe('matrix-nio completes the client story against weft-server', () => {
  it('registers two users (UIA dummy stage) and gets devices', () => {
    expect(story.alice_user_id).toBe('@alice:nio.test');
    expect(story.bob_user_id).toBe('@bob:nio.test');
    expect(story.alice_device_id).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('creates a room and the invite reaches the invitee through sync', () => {
    expect(story.room_id).toMatch(/^!.+:nio\.test$/);
    expect(story.bob_saw_invite).toBe(true);
  });

  it('sends 100 messages that both users see through sync, in order', () => {
    expect(new Set(story.sent_event_ids).size).toBe(MESSAGES);
    expect(story.alice_sync_bodies).toEqual(expected);
    expect(story.bob_sync_bodies).toEqual(expected);
  });

  it('paginates history backwards over several pages', () => {
    expect(story.back_bodies).toEqual([...expected].reverse());
    expect(story.back_pages).toBeGreaterThan(3);
  });

  it('typing arrives', () => {
    expect(story.typing_users).toEqual([story.bob_user_id]);
  });

  it('receipts arrive (read markers, then an explicit m.read receipt)', () => {
    const bobs = story.receipts.filter((r) => r.user_id === story.bob_user_id);
    expect(bobs.length).toBeGreaterThan(0);
    expect(bobs.every((r) => r.receipt_type === 'm.read')).toBe(true);
    const ids = bobs.map((r) => r.event_id);
    expect(ids.some((id) => story.sent_event_ids.slice(-2).includes(id))).toBe(true);
  });

  it('a displayname change shows in the profile and in the room', () => {
    expect(story.profile_displayname).toBe('Alice N.');
    expect(story.alice_member_content).toMatchObject({
      membership: 'join',
      displayname: 'Alice N.',
    });
  });

  it('one leaves and the other sees it', () => {
    expect(story.bob_membership_at_alice).toBe('leave');
    expect(story.joined_after_leave).toEqual([story.alice_user_id]);
  });
});
