/**
 * Whether a user belongs to this server: the one test of "local user" the services share (push
 * recipients, unread counts, receipts, history visibility).
 */

/**
 * Whether `userId` (`@localpart:server`, spec appendices "User Identifiers") belongs to
 * `serverName`: its server part — everything after the first colon, as a localpart has none —
 * is exactly that name. (A bare `endsWith(':' + serverName)` would also take `@a:b:name`.)
 * Allocates nothing: it runs for every member of a room on every event.
 */
export function isLocalUser(userId: string, serverName: string): boolean {
  const colon = userId.indexOf(':');
  return (
    colon >= 0 && colon === userId.length - serverName.length - 1 && userId.endsWith(serverName)
  );
}
