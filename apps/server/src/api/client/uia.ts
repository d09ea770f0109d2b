/**
 * User-Interactive Authentication (client-server-api "User-Interactive Authentication API"):
 * a request without `auth` gets 401 with the flows it may complete and a session ID; the client
 * repeats it with `auth` filled in. Weft offers `m.login.dummy` for registration and
 * `m.login.password` for sensitive actions (deleting devices). Failed password stages are counted
 * per user across every UIA endpoint (UIA stages only: login has its own limiter, per user and
 * client address, login.ts), so a stolen access token cannot be used to guess the
 * password (spec "Rate limiting": 429 `M_LIMIT_EXCEEDED` with `retry_after_ms`).
 */
import { randomBytes } from 'node:crypto';

import { jsonResponse, MatrixError } from '@weft/transport';

/** Failed UIA password stages allowed per user within {@link UIA_FAILURE_WINDOW_MS}. */
export const UIA_MAX_FAILURES = 5;
/** The window, from a user's first counted failure, after which their count starts again. */
export const UIA_FAILURE_WINDOW_MS = 10 * 60_000;
/** Users whose failure windows are tracked at most (the oldest windows are dropped beyond). */
const MAX_TRACKED_USERS = 10_000;

/**
 * Counts failed UIA password stages per user in a fixed window from the first failure: after
 * `maxFailures` the user's UIA password stages are refused with 429 until the window ends. In
 * memory (one process per server); a success clears the user's count.
 */
export class UiaPasswordLimiter {
  readonly #windows = new Map<string, { failures: number; resetTs: number }>();
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #now: () => number;

  constructor(maxFailures = UIA_MAX_FAILURES, windowMs = UIA_FAILURE_WINDOW_MS, now = Date.now) {
    this.#maxFailures = maxFailures;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  /** Milliseconds until `userId` may try again, or `undefined` when they may try now. */
  retryAfterMs(userId: string): number | undefined {
    const window = this.#windows.get(userId);
    if (window === undefined) return undefined;
    const left = window.resetTs - this.#now();
    if (left <= 0) {
      this.#windows.delete(userId);
      return undefined;
    }
    return window.failures >= this.#maxFailures ? left : undefined;
  }

  recordFailure(userId: string): void {
    const now = this.#now();
    const window = this.#windows.get(userId);
    if (window !== undefined && window.resetTs > now) {
      window.failures += 1;
      return;
    }
    this.#windows.delete(userId);
    if (this.#windows.size >= MAX_TRACKED_USERS) {
      const oldest = this.#windows.keys().next();
      if (oldest.done !== true) this.#windows.delete(oldest.value);
    }
    this.#windows.set(userId, { failures: 1, resetTs: now + this.#windowMs });
  }

  recordSuccess(userId: string): void {
    this.#windows.delete(userId);
  }
}

/** Whatever checks passwords for UIA (the AccountService); one limiter is kept per checker. */
export interface PasswordChecker {
  checkPassword(userId: string, password: string): Promise<boolean>;
}

const limiters = new WeakMap<PasswordChecker, UiaPasswordLimiter>();

/** The failure limiter shared by every UIA endpoint of the server `accounts` belongs to. */
export function uiaPasswordLimiter(accounts: PasswordChecker): UiaPasswordLimiter {
  let limiter = limiters.get(accounts);
  if (limiter === undefined) {
    limiter = new UiaPasswordLimiter();
    limiters.set(accounts, limiter);
  }
  return limiter;
}

/** Answers a request that still needs UIA: 401 with the flows and a fresh session. */
export function uiaChallenge(
  stages: readonly string[],
  completed: readonly string[] = [],
): Response {
  return jsonResponse(
    {
      flows: [{ stages: [...stages] }],
      params: {},
      session: randomBytes(12).toString('base64url'),
      ...(completed.length > 0 ? { completed: [...completed] } : {}),
    },
    401,
  );
}

/** The `auth` object of a UIA request, or `undefined` when absent. */
export function uiaAuth(body: Record<string, unknown>): Record<string, unknown> | undefined {
  const auth = body['auth'];
  if (auth === undefined || auth === null) return undefined;
  if (typeof auth !== 'object' || Array.isArray(auth))
    throw MatrixError.badJson('auth must be an object');
  return auth as Record<string, unknown>;
}

/**
 * Spec "Password-based" UIA stage for sensitive actions: without `auth` → 401 challenge; with an
 * `m.login.password` stage naming the caller and their right password → `undefined` (go on); a
 * wrong password → 401 with `errcode` `M_FORBIDDEN` and the flows again, as the spec's
 * "User-interactive authentication API" describes for a failed stage. After
 * {@link UIA_MAX_FAILURES} failures of the user within the window (on any UIA endpoint), a
 * password stage is answered 429 `M_LIMIT_EXCEEDED` without checking it.
 */
export async function requirePassword(
  body: Record<string, unknown>,
  userId: string,
  accounts: PasswordChecker,
): Promise<Response | undefined> {
  const auth = uiaAuth(body);
  if (auth === undefined || auth['type'] !== 'm.login.password') {
    return uiaChallenge(['m.login.password']);
  }
  const limiter = uiaPasswordLimiter(accounts);
  const retryAfterMs = limiter.retryAfterMs(userId);
  if (retryAfterMs !== undefined) {
    throw MatrixError.limitExceeded(retryAfterMs, 'Too many failed password attempts');
  }
  const identifier = auth['identifier'];
  let named: unknown = auth['user'];
  if (typeof identifier === 'object' && identifier !== null) {
    named = (identifier as Record<string, unknown>)['user'];
  }
  const password = auth['password'];
  const localpart = userId.slice(1, userId.indexOf(':'));
  const sameUser = named === undefined || named === userId || named === localpart;
  if (
    typeof password === 'string' &&
    sameUser &&
    (await accounts.checkPassword(userId, password))
  ) {
    limiter.recordSuccess(userId);
    return undefined;
  }
  limiter.recordFailure(userId);
  return jsonResponse(
    {
      errcode: 'M_FORBIDDEN',
      error: 'Invalid password',
      flows: [{ stages: ['m.login.password'] }],
      params: {},
      ...(typeof auth['session'] === 'string' ? { session: auth['session'] } : {}),
    },
    401,
  );
}
