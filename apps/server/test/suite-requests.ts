/**
 * The client requests a test suite's users make against the suite's server, each of which must
 * succeed: an answer with another status throws, naming the method, path, status and body. The
 * server is read through `server()` at each call, so a suite may start it in its `beforeAll`.
 */
import type { RegisteredUser, TestServer } from './harness.ts';

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

type Json = Record<string, unknown>;

export interface SuiteRequests {
  /** `method path` as `user` (`body` sent when given): its body, when its status is `status`. */
  ok(
    user: RegisteredUser,
    method: string,
    path: string,
    body?: unknown,
    status?: number,
  ): Promise<Json>;
  /** `ok` for a path under `/_matrix/client/v3`. */
  v3(user: RegisteredUser, method: string, path: string, body?: unknown): Promise<Json>;
  get(user: RegisteredUser, path: string, status?: number): Promise<Json>;
  post(user: RegisteredUser, path: string, body?: Json): Promise<Json>;
  /** Sends an event (`m.room.message` unless `type`) to `room`: its event ID. */
  send(user: RegisteredUser, room: string, content: Json, type?: string): Promise<string>;
  /** The next number of the suite's transaction IDs (`send` takes from the same count). */
  nextTxn(): number;
}

/** The requests of a suite against `server()`; `send` uses transaction IDs `${txnPrefix}${n}`. */
export function suiteRequests(server: () => TestServer, txnPrefix = 'txn'): SuiteRequests {
  let txn = 0;
  const nextTxn = (): number => {
    txn += 1;
    return txn;
  };
  const ok = async (
    user: RegisteredUser,
    method: string,
    path: string,
    body?: unknown,
    status = 200,
  ): Promise<Json> => {
    const response = await server().client.request<Json>(method, path, {
      token: user.accessToken,
      ...(body !== undefined ? { body } : {}),
    });
    if (response.status !== status) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return response.body;
  };
  return {
    ok,
    v3: (user, method, path, body) => ok(user, method, `${V3}${path}`, body),
    get: (user, path, status = 200) => ok(user, 'GET', path, undefined, status),
    post: (user, path, body = {}) => ok(user, 'POST', path, body),
    send: async (user, room, content, type = 'm.room.message') => {
      const path = `${V3}/rooms/${enc(room)}/send/${enc(type)}/${txnPrefix}${nextTxn()}`;
      return String((await ok(user, 'PUT', path, content))['event_id']);
    },
    nextTxn,
  };
}
