/** The check shared by `/user/{userId}/…` endpoints: a user may only touch their own data. */
import { MatrixError } from '@weft/transport';

/** 403 `M_FORBIDDEN` unless the path's user ID is the caller's own. */
export function requireOwnUser(pathUserId: string, callerUserId: string, what: string): void {
  if (pathUserId !== callerUserId) {
    throw MatrixError.forbidden(`Cannot access ${what} of other users`);
  }
}
