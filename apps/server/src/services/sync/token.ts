/**
 * Sync tokens (`next_batch` / `since`): `s<position>_<typing>_<to-device>` — the stream position
 * everything durable was read up to, the typing serial seen (services/typing), and the ID of the
 * last to-device message delivered. The first part is a stream position, so the token also works
 * as a `/messages` `from` and a `/keys/changes` bound, and it survives restarts because the
 * stream lives in the database.
 */

/** A parsed sync token. */
export interface SyncToken {
  readonly position: number;
  readonly typing: number;
  readonly toDevice: number;
}

/** The text form of a sync token. */
export function formatSyncToken(token: SyncToken): string {
  return `s${token.position}_${token.typing}_${token.toDevice}`;
}

/**
 * Parses a sync token; `undefined` for anything else. A bare stream position (`t<N>` from
 * `/messages`, or a number) is accepted as a token with the other parts zero.
 */
export function parseSyncToken(text: string): SyncToken | undefined {
  const full = /^s(\d{1,15})_(\d{1,15})_(\d{1,15})$/.exec(text);
  if (full !== null) {
    return { position: Number(full[1]), typing: Number(full[2]), toDevice: Number(full[3]) };
  }
  const bare = /^[st]?(\d{1,15})$/.exec(text);
  if (bare !== null) return { position: Number(bare[1]), typing: 0, toDevice: 0 };
  return undefined;
}
