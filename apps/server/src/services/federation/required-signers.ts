/**
 * The servers whose signatures a received PDU must carry. Spec server-server-api "Validating
 * hashes and signatures on received events"
 * (https://spec.matrix.org/v1.19/server-server-api/#validating-hashes-and-signatures-on-received-events):
 * "The event must be signed by the server of the sender … If the event is an `m.room.member`
 * event with `membership` `join` and a `join_authorised_via_users_server` content property, the
 * event must also be signed by the server of that user." This is the signature half of the
 * `restricted` join rule (authorization rules of room versions 8 and later, rule 5.2 with
 * 5.3.5.2): @weft/dag's rule-member.ts leaves it to the receiver, so every receipt path (`/send`,
 * `send_join`, a join's answer) must ask for it here. Kept free of the HTTP stack: verify
 * workers load it.
 */
import type { RoomVersionRules } from '@weft/dag';

function serverOf(userId: string): string | undefined {
  const colon = userId.indexOf(':');
  return colon < 0 ? undefined : userId.slice(colon + 1);
}

/**
 * The `join_authorised_via_users_server` user when `pdu` is a restricted join — an
 * `m.room.member` event with `membership` `join`, in a room version with restricted joins,
 * whose content names that user as a string with a server part (`…:server`, non-empty) —
 * else undefined. The one decision every path takes: which servers must sign a received event
 * ({@link requiredSigners}), whether a resident server countersigns a join on `send_join`
 * (restricted-join.ts `countersignRestrictedJoin`), and whether a joining server needs the
 * resident's signature from the `send_join` answer (remote-join.ts `requiresAuthoriser`).
 */
export function joinAuthorisedVia(
  pdu: Readonly<Record<string, unknown>>,
  rules: RoomVersionRules,
): string | undefined {
  if (!rules.authorization.restrictedJoinRule) return undefined;
  if (pdu['type'] !== 'm.room.member') return undefined;
  const content = pdu['content'];
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return undefined;
  const fields = content as Record<string, unknown>;
  if (fields['membership'] !== 'join') return undefined;
  const via = fields['join_authorised_via_users_server'];
  if (typeof via !== 'string') return undefined;
  // Malformed IDs: the format/auth checks reject them; no server is asked to sign for them.
  const authoriser = serverOf(via);
  return authoriser === undefined || authoriser === '' ? undefined : via;
}

/** The server of a restricted join's authorising user ({@link joinAuthorisedVia}), if any. */
export function joinAuthoriserServer(
  pdu: Readonly<Record<string, unknown>>,
  rules: RoomVersionRules,
): string | undefined {
  const via = joinAuthorisedVia(pdu, rules);
  return via === undefined ? undefined : serverOf(via);
}

/**
 * `requiredServers` for `verifyEvent`: undefined where the default (the sender's server, or a
 * third-party invite's signers) is right, else the sender's server plus the server of the
 * `join_authorised_via_users_server` user of a restricted join ({@link joinAuthorisedVia}).
 */
export function requiredSigners(
  pdu: Record<string, unknown>,
  rules: RoomVersionRules,
): string[] | undefined {
  const authoriser = joinAuthoriserServer(pdu, rules);
  if (authoriser === undefined) return undefined;
  const sender = typeof pdu['sender'] === 'string' ? serverOf(pdu['sender']) : undefined;
  // A malformed sender: the default (sender) check and the format/auth checks reject it.
  if (sender === undefined) return undefined;
  return sender === authoriser ? [sender] : [sender, authoriser];
}
