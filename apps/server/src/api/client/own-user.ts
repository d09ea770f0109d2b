/**
 * The check shared by `/user/{userId}/…` endpoints (and `/admin/whois/{userId}`): a user may only
 * touch their own data.
 */
import { MatrixError } from '@weft/transport';

import { parseUserId } from './room-params.ts';

function forbidUnlessOwn(userId: string, callerUserId: string, message: string): void {
  if (userId !== callerUserId) throw MatrixError.forbidden(message);
}

/** 403 `M_FORBIDDEN` unless the path's user ID is the caller's own. */
export function requireOwnUser(pathUserId: string, callerUserId: string, what: string): void {
  forbidUnlessOwn(pathUserId, callerUserId, `Cannot access ${what} of other users`);
}

/**
 * The path's user ID once it is the caller's own: 400 `M_INVALID_PARAM` first when it is not a
 * user ID at all (as the spec's other `/admin/…/{userId}` endpoints answer a bad one; openid and
 * whois list no error), then 403 `M_FORBIDDEN` with `forbidden` when it is someone else's.
 */
export function requireOwnUserId(
  pathUserId: string,
  callerUserId: string,
  forbidden: string,
): string {
  const userId = parseUserId(pathUserId, 'userId');
  forbidUnlessOwn(userId, callerUserId, forbidden);
  return userId;
}
