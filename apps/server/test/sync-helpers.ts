/**
 * Helpers shared by the sync, typing, receipts, to-device and keys tests: users, rooms and
 * syncs over real HTTP through the harness's client.
 */
import { expect } from 'vitest';

import type { JsonResponse, TestServer } from './harness.ts';

export interface TestUser {
  readonly userId: string;
  readonly accessToken: string;
  readonly deviceId: string;
}

/** A JSON response body, read by path in assertions (a wrong path fails the assertion). */
// biome-ignore lint/suspicious/noExplicitAny: tests index response bodies by path.
export type Json = Record<string, any>;

/** Sends a request as `user`, expecting `status` (default 200), and returns the body. */
export async function call(
  server: TestServer,
  user: TestUser | undefined,
  method: string,
  path: string,
  body?: unknown,
  status = 200,
): Promise<Json> {
  const response: JsonResponse<Json> = await server.client.request(method, path, {
    ...(body !== undefined ? { body } : {}),
    ...(user !== undefined ? { token: user.accessToken } : {}),
  });
  if (response.status !== status) {
    throw new Error(
      `${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
  return response.body;
}

/** Logs in again as `user` (password of the harness) to get a second device. */
export async function loginDevice(
  server: TestServer,
  userId: string,
  deviceId: string,
): Promise<TestUser> {
  const body = await call(server, undefined, 'POST', '/_matrix/client/v3/login', {
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: userId },
    password: 'correct horse battery staple',
    device_id: deviceId,
  });
  return { userId, accessToken: body['access_token'], deviceId: body['device_id'] };
}

/** Creates a room (optionally inviting and joining `members`); returns its ID. */
export async function createRoom(
  server: TestServer,
  creator: TestUser,
  members: readonly TestUser[] = [],
  extra: Json = {},
): Promise<string> {
  const { room_id: roomId } = await call(server, creator, 'POST', '/_matrix/client/v3/createRoom', {
    preset: 'private_chat',
    ...extra,
  });
  for (const member of members) {
    await call(server, creator, 'POST', `/_matrix/client/v3/rooms/${roomId}/invite`, {
      user_id: member.userId,
    });
    await call(server, member, 'POST', `/_matrix/client/v3/join/${roomId}`, {});
  }
  return roomId;
}

let txn = 0;

/** Sends an `m.room.message`; returns its event ID. */
export async function sendText(
  server: TestServer,
  user: TestUser,
  roomId: string,
  body: string,
): Promise<string> {
  const result = await call(
    server,
    user,
    'PUT',
    `/_matrix/client/v3/rooms/${roomId}/send/m.room.message/t${++txn}`,
    { msgtype: 'm.text', body },
  );
  return result['event_id'];
}

/** `GET /sync` with the given query parameters. */
export async function sync(
  server: TestServer,
  user: TestUser,
  params: Record<string, string | number | boolean> = {},
  status = 200,
): Promise<Json> {
  const query = new URLSearchParams(
    Object.entries(params).map(([key, value]): [string, string] => [key, String(value)]),
  );
  const response = await server.client.request<Json>('GET', `/_matrix/client/v3/sync?${query}`, {
    token: user.accessToken,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  return response.body;
}

/** The text bodies of a room timeline's messages. */
export function messageBodies(timeline: Json | undefined): string[] {
  return ((timeline?.['events'] ?? []) as Json[])
    .filter((event) => event['type'] === 'm.room.message')
    .map((event) => event['content']['body']);
}
