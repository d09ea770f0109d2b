/**
 * The endpoint a transaction ID belongs to (spec client-server-api "Transaction identifiers":
 * a transaction ID is scoped to one device and one HTTP endpoint, and requests to different
 * paths — another room, event type or redacted event — are different requests, never a retry).
 * `event_txn_ids` keys its rows by (user, device, transaction ID, scope); the scope is the
 * endpoint's kind and its path parameters, JSON-encoded so no separator can be ambiguous.
 */

/** `PUT /rooms/{roomId}/send/{eventType}/{txnId}`. */
export function sendTxnScope(roomId: string, eventType: string): string {
  return JSON.stringify(['send', roomId, eventType]);
}

/** `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`. */
export function redactTxnScope(roomId: string, eventId: string): string {
  return JSON.stringify(['redact', roomId, eventId]);
}
