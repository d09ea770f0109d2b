/**
 * X-Matrix request authentication (server-server API, "Request Authentication",
 * https://spec.matrix.org/v1.19/server-server-api/#request-authentication).
 *
 * Signing (sender): 1. wrap method, target URI, origin, destination and the parsed body in a JSON
 * object ({@link buildRequestJson}); 2. sign it with the server's Ed25519 key by the JSON signing
 * algorithm (@weft/signing `signJson`); 3. put the signature in an `Authorization: X-Matrix …`
 * header ({@link signRequest}).
 *
 * Verifying (receiver, {@link verifyRequest}): parse the header; deny a `destination` that is not
 * us (401, as the spec requires); rebuild the same JSON from the request as received, with
 * `destination` = our own name; look up the origin's key; check the signature.
 */
import {
  decodePublicKey,
  type JsonObject,
  type SigningKey,
  signJson,
  verifyJson,
} from '@weft/signing';

import { TransportError } from './errors.ts';
import { MatrixError } from './matrix-error.ts';
import { formatXMatrixHeader, parseXMatrixHeader, type XMatrixParams } from './x-matrix-header.ts';

// Appendices, "Server Name": hostname [ ":" port ], hostname = IPv4 / "[" IPv6 "]" / dns-name
// (IPv4 literals are dns-names syntactically). https://spec.matrix.org/v1.19/appendices/#server-name
const SERVER_NAME = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[0-9A-Za-z.-]{1,255})(?::[0-9]{1,5})?$/;

/** What a request signature covers. */
export interface XMatrixRequest {
  /** HTTP method, upper case (`GET`, `PUT`…). */
  readonly method: string;
  /**
   * The request target: path from `/_matrix/…` with `?` and the query string if any, as sent;
   * no scheme, no host.
   */
  readonly uri: string;
  /** Server name of the sender (before any delegation). */
  readonly origin: string;
  /** Server name of the receiver (before any delegation). */
  readonly destination: string;
  /** The parsed JSON request body; `undefined` when the request has none. */
  readonly content?: unknown;
}

/** The JSON object that is signed (step 1), `content` only when there is a body. */
export function buildRequestJson(request: XMatrixRequest): JsonObject {
  const json: Record<string, unknown> = {
    method: request.method,
    uri: request.uri,
    origin: request.origin,
    destination: request.destination,
  };
  if (request.content !== undefined) json['content'] = request.content;
  return json;
}

/**
 * Signs `request` with `signingKey` and returns the `Authorization` header value (steps 1–2):
 * `X-Matrix origin="…",destination="…",key="ed25519:…",sig="…"`.
 */
export function signRequest(request: XMatrixRequest, signingKey: SigningKey): string {
  for (const field of ['method', 'uri', 'origin', 'destination'] as const) {
    if (typeof request[field] !== 'string' || request[field] === '') {
      throw new TypeError(`X-Matrix request ${field} must be a non-empty string`);
    }
  }
  const signed = signJson(buildRequestJson(request), request.origin, signingKey.keyId, signingKey);
  const sig = signed.signatures[request.origin]?.[signingKey.keyId];
  if (sig === undefined) throw new TransportError('bad-request', 'signing produced no signature');
  return formatXMatrixHeader({
    origin: request.origin,
    destination: request.destination,
    key: signingKey.keyId,
    sig,
  });
}

/**
 * Finds the public key `keyId` of `serverName` (from its `/_matrix/key/v2/server` response or a
 * notary). Returns the 32 bytes or unpadded Base64, or `undefined` if the key is unknown or
 * expired.
 */
export type ServerKeyLookup = (
  serverName: string,
  keyId: string,
) => Promise<Uint8Array | string | undefined> | Uint8Array | string | undefined;

/** Why {@link verifyRequest} refused a request. */
export type XMatrixFailure =
  /** No `Authorization` header, or one with another scheme. */
  | 'missing-header'
  /** An X-Matrix header that does not parse. */
  | 'bad-header'
  /** The header names a `destination` that is not this server. */
  | 'wrong-destination'
  /** The key lookup knows no such key for the origin. */
  | 'unknown-key'
  /** The signature does not verify (tampered method, URI, body, origin or destination). */
  | 'bad-signature';

/** Result of {@link verifyRequest}. */
export type XMatrixVerification =
  | { readonly valid: true; readonly origin: string; readonly keyId: string }
  | { readonly valid: false; readonly reason: XMatrixFailure; readonly origin?: string };

/** The received request, as {@link verifyRequest} needs it. */
export interface ReceivedRequest {
  /** HTTP method as received. */
  readonly method: string;
  /** Path and query string as received (`/_matrix/…?…`). */
  readonly uri: string;
  /** The `Authorization` header value, or `null`. */
  readonly authorization: string | null;
  /** Parsed JSON body, `undefined` when the request has no body. */
  readonly content?: unknown;
}

/**
 * Verifies an X-Matrix signed request for `serverName` (us). Never throws for a bad request:
 * the result says why it is invalid. A throwing key lookup propagates.
 */
export async function verifyRequest(
  request: ReceivedRequest,
  serverName: string,
  lookupKey: ServerKeyLookup,
): Promise<XMatrixVerification> {
  if (typeof serverName !== 'string' || serverName === '') {
    throw new TypeError('serverName must be a non-empty string');
  }
  if (request.authorization === null || !/^x-matrix(\s|$)/i.test(request.authorization)) {
    return { valid: false, reason: 'missing-header' };
  }
  let params: XMatrixParams;
  try {
    params = parseXMatrixHeader(request.authorization);
  } catch (error) {
    if (TransportError.isInstance(error)) return { valid: false, reason: 'bad-header' };
    throw error;
  }
  const { origin, key } = params;
  // The origin is handed to the key lookup, which may fetch keys from it: only a well-formed
  // server name goes further.
  if (!SERVER_NAME.test(origin)) return { valid: false, reason: 'bad-header' };
  // "If this property is included, but the value does not match the receiving server's name,
  // the receiving server must deny the request with an HTTP status code 401 Unauthorized."
  if (params.destination !== undefined && params.destination !== serverName) {
    return { valid: false, reason: 'wrong-destination', origin };
  }
  const found = await lookupKey(origin, key);
  if (found === undefined) return { valid: false, reason: 'unknown-key', origin };
  let publicKey: Uint8Array;
  try {
    publicKey = decodePublicKey(found);
  } catch {
    return { valid: false, reason: 'unknown-key', origin };
  }
  // The signed object as the sender must have built it; a missing destination header (older
  // senders) still means they signed for us.
  const signed = {
    ...buildRequestJson({
      method: request.method,
      uri: request.uri,
      origin,
      destination: serverName,
      content: request.content,
    }),
    signatures: { [origin]: { [key]: params.sig } },
  };
  let verified: boolean;
  try {
    verified = verifyJson(signed, origin, key, publicKey).valid;
  } catch {
    // Content that cannot be encoded canonically cannot carry a valid signature.
    verified = false;
  }
  return verified
    ? { valid: true, origin, keyId: key }
    : { valid: false, reason: 'bad-signature', origin };
}

const REFUSAL_MESSAGES: Readonly<Record<XMatrixFailure, string>> = {
  'missing-header': 'Missing X-Matrix authorization',
  'bad-header': 'Malformed X-Matrix authorization header',
  'wrong-destination': 'X-Matrix destination is not this server',
  'unknown-key': 'Unknown signing key',
  'bad-signature': 'Invalid X-Matrix signature',
};

/**
 * The answer to a request {@link verifyRequest} refused: 401 `M_UNAUTHORIZED` ("The request was
 * not correctly authorised"; the spec names 401 for a wrong destination).
 */
export function xMatrixRefusal(reason: XMatrixFailure): MatrixError {
  return MatrixError.unauthorized(REFUSAL_MESSAGES[reason]);
}
